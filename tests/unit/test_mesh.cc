// The mesh key exchange between two clients, with the server's relaying done
// by hand: both sides derive the same pair keys, and replayed or forged key
// messages are rejected and counted.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <deque>
#include <fstream>
#include <map>
#include <sstream>

#include "mesh/mesh_client.h"

namespace lm {
namespace {

EVP_PKEY *ec_key() { return EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"); }

X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, bool ca) {
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), long(reinterpret_cast<uintptr_t>(key) & 0x7fffffff));
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char *>(cn), -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : X509_get_subject_name(x));
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, issuer ? issuer : x, x, nullptr, nullptr, 0);
    auto ext = [&](int nid, const char *v) {
        X509_EXTENSION *e = X509V3_EXT_conf_nid(nullptr, &v3, nid, v);
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    };
    ext(NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
    if (ca) ext(NID_key_usage, "critical,keyCertSign,cRLSign");
    else ext(NID_ext_key_usage, "clientAuth");
    X509_sign(x, issuer_key, EVP_sha256());
    return x;
}

std::vector<uint8_t> der(X509 *x) {
    int n = i2d_X509(x, nullptr);
    std::vector<uint8_t> v(static_cast<size_t>(n));
    unsigned char *p = v.data();
    i2d_X509(x, &p);
    return v;
}

struct Node {
    std::string name;
    EVP_PKEY *key = ec_key();
    X509 *cert = nullptr;
    SaTable sas;
    DataCounters counters;
    Dataplane dp{counters, sas, 0};
    KeyExport keys;
    Tunnel uplink;
    std::deque<std::pair<MsgType, std::vector<uint8_t>>> out;
    std::unique_ptr<MeshClient> mesh;
    std::string keyfile;

    Node(const std::string &n, X509 *ca, EVP_PKEY *ca_key, X509_STORE *store) : name(n) {
        cert = make_cert(n.c_str(), key, ca, ca_key, false);
        keyfile = "/tmp/lm-mesh-test-" + std::to_string(getpid()) + "-" + n;
        std::string err;
        keys.open(keyfile, &err);
        MeshClient::Env env{&dp, &sas, &keys, &uplink, &counters,
                            [this](MsgType t, const std::vector<uint8_t> &p) {
                                out.emplace_back(t, p);
                                return true;
                            },
                            nullptr};
        mesh = std::make_unique<MeshClient>(env);
        mesh->set_identity(n, key, store);
    }
    ~Node() {
        mesh.reset();
        unlink(keyfile.c_str());
        X509_free(cert);
        EVP_PKEY_free(key);
    }
    PeerInfo info_for(const Node &peer, uint64_t id) const {
        PeerInfo m;
        m.intro_id = id;
        m.name = peer.name;
        m.cert = der(peer.cert);
        m.addrs = {*IpAddr::parse(peer.name == "alice" ? "198.18.0.2" : "198.18.0.3")};
        m.candidates = {*Endpoint::parse("203.0.113.1:4500")};
        m.cipher = Cipher::chacha20poly1305;
        return m;
    }
    // The exported SAs: "0xSPI" -> key hex.
    std::map<std::string, std::string> exported() const {
        std::ifstream f(keyfile);
        std::map<std::string, std::string> m;
        std::string line;
        while (std::getline(f, line)) {
            if (line.empty() || line[0] == '#') continue;
            std::vector<std::string> cols;
            std::stringstream ss(line);
            std::string c;
            while (std::getline(ss, c, ',')) cols.push_back(c);
            if (cols.size() >= 6) m[cols[3]] = cols[5];
        }
        return m;
    }
};

// What the server does with a PeerKey: the receiver sees the sender's name.
std::vector<uint8_t> relay(const std::vector<uint8_t> &payload, const std::string &from) {
    PeerKey k;
    std::string err;
    EXPECT_TRUE(decode(payload, &k, &err)) << err;
    k.name = from;
    return encode(k);
}

class Mesh : public ::testing::Test {
protected:
    void SetUp() override {
        ca_key = ec_key();
        ca = make_cert("test CA", ca_key, nullptr, ca_key, true);
        store = X509_STORE_new();
        X509_STORE_add_cert(store, ca);
        alice = std::make_unique<Node>("alice", ca, ca_key, store);
        bob = std::make_unique<Node>("bob", ca, ca_key, store);
    }
    void TearDown() override {
        alice.reset();
        bob.reset();
        X509_STORE_free(store);
        X509_free(ca);
        EVP_PKEY_free(ca_key);
    }
    // Delivers everything queued, both ways, until quiet.  Returns the keys seen.
    std::vector<std::vector<uint8_t>> exchange() {
        std::vector<std::vector<uint8_t>> seen;
        for (int round = 0; round < 10 && (!alice->out.empty() || !bob->out.empty()); round++) {
            for (auto [from, to] : {std::pair{alice.get(), bob.get()}, std::pair{bob.get(), alice.get()}}) {
                while (!from->out.empty()) {
                    auto [t, p] = from->out.front();
                    from->out.pop_front();
                    if (t != MsgType::peer_key) continue;
                    auto r = relay(p, from->name);
                    seen.push_back(r);
                    PeerKey k;
                    std::string err;
                    decode(r, &k, &err);
                    to->mesh->on_peer_key(k);
                }
            }
        }
        return seen;
    }
    EVP_PKEY *ca_key = nullptr;
    X509 *ca = nullptr;
    X509_STORE *store = nullptr;
    std::unique_ptr<Node> alice, bob;
};

TEST_F(Mesh, BothSidesDeriveTheSameKeysAndRejectReplays) {
    alice->mesh->on_peer_info(alice->info_for(*bob, 42));
    bob->mesh->on_peer_info(bob->info_for(*alice, 42));
    auto seen = exchange();
    ASSERT_GE(seen.size(), 2u);
    EXPECT_EQ(alice->mesh->counters().keys_accepted, 1u);
    EXPECT_EQ(bob->mesh->counters().keys_accepted, 1u);
    EXPECT_EQ(alice->mesh->counters().keys_rejected + bob->mesh->counters().keys_rejected, 0u);

    // Each side's outbound key is the other side's inbound key, SPI for SPI.
    auto a = alice->exported(), b = bob->exported();
    ASSERT_EQ(a.size(), 2u);
    ASSERT_EQ(b.size(), 2u);
    for (auto &[spi, key] : a) {
        ASSERT_TRUE(b.count(spi)) << spi;
        EXPECT_EQ(b[spi], key) << spi;
    }

    // A key message seen before is replayed to bob: rejected, counted.
    PeerKey old;
    std::string err;
    ASSERT_TRUE(decode(seen.front(), &old, &err));
    uint64_t before = bob->mesh->counters().keys_rejected + alice->mesh->counters().keys_rejected;
    (old.name == "alice" ? bob : alice)->mesh->on_peer_key(old);
    EXPECT_EQ(bob->mesh->counters().keys_rejected + alice->mesh->counters().keys_rejected, before + 1);

    // A forged one (the public key swapped) fails its signature.
    PeerKey forged = old;
    forged.epoch = 2;
    forged.pub[0] ^= 1;
    Node *target = old.name == "alice" ? bob.get() : alice.get();
    uint64_t r0 = target->mesh->counters().keys_rejected;
    target->mesh->on_peer_key(forged);
    EXPECT_EQ(target->mesh->counters().keys_rejected, r0 + 1);
    EXPECT_EQ(target->exported().size(), 2u);   // nothing new installed
}

TEST_F(Mesh, IntroductionWithAForeignCertificateIsRefused) {
    EVP_PKEY *rogue_key = ec_key();
    X509 *rogue = make_cert("bob", rogue_key, nullptr, rogue_key, false);   // self-signed "bob"
    PeerInfo m = alice->info_for(*bob, 7);
    m.cert = der(rogue);
    alice->mesh->on_peer_info(m);
    EXPECT_EQ(alice->mesh->counters().certs_rejected, 1u);
    EXPECT_TRUE(alice->out.empty());   // no key sent to an impostor
    // A genuine certificate for another name is refused too.
    PeerInfo wrong = alice->info_for(*bob, 8);
    wrong.name = "carol";
    alice->mesh->on_peer_info(wrong);
    EXPECT_EQ(alice->mesh->counters().certs_rejected, 2u);
    X509_free(rogue);
    EVP_PKEY_free(rogue_key);
}

}  // namespace
}  // namespace lm
