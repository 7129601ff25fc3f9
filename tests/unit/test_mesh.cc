// SPDX-License-Identifier: MIT
// The mesh key exchange between two clients, with the server's relaying done
// by hand: both sides derive the same pair keys, and replayed or forged key
// messages are rejected and counted.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <tuple>

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

    // The first key message comes again while its epoch is current: the
    // sender did not get our answer, so it is answered again and nothing
    // else changes.
    PeerKey old;
    std::string err;
    ASSERT_TRUE(decode(seen.front(), &old, &err));
    ASSERT_FALSE(old.answer);
    Node *peer = old.name == "alice" ? bob.get() : alice.get();
    uint64_t accepted = peer->mesh->counters().keys_accepted;
    peer->mesh->on_peer_key(old);
    EXPECT_EQ(peer->mesh->counters().keys_accepted, accepted);
    ASSERT_EQ(peer->out.size(), 1u);
    peer->out.clear();

    // A new epoch (alice reconnected and was introduced again), then the
    // old key is replayed: rejected, counted.
    alice->mesh->on_reconnect();
    alice->mesh->on_peer_info(alice->info_for(*bob, 42));
    exchange();
    ASSERT_EQ(alice->exported().size(), 4u);
    uint64_t before = bob->mesh->counters().keys_rejected + alice->mesh->counters().keys_rejected;
    peer->mesh->on_peer_key(old);
    EXPECT_EQ(bob->mesh->counters().keys_rejected + alice->mesh->counters().keys_rejected, before + 1);

    // A forged one (the public key swapped) fails its signature.
    PeerKey forged = old;
    forged.epoch = 2;
    forged.pub[0] ^= 1;
    Node *target = old.name == "alice" ? bob.get() : alice.get();
    uint64_t r0 = target->mesh->counters().keys_rejected;
    target->mesh->on_peer_key(forged);
    EXPECT_EQ(target->mesh->counters().keys_rejected, r0 + 1);
    EXPECT_EQ(target->exported().size(), 4u);   // nothing new installed
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


// ---- Paths and keys over time: a fake clock, a fake wire and a fake server ----

int64_t g_ms = 0;
int64_t fake_ms() { return g_ms; }
time_t fake_wall() { return time_t(1700000000 + g_ms / 1000); }

struct Datagram {
    Endpoint from, to;
    std::vector<uint8_t> bytes;
    int ttl;
};

// Nodes on one wire: each has a public endpoint; datagrams between blocked
// endpoints vanish, openers (a small TTL) die on the way as between NATs.
// The "server" relays key messages (unless told to drop them) and answers a
// PeerRequest as the real one does when it still knows both endpoints.
class MeshPaths : public ::testing::Test {
protected:
    struct Peer {
        std::unique_ptr<Node> node;
        Endpoint ep;
        int rebinds = 0;
        std::vector<std::string> paths;   // "peer path" as reported
        std::vector<PeerRequest> requests;
    };
    void SetUp() override {
        g_ms = 1000000;
        ca_key = ec_key();
        ca = make_cert("test CA", ca_key, nullptr, ca_key, true);
        store = X509_STORE_new();
        X509_STORE_add_cert(store, ca);
        add("alice", "203.0.113.1:4500");
        add("bob", "203.0.113.65:4500");
        add("carol", "203.0.113.129:4500");
    }
    void TearDown() override {
        peers.clear();
        X509_STORE_free(store);
        X509_free(ca);
        EVP_PKEY_free(ca_key);
    }
    void add(const std::string &name, const char *ep) {
        auto &p = peers[name];
        p.ep = *Endpoint::parse(ep);
        p.node = std::make_unique<Node>(name, ca, ca_key, store);
        Node &n = *p.node;
        Peer *pp = &p;
        n.dp.add_udp(-1, AF_INET);
        MeshClient::Env env{&n.dp, &n.sas, &n.keys, &n.uplink, &n.counters,
                            [&n](MsgType t, const std::vector<uint8_t> &b) {
                                n.out.emplace_back(t, b);
                                return true;
                            },
                            [pp](const std::string &peer, const char *path, const std::string &) {
                                pp->paths.push_back(peer + " " + path);
                            },
                            [pp] {   // a new port: the old one hears nothing more
                                pp->rebinds++;
                                pp->ep.port = uint16_t(40000 + pp->rebinds);
                                return pp->ep.port;
                            },
                            [this, pp](int, const Endpoint &to, const uint8_t *b, size_t len, int ttl) {
                                wire.push_back({pp->ep, to, std::vector<uint8_t>(b, b + len), ttl});
                                sent.push_back({g_ms, wire.back()});
                            },
                            fake_ms, fake_wall};
        n.mesh = std::make_unique<MeshClient>(env);
        n.mesh->set_identity(name, n.key, store);
    }
    PeerInfo info(const std::string &about, uint64_t id) {
        PeerInfo m;
        m.intro_id = id;
        m.name = about;
        m.cert = der(peers[about].node->cert);
        m.addrs = {*IpAddr::parse(about == "alice" ? "198.18.0.2" : about == "bob" ? "198.18.0.3" : "198.18.0.4")};
        m.candidates = {peers[about].ep};
        m.cipher = Cipher::chacha20poly1305;
        return m;
    }
    void introduce(const std::string &a, const std::string &b, uint64_t id) {
        peers[a].node->mesh->on_peer_info(info(b, id));
        peers[b].node->mesh->on_peer_info(info(a, id));
    }
    bool blocked(const Endpoint &x) const {
        return std::find(cut.begin(), cut.end(), x) != cut.end();
    }
    // One round: control messages, then datagrams.
    void deliver() {
        for (auto &[name, p] : peers) {
            auto &out = p.node->out;
            while (!out.empty()) {
                auto [t, b] = out.front();
                out.pop_front();
                std::string err;
                if (t == MsgType::peer_key) {
                    PeerKey k;
                    ASSERT_TRUE(decode(b, &k, &err)) << err;
                    if (drop_keys || !peers.count(k.name)) continue;
                    std::string to = k.name;
                    k.name = name;
                    pending_keys.push_back({to, k});
                } else if (t == MsgType::peer_request) {
                    PeerRequest r;
                    ASSERT_TRUE(decode(b, &r, &err)) << err;
                    p.requests.push_back(r);
                }
            }
        }
        auto keys = std::move(pending_keys);
        pending_keys.clear();
        for (auto &[to, k] : keys) peers[to].node->mesh->on_peer_key(k);
        auto dgrams = std::move(wire);
        wire.clear();
        for (auto &d : dgrams) {
            if (d.ttl > 0 || blocked(d.from) || blocked(d.to)) continue;
            if (nat && !nat(d)) continue;
            for (auto &[name, p] : peers)
                if (p.ep == d.to) p.node->mesh->on_non_esp(d.bytes.data(), d.bytes.size(), d.from, 0);
        }
    }
    // Runs the clock for `ms` in steps of 50 ms, every node ticking.
    void run(int64_t ms) {
        for (int64_t t = 0; t < ms; t += 50) {
            g_ms += 50;
            for (auto &[from, to] : busy) tunnel(from, to).stats[0].last_tx = fake_wall();
            for (auto &[name, p] : peers) p.node->mesh->tick(g_ms);
            for (int i = 0; i < 3; i++) deliver();
        }
    }
    std::string field(const std::string &node, const std::string &peer, const char *key) {
        JsonWriter j;
        j.begin_array("pairs");
        peers[node].node->mesh->status(j);
        j.end_array();
        std::string s = j.str();
        size_t at = s.find("\"name\":\"" + peer + "\"");
        if (at == std::string::npos) return "";
        size_t k = s.find(std::string("\"") + key + "\":", at);
        if (k == std::string::npos) return "";
        k += strlen(key) + 3;
        if (s[k] == '"') return s.substr(k + 1, s.find('"', k + 1) - k - 1);   // no escapes in these
        return s.substr(k, s.find_first_of(",}", k) - k);
    }
    std::string path(const std::string &node, const std::string &peer) { return field(node, peer, "path"); }
    std::string reason(const std::string &node, const std::string &peer) { return field(node, peer, "punch_reason"); }
    int transitions(const std::string &node) { return int(peers[node].paths.size()); }
    Tunnel &tunnel(const std::string &node, const std::string &peer) {
        std::vector<PeerView> v;
        peers[node].node->mesh->collect_peers(v);
        for (auto &pv : v)
            if (pv.tunnel->name == peer) return const_cast<Tunnel &>(*pv.tunnel);
        ADD_FAILURE() << node << " has no pair with " << peer;
        static Tunnel none;
        return none;
    }

    EVP_PKEY *ca_key = nullptr;
    X509 *ca = nullptr;
    X509_STORE *store = nullptr;
    std::map<std::string, Peer> peers;
    std::vector<Datagram> wire;
    std::vector<std::pair<std::string, PeerKey>> pending_keys;
    std::vector<Endpoint> cut;
    std::vector<std::pair<std::string, std::string>> busy;   // pairs sending data
    bool drop_keys = false;
    // Every datagram sent, with the time; and a NAT between the wire and
    // the nodes: false drops a datagram, and it may rewrite addresses.
    std::vector<std::pair<int64_t, Datagram>> sent;
    std::function<bool(Datagram &)> nat;
};

// Issue 9, item 11: a direct pair idle for minutes, probed once per
// NatKeepalive, never leaves the direct path while its probes are answered,
// nor when traffic starts again after the pause; a path that stops
// answering is still declared lost within seconds.
TEST_F(MeshPaths, IdleDirectPathDoesNotFlap) {
    introduce("alice", "bob", 11);
    run(3000);
    ASSERT_EQ(path("alice", "bob"), "direct");
    ASSERT_EQ(path("bob", "alice"), "direct");
    int a0 = transitions("alice"), b0 = transitions("bob");
    run(80000);   // idle: three keepalive probes
    EXPECT_EQ(transitions("alice"), a0) << peers["alice"].paths.back();
    EXPECT_EQ(transitions("bob"), b0) << peers["bob"].paths.back();
    // The first packet after the pause.
    tunnel("alice", "bob").stats[0].last_tx = fake_wall();
    run(300);
    tunnel("alice", "bob").stats[0].last_tx = fake_wall();
    run(3000);
    EXPECT_EQ(transitions("alice"), a0) << peers["alice"].paths.back();
    EXPECT_EQ(path("alice", "bob"), "direct");
    // A path that stops answering is lost within seconds, even idle.
    cut.push_back(peers["bob"].ep);
    run(30000);
    EXPECT_EQ(path("alice", "bob"), "relay");
}

// Issue 9, item 9: a key the server did not pass on is sent again with
// backoff until the peer answers, and a peer that already took it answers
// the repeat.
TEST_F(MeshPaths, PendingKeyIsSentAgainUntilAnswered) {
    introduce("alice", "bob", 12);
    run(3000);
    ASSERT_EQ(field("alice", "bob", "epoch"), "1");
    for (auto &[n, p] : peers) p.node->mesh->set_limits({10, 1ull << 40, 1ull << 30, 5}, 25);
    drop_keys = true;   // as a server that restarted and refuses "not introduced"
    busy = {{"alice", "bob"}, {"bob", "alice"}};   // probed every second meanwhile
    int a0 = transitions("alice");
    run(12000);
    EXPECT_EQ(field("alice", "bob", "epoch"), "1");
    EXPECT_EQ(transitions("alice"), a0) << "the direct path was lost while a key was pending";
    drop_keys = false;
    run(70000);
    EXPECT_EQ(field("alice", "bob", "epoch"), field("bob", "alice", "epoch"));
    EXPECT_GE(std::stoi(field("alice", "bob", "epoch")), 2);
    EXPECT_EQ(path("alice", "bob"), "direct");
    EXPECT_GE(peers["alice"].node->mesh->counters().key_retries + peers["bob"].node->mesh->counters().key_retries, 1u);
}

// Issue 9, item 9: keys kept past twice their rekey limit (the peer never
// answered) tear the pair down; the node asks for a fresh introduction.
TEST_F(MeshPaths, KeysPastTheHardLimitRebuildThePair) {
    introduce("alice", "bob", 13);
    run(3000);
    for (auto &[n, p] : peers) p.node->mesh->set_limits({10, 1ull << 40, 1ull << 30, 5}, 25);
    drop_keys = true;
    run(25000);
    EXPECT_EQ(path("alice", "bob"), "") << "the pair outlived its hard limit";
    EXPECT_EQ(peers["alice"].node->mesh->counters().hard_limit_rebuilds, 1u);
    bool asked = false;
    for (auto &r : peers["alice"].requests) asked = asked || (r.name == "bob" && r.intro_id == 0);
    EXPECT_TRUE(asked) << "no request for a fresh introduction";
}

// Issue 9, item 9: the pairs go into the HELLO; after the reconnect, the
// re-introduction under the same id starts a new epoch at once.
TEST_F(MeshPaths, ReintroductionAfterReconnectRekeys) {
    introduce("alice", "bob", 14);
    run(3000);
    auto held = peers["alice"].node->mesh->held_pairs();
    ASSERT_EQ(held.size(), 1u);
    EXPECT_EQ(held[0], std::make_pair(std::string("bob"), uint64_t(14)));
    peers["alice"].node->mesh->on_reconnect();
    introduce("alice", "bob", 14);
    run(2000);
    EXPECT_EQ(field("alice", "bob", "epoch"), "2");
    EXPECT_EQ(field("bob", "alice", "epoch"), "2");
    EXPECT_EQ(path("alice", "bob"), "direct");
}

// Issue 9, item 8: bob's peer alice moves.  Bob's punching toward her fails
// until the server knows her new endpoint, but his pair with carol answers
// all along: his own mapping is fine, and his data socket stays where it is.
TEST_F(MeshPaths, PeerThatMovedDoesNotMoveOurSocket) {
    introduce("alice", "bob", 15);
    introduce("carol", "bob", 16);
    run(3000);
    ASSERT_EQ(path("bob", "alice"), "direct");
    ASSERT_EQ(path("bob", "carol"), "direct");
    int c0 = transitions("carol");
    busy = {{"bob", "alice"}, {"carol", "bob"}, {"bob", "carol"}};
    // alice moves: her old endpoint is gone, the server does not know the new one yet.
    cut.push_back(peers["alice"].ep);
    peers["alice"].ep = *Endpoint::parse("203.0.113.2:4500");
    for (int i = 0; i < 40; i++) {
        run(1000);
        // The server answers requests with what it knows: her old endpoint
        // for 20 s, then the new one.
        for (auto &[name, p] : peers) {
            for (auto &r : p.requests) {
                PeerInfo m = info(r.name, r.name == "carol" || name == "carol" ? 16 : 15);
                if (r.name == "alice" && i < 20) m.candidates = {*Endpoint::parse("203.0.113.1:4500")};
                p.node->mesh->on_peer_info(m);
                PeerInfo back = info(name, m.intro_id);
                peers[r.name].node->mesh->on_peer_info(back);
            }
            p.requests.clear();
        }
    }
    EXPECT_EQ(peers["bob"].rebinds, 0) << "bob moved his data socket because alice moved";
    EXPECT_EQ(transitions("carol"), c0) << "carol's path to bob was disturbed";
    EXPECT_EQ(path("bob", "carol"), "direct");
    EXPECT_EQ(path("bob", "alice"), "direct");
    EXPECT_EQ(field("bob", "alice", "endpoint"), "203.0.113.2:4500");
}

// Issue 10, item 3: the server saw bob's port as 4500, but his NAT gave him
// another one toward alice.  Alice learns it from bob's authenticated probe
// (a peer-reflexive candidate), answers and probes it, and goes direct
// there; peer show says where the endpoint came from.
TEST_F(MeshPaths, PeerReflexivePortLearntFromItsProbe) {
    peers["bob"].ep = *Endpoint::parse("203.0.113.65:43148");
    PeerInfo to_alice = info("bob", 21);
    to_alice.candidates = {*Endpoint::parse("203.0.113.65:4500")};
    peers["alice"].node->mesh->on_peer_info(to_alice);
    peers["bob"].node->mesh->on_peer_info(info("alice", 21));
    run(3000);
    ASSERT_EQ(path("alice", "bob"), "direct");
    EXPECT_EQ(path("bob", "alice"), "direct");
    EXPECT_EQ(field("alice", "bob", "endpoint"), "203.0.113.65:43148");
    JsonWriter j;
    j.begin_array("pairs");
    peers["alice"].node->mesh->status(j);
    j.end_array();
    EXPECT_NE(j.str().find("a port the peer's NAT chose toward us (learnt from its probe)"), std::string::npos) << j.str();
    j = JsonWriter();
    j.begin_array("pairs");
    peers["bob"].node->mesh->status(j);
    j.end_array();
    EXPECT_EQ(j.str().find("learnt from its probe"), std::string::npos) << j.str();
}

// Issue 10 (harder NATs): bob's NAT changes port per destination -- the
// server saw his 4500 as 40123, and toward alice it picks yet another port,
// which no candidate names.  Once a round has failed, alice probes random
// ports of bob's address, at most 100 a second; the one that lands on bob's
// mapping toward her (in real life one of his extra ports) is answered, and
// both go direct there.
TEST_F(MeshPaths, BirthdaySprayFindsTheRandomSidesPort) {
    const IpAddr bob_addr = *IpAddr::parse("203.0.113.65");
    PeerInfo to_alice = info("bob", 31);
    to_alice.candidates = {*Endpoint::parse("203.0.113.65:40123"), *Endpoint::parse("198.51.100.66:4500")};
    to_alice.flags = kPeerFlagNat;
    peers["alice"].node->mesh->on_peer_info(to_alice);
    peers["bob"].node->mesh->on_peer_info(info("alice", 31));
    int64_t t0 = g_ms;
    uint16_t lucky = 0;
    int random_probes = 0;
    int64_t hit_at = 0;
    nat = [&](Datagram &d) {
        if (d.from.addr == bob_addr) {   // his mapping toward alice, once it exists
            if (!lucky) return false;
            d.from.port = lucky;
            return true;
        }
        if (!(d.to.addr == bob_addr)) return true;
        if (d.to.port == 40123 || d.to.port == 4500) return false;   // his mapping toward the server
        if (!lucky && ++random_probes == 300) {   // the 300th lands
            lucky = d.to.port;
            hit_at = g_ms;
        }
        if (d.to.port != lucky) return false;
        d.to = peers["bob"].ep;
        return true;
    };
    run(30000);
    ASSERT_NE(lucky, 0) << "alice never probed random ports of bob's address";
    EXPECT_EQ(path("alice", "bob"), "direct");
    EXPECT_EQ(path("bob", "alice"), "direct");
    EXPECT_EQ(field("alice", "bob", "endpoint"), "203.0.113.65:" + std::to_string(lucky));
    EXPECT_NE(reason("alice", "bob").find("found by probing random ports"), std::string::npos)
        << reason("alice", "bob");
    // Paced, within the NAT's port range, and only after a failed round.
    // One nonce for the whole spray (its reply proves any of them).
    auto nonce = [](const Datagram &d) {
        uint64_t n = 0;
        if (d.bytes.size() == kProbeLen) std::memcpy(&n, d.bytes.data() + 13, 8);
        return n;
    };
    std::map<uint64_t, int> uses;
    for (auto &[t, d] : sent)
        if (d.to.addr == bob_addr) uses[nonce(d)]++;
    uint64_t spray = std::max_element(uses.begin(), uses.end(), [](auto &x, auto &y) { return x.second < y.second; })->first;
    std::vector<int64_t> at;
    for (auto &[t, d] : sent)
        if (d.to.addr == bob_addr && nonce(d) == spray) {
            at.push_back(t);
            EXPECT_GE(d.to.port, 1024);
        }
    ASSERT_GE(at.size(), 300u);
    EXPECT_GE(at.front() - t0, 5000) << "random ports probed before the ordinary round had failed";
    for (size_t i = 0, j = 0; i < at.size(); i++) {
        while (at[i] - at[j] >= 1000) j++;
        ASSERT_LE(i - j + 1, size_t(kSprayPerSecond)) << "more than 100 probes in a second: " << at[j] - t0 << ".." << at[i] - t0;
    }
    EXPECT_LE(at.back(), hit_at) << "the spray went on after the answer";
}

// Both NATs change port per destination: both sides spray (neither can know
// its own NAT), nobody's port is found, and each stops after
// kMaxBirthdaysPerEpisode sprays of kSprayProbes; the reason says why the
// relay carries.
TEST_F(MeshPaths, BirthdaySprayIsBoundedWhenBothNatsAreRandom) {
    for (auto [a, b, port] : {std::tuple{"alice", "bob", 40123}, std::tuple{"bob", "alice", 40456}}) {
        PeerInfo m = info(b, 32);
        m.candidates = {Endpoint{peers[b].ep.addr, uint16_t(port)}, *Endpoint::parse("198.51.100.9:4500")};
        m.flags = kPeerFlagNat;
        peers[a].node->mesh->on_peer_info(m);
    }
    nat = [&](Datagram &d) { return !(d.to.addr == peers["alice"].ep.addr || d.to.addr == peers["bob"].ep.addr); };
    run(600000);
    for (auto [a, b] : {std::pair{"alice", "bob"}, std::pair{"bob", "alice"}}) {
        EXPECT_EQ(peers[a].node->mesh->counters().spray_probes, uint64_t(kMaxBirthdaysPerEpisode) * kSprayProbes)
            << a;
        EXPECT_EQ(peers[a].node->mesh->counters().birthday_opens, 0u) << a;
        EXPECT_EQ(path(a, b), "relay");
        std::string why = reason(a, b);
        EXPECT_NE(why.find("peer's NAT changes port per destination"), std::string::npos) << why;
        EXPECT_NE(why.find("3072 probes to random ports of its address found none"), std::string::npos) << why;
    }
}

}  // namespace
}  // namespace lm
