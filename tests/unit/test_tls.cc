// SPDX-License-Identifier: MIT
// TLS setup against a throwaway PKI made with the openssl command: real TLS 1.3
// handshakes over a socketpair, certificate failures and their one-line
// reasons, CRL reload, and the ESP key exporter; and on such a connection,
// the control-session core both roles share (control/session.h).
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "control/keying.h"
#include "control/session.h"
#include "control/tls.h"
#include "control/tls_conn.h"

namespace lm {
namespace {

// CA "Test CA" issues server, alice, bob (revoked in crl.pem), carol (expired
// client), oldserver (expired server), plain (no extendedKeyUsage) and bp (a
// server on brainpoolP256r1); CA "Other CA" issues mallory and server2.
// crl-expired.pem and crl-future.pem revoke bob too, but are out of their
// validity period.
const char kPkiScript[] = R"SH(
set -e
mkca() {
  mkdir -p $1/newcerts; : > $1/index.txt; echo 1000 > $1/serial; echo 1000 > $1/crlnumber
  cat > $1/ca.cnf <<CNF
[ ca ]
default_ca = CA_default
[ CA_default ]
dir = $PWD/$1
database = \$dir/index.txt
new_certs_dir = \$dir/newcerts
serial = \$dir/serial
crlnumber = \$dir/crlnumber
private_key = \$dir/ca.key
certificate = \$dir/ca.crt
default_md = sha256
policy = policy_any
unique_subject = no
default_days = 30
default_crl_days = 30
[ policy_any ]
commonName = supplied
[ server_ext ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
[ client_ext ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
[ noeku_ext ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
CNF
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $1/ca.key
  openssl req -x509 -new -key $1/ca.key -subj "/CN=$2" -days 30 -out $1/ca.crt \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
}
mkcert() {
  ca=$1 name=$2 ext=$3; shift 3
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $name.key
  openssl req -new -key $name.key -subj "/CN=$name" -out $name.csr
  openssl ca -batch -notext -config $ca/ca.cnf -extensions $ext -in $name.csr -out $name.crt "$@"
}
mkca ca "Test CA"
mkca ca2 "Other CA"
mkcert ca server server_ext
mkcert ca alice client_ext
mkcert ca bob client_ext
mkcert ca carol client_ext -startdate 20200101000000Z -enddate 20200201000000Z
mkcert ca oldserver server_ext -startdate 20200101000000Z -enddate 20200201000000Z
mkcert ca2 mallory client_ext
mkcert ca2 server2 server_ext
mkcert ca plain noeku_ext
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:brainpoolP256r1 -out bp.key
openssl req -new -key bp.key -subj "/CN=bp" -out bp.csr
openssl ca -batch -notext -config ca/ca.cnf -extensions server_ext -in bp.csr -out bp.crt
openssl ca -config ca/ca.cnf -revoke bob.crt
openssl ca -config ca/ca.cnf -gencrl -out crl.pem
openssl ca -config ca/ca.cnf -gencrl -crl_lastupdate 20200101000000Z -crl_nextupdate 20200201000000Z -out crl-expired.pem
openssl ca -config ca/ca.cnf -gencrl -crl_lastupdate 20990101000000Z -crl_nextupdate 20990201000000Z -out crl-future.pem
openssl ca -config ca2/ca.cnf -gencrl -out crl2.pem
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -aes256 -pass pass:secret -out locked.key
echo "not a certificate" > junk.pem
)SH";

struct Side {
    SSL *ssl = nullptr;
    bool ok = false;
    std::string reason;
};

struct Session {
    Side server, client;
    ~Session() {
        SSL_free(server.ssl);
        SSL_free(client.ssl);
    }
};

class Tls : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        signal(SIGPIPE, SIG_IGN);
        char tmpl[] = "/tmp/lm-tls-test-XXXXXX";
        if (!mkdtemp(tmpl)) return;
        dir_ = tmpl;
        std::ofstream(dir_ + "/gen.sh") << kPkiScript;
        std::string cmd = "cd " + dir_ + " && sh gen.sh >gen.log 2>&1";
        pki_ok_ = std::system(cmd.c_str()) == 0;
    }
    static void TearDownTestSuite() {
        if (!dir_.empty()) std::system(("rm -rf " + dir_).c_str());
    }
    void SetUp() override {
        ASSERT_TRUE(pki_ok_) << "making the test PKI failed, see " << dir_ << "/gen.log";
    }
    void TearDown() override {
        if (sctx_) SSL_CTX_free(sctx_);
        if (cctx_) SSL_CTX_free(cctx_);
    }

    static std::string path(const std::string &f) { return dir_ + "/" + f; }
    static TlsFiles files(const std::string &ca, const std::string &name, const std::string &crl = "") {
        return TlsFiles{path(ca + "/ca.crt"), path(name + ".crt"), path(name + ".key"),
                        crl.empty() ? "" : path(crl)};
    }
    SSL_CTX *server(const std::string &ca, const std::string &name, const std::string &crl = "",
                    bool require_eku = true) {
        std::string err;
        if (sctx_) SSL_CTX_free(sctx_);
        TlsFiles f = files(ca, name, crl);
        f.require_eku = require_eku;
        sctx_ = tls_server_ctx(f, &err);
        EXPECT_NE(sctx_, nullptr) << err;
        return sctx_;
    }
    SSL_CTX *client(const std::string &ca, const std::string &name, bool require_eku = true) {
        std::string err;
        if (cctx_) SSL_CTX_free(cctx_);
        TlsFiles f = files(ca, name);
        f.require_eku = require_eku;
        cctx_ = tls_client_ctx(f, &err);
        EXPECT_NE(cctx_, nullptr) << err;
        return cctx_;
    }

    // Runs one handshake; the client then waits for one byte the server sends
    // after accepting it (in TLS 1.3 that is when the client learns of a
    // refusal of its certificate).
    static void handshake(SSL_CTX *sctx, SSL_CTX *cctx, Session *s, const char *expect_name = nullptr) {
        int fds[2];
        ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
        timeval tv{5, 0};
        for (int fd : fds) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        s->server.ssl = SSL_new(sctx);
        s->client.ssl = SSL_new(cctx);
        SSL_set_fd(s->server.ssl, fds[0]);
        SSL_set_fd(s->client.ssl, fds[1]);
        if (expect_name) {
            EXPECT_TRUE(tls_expect_peer_name(s->client.ssl, expect_name));
        }
        std::thread t([&] {
            int r = SSL_accept(s->server.ssl);
            if (r == 1) {
                s->server.ok = SSL_write(s->server.ssl, "k", 1) == 1;
            } else {
                s->server.reason = tls_failure_reason(s->server.ssl, r);
                shutdown(fds[0], SHUT_RDWR);
            }
        });
        int r = SSL_connect(s->client.ssl);
        if (r == 1) {
            char c;
            r = SSL_read(s->client.ssl, &c, 1);
            s->client.ok = r == 1;
        }
        if (!s->client.ok) {
            s->client.reason = tls_failure_reason(s->client.ssl, r);
            shutdown(fds[1], SHUT_RDWR);
        }
        t.join();
        close(fds[0]);
        close(fds[1]);
    }

    // A server context with any certificate, made without our checks.
    static SSL_CTX *rogue_server(const std::string &name) {
        SSL_CTX *c = SSL_CTX_new(TLS_server_method());
        SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION);
        EXPECT_EQ(SSL_CTX_use_certificate_file(c, path(name + ".crt").c_str(), SSL_FILETYPE_PEM), 1);
        EXPECT_EQ(SSL_CTX_use_PrivateKey_file(c, path(name + ".key").c_str(), SSL_FILETYPE_PEM), 1);
        return c;
    }

    static inline std::string dir_;
    static inline bool pki_ok_ = false;
    SSL_CTX *sctx_ = nullptr, *cctx_ = nullptr;
};

bool contains(const std::string &s, const std::string &sub) { return s.find(sub) != std::string::npos; }

TEST_F(Tls, GoodPairAndExporter) {
    Session s;
    handshake(server("ca", "server", "crl.pem"), client("ca", "alice"), &s, "server");
    ASSERT_TRUE(s.server.ok) << s.server.reason;
    ASSERT_TRUE(s.client.ok) << s.client.reason;
    EXPECT_EQ(SSL_version(s.server.ssl), TLS1_3_VERSION);
    EXPECT_EQ(tls_peer_cn(s.server.ssl), "alice");
    EXPECT_EQ(tls_peer_cn(s.client.ssl), "server");
    EXPECT_EQ(tls_failure_reason(s.server.ssl, 1), "no error");

    // Both ends derive the same key for each direction; the two directions
    // differ, and every context field changes the output.
    uint8_t a[36], b[36], c[36];
    ASSERT_TRUE(tls_export_esp_key(s.server.ssl, 1, 0, true, 0x1000, a));
    ASSERT_TRUE(tls_export_esp_key(s.client.ssl, 1, 0, true, 0x1000, b));
    EXPECT_EQ(std::memcmp(a, b, 36), 0);
    ASSERT_TRUE(tls_export_esp_key(s.client.ssl, 1, 0, false, 0x1000, c));
    EXPECT_NE(std::memcmp(a, c, 36), 0);  // one key per direction
    struct { uint16_t aead; uint32_t epoch; bool c2s; uint32_t spi; } variants[] = {
        {1, 1, true, 0x1000}, {1, 0, true, 0x1001}, {2, 0, true, 0x1000}, {1, 0, false, 0x1000}};
    for (const auto &v : variants) {
        ASSERT_TRUE(tls_export_esp_key(s.client.ssl, v.aead, v.epoch, v.c2s, v.spi, c));
        EXPECT_NE(std::memcmp(a, c, 36), 0);
        ASSERT_TRUE(tls_export_esp_key(s.server.ssl, v.aead, v.epoch, v.c2s, v.spi, b));
        EXPECT_EQ(std::memcmp(b, c, 36), 0);
    }
    std::string why;
    EXPECT_TRUE(tls_recheck_peer(s.server.ssl, &why)) << why;
    EXPECT_TRUE(tls_recheck_peer(s.client.ssl, &why)) << why;
}

TEST_F(Tls, ExporterAndCnNeedAHandshake) {
    SSL *ssl = SSL_new(client("ca", "alice"));
    uint8_t out[36];
    std::memset(out, 0xaa, sizeof out);
    EXPECT_FALSE(tls_export_esp_key(ssl, 1, 0, true, 256, out));
    for (uint8_t x : out) ASSERT_EQ(x, 0);
    EXPECT_EQ(tls_peer_cn(ssl), "");
    EXPECT_EQ(ERR_peek_error(), 0u);
    SSL_free(ssl);
}

TEST_F(Tls, RevokedClientRefused) {
    Session s;
    handshake(server("ca", "server", "crl.pem"), client("ca", "bob"), &s);
    EXPECT_FALSE(s.server.ok);
    EXPECT_FALSE(s.client.ok);
    EXPECT_EQ(s.server.reason, "certificate revoked");
    EXPECT_TRUE(contains(s.client.reason, "revoked")) << s.client.reason;
    EXPECT_EQ(tls_peer_cn(s.server.ssl), "");
}

TEST_F(Tls, OtherCaClientRefused) {
    Session s;
    handshake(server("ca", "server", "crl.pem"), client("ca", "mallory"), &s);
    EXPECT_FALSE(s.server.ok);
    EXPECT_EQ(s.server.reason, "unknown CA (unable to get local issuer certificate)");
    EXPECT_EQ(s.client.reason, "peer refused our certificate: unknown CA");
}

TEST_F(Tls, ExpiredClientRefused) {
    Session s;
    handshake(server("ca", "server"), client("ca", "carol"), &s);
    EXPECT_FALSE(s.server.ok);
    EXPECT_EQ(s.server.reason, "certificate has expired");
    EXPECT_TRUE(contains(s.client.reason, "expired")) << s.client.reason;
}

TEST_F(Tls, ClientWithoutCertificateRefused) {
    SSL_CTX *bare = SSL_CTX_new(TLS_client_method());
    ASSERT_EQ(SSL_CTX_load_verify_file(bare, path("ca/ca.crt").c_str()), 1);
    Session s;
    handshake(server("ca", "server"), bare, &s);
    EXPECT_EQ(s.server.reason, "no certificate presented");
    EXPECT_EQ(s.client.reason, "peer requires a certificate");
    SSL_CTX_free(bare);
}

TEST_F(Tls, ClientChecksServer) {
    {
        Session s;  // server certificate from another CA
        handshake(server("ca2", "server2"), client("ca", "alice"), &s);
        EXPECT_TRUE(contains(s.client.reason, "unknown CA (")) << s.client.reason;
        EXPECT_EQ(s.server.reason, "peer refused our certificate: unknown CA");
    }
    {
        Session s;
        handshake(server("ca", "oldserver"), client("ca", "alice"), &s);
        EXPECT_EQ(s.client.reason, "certificate has expired");
    }
    {
        Session s;
        handshake(server("ca", "server"), client("ca", "alice"), &s, "gateway");
        EXPECT_EQ(s.client.reason, "certificate name mismatch (want 'gateway')");
    }
    {
        // A client certificate is not a server certificate.  Our own server
        // context refuses to use one (OwnCertificatePurpose); a rogue server
        // is made by hand.
        SSL_CTX *rogue = rogue_server("bob");
        Session s;
        handshake(rogue, client("ca", "alice"), &s);
        EXPECT_EQ(s.client.reason, "certificate is not for a TLS server");
        SSL_CTX_free(rogue);
    }
}

// A certificate of the network's CA without extendedKeyUsage passes
// OpenSSL's purpose checks for every role: with RemoteCertTls (the default)
// a client does not take it for its server, nor the server for a client.
TEST_F(Tls, RemoteCertTlsRequiresExtendedKeyUsage) {
    SSL_CTX *rogue = rogue_server("plain");
    {
        Session s;
        handshake(rogue, client("ca", "alice"), &s);
        EXPECT_FALSE(s.client.ok);
        EXPECT_EQ(s.client.reason,
                  "certificate is not for a TLS server (it has no extendedKeyUsage serverAuth; RemoteCertTls = no "
                  "accepts certificates without extendedKeyUsage)");
    }
    {
        Session s;  // the switch for PKIs without extendedKeyUsage
        handshake(rogue, client("ca", "alice", false), &s);
        EXPECT_TRUE(s.client.ok) << s.client.reason;
    }
    SSL_CTX_free(rogue);
    {
        Session s;
        handshake(server("ca", "server"), client("ca", "plain", false), &s);
        EXPECT_FALSE(s.server.ok);
        EXPECT_EQ(s.server.reason,
                  "certificate is not for a TLS client (it has no extendedKeyUsage clientAuth; RemoteCertTls = no "
                  "accepts certificates without extendedKeyUsage)");
    }
    {
        Session s;
        handshake(server("ca", "server", "", false), client("ca", "plain", false), &s);
        EXPECT_TRUE(s.server.ok) << s.server.reason;
    }
}

// Our own certificate must fit our role, with the extendedKeyUsage peers
// demand, and its key must be able to sign in TLS 1.3.
TEST_F(Tls, OwnCertificatePurpose) {
    std::string err;
    auto make = [&](const std::string &name, bool server_side, bool require_eku) {
        err.clear();
        TlsFiles f = files("ca", name);
        f.require_eku = require_eku;
        SSL_CTX *c = server_side ? tls_server_ctx(f, &err) : tls_client_ctx(f, &err);
        bool made = c != nullptr;
        SSL_CTX_free(c);
        EXPECT_EQ(ERR_peek_error(), 0u);
        return made;
    };
    EXPECT_FALSE(make("alice", true, true));
    EXPECT_EQ(err, "certificate " + path("alice.crt") +
                       ": it is not for a TLS server (its keyUsage or extendedKeyUsage forbids it; a server needs "
                       "extendedKeyUsage serverAuth)");
    EXPECT_FALSE(make("server", false, true));
    EXPECT_TRUE(contains(err, "it is not for a TLS client")) << err;
    EXPECT_FALSE(make("plain", true, true));
    EXPECT_EQ(err, "certificate " + path("plain.crt") +
                       ": it has no extendedKeyUsage serverAuth, which clients require (RemoteCertTls = no, on "
                       "every node, accepts certificates without extendedKeyUsage)");
    EXPECT_FALSE(make("plain", false, true));
    EXPECT_TRUE(contains(err, "it has no extendedKeyUsage clientAuth, which the server requires")) << err;
    EXPECT_TRUE(make("plain", true, false)) << err;
    EXPECT_TRUE(make("plain", false, false)) << err;
    EXPECT_TRUE(make("alice", false, true)) << err;
}

// OpenSSL before 3.2 has no TLS 1.3 signature scheme for brainpool curves:
// a server with such a key fails every handshake.  It is refused up front.
TEST_F(Tls, KeyThatCannotSignInTls13) {
    std::string err;
    SSL_CTX *c = tls_server_ctx(files("ca", "bp"), &err);
    if (OpenSSL_version_num() >= 0x30200000L) {
        EXPECT_NE(c, nullptr) << err;
    } else {
        EXPECT_EQ(c, nullptr);
        EXPECT_TRUE(contains(err, "certificate " + path("bp.crt") +
                                      ": its key is on curve brainpoolP256r1, which cannot sign a TLS 1.3 handshake"))
            << err;
        EXPECT_TRUE(contains(err, "P-256, P-384 or P-521")) << err;
    }
    SSL_CTX_free(c);
}

// A CRL out of its validity period: the client is refused after the
// handshake with words (tls_admission_problem), not with the alert
// "certificate expired" that reads as the client's own fault; revocation
// still holds; admitted sessions are not cut by a recheck.
TEST_F(Tls, CrlOutOfItsValidityPeriod) {
    for (const char *crl : {"crl-expired.pem", "crl-future.pem"}) {
        SCOPED_TRACE(crl);
        bool expired = std::string(crl) == "crl-expired.pem";
        std::string err;
        SSL_CTX *sctx = server("ca", "server", crl);
        Session s;
        handshake(sctx, client("ca", "alice"), &s);
        ASSERT_TRUE(s.server.ok) << s.server.reason;
        EXPECT_EQ(tls_admission_problem(s.server.ssl),
                  expired ? "the server's CRL has expired"
                          : "the server's CRL is not yet valid (check the server's clock)");
        EXPECT_EQ(tls_peer_cn(s.server.ssl), "");
        Session revoked;
        handshake(sctx, client("ca", "bob"), &revoked);
        EXPECT_FALSE(revoked.server.ok);
        EXPECT_EQ(revoked.server.reason, "certificate revoked");
    }
    Session good;
    handshake(server("ca", "server", "crl.pem"), client("ca", "alice"), &good);
    ASSERT_TRUE(good.server.ok) << good.server.reason;
    EXPECT_EQ(tls_admission_problem(good.server.ssl), "");
    // Reloading an expired CRL does not cut admitted sessions.
    std::string err, why;
    ASSERT_TRUE(tls_reload_crl(sctx_, path("crl-expired.pem"), &err)) << err;
    EXPECT_TRUE(tls_recheck_peer(good.server.ssl, &why)) << why;

    std::vector<CrlTimes> t;
    ASSERT_TRUE(tls_crl_file_times(path("crl-expired.pem"), &t, &err)) << err;
    ASSERT_EQ(t.size(), 1u);
    EXPECT_EQ(t[0].issuer, "/CN=Test CA");
    EXPECT_EQ(t[0].last_update, 1577836800);   // 2020-01-01
    EXPECT_EQ(t[0].next_update, 1580515200);   // 2020-02-01
    auto live = tls_crl_times(sctx_);
    ASSERT_EQ(live.size(), 1u);
    EXPECT_EQ(live[0].next_update, 1580515200);
}

TEST_F(Tls, KeyFileModeWarning) {
    std::string k = path("mode-test.key");
    std::ofstream(k) << "x";
    chmod(k.c_str(), 0600);
    EXPECT_EQ(tls_key_mode_warning(k), "");
    chmod(k.c_str(), 0640);
    EXPECT_EQ(tls_key_mode_warning(k), "");   // a group the daemon's user is in may read it
    chmod(k.c_str(), 0644);
    EXPECT_EQ(tls_key_mode_warning(k), "private key " + k + " is readable by every user (mode 0644): chmod 0600 " + k);
    chmod(k.c_str(), 0620);
    EXPECT_EQ(tls_key_mode_warning(k), "private key " + k + " is writable by others than its owner (mode 0620): chmod 0600 " + k);
}

TEST_F(Tls, CrlReload) {
    SSL_CTX *sctx = server("ca", "server");
    SSL_CTX *cctx = client("ca", "bob");
    Session before;
    handshake(sctx, cctx, &before);
    ASSERT_TRUE(before.server.ok) << before.server.reason;

    std::string err;
    ASSERT_TRUE(tls_reload_crl(sctx, path("crl.pem"), &err)) << err;
    std::string why;
    EXPECT_FALSE(tls_recheck_peer(before.server.ssl, &why));
    EXPECT_EQ(why, "certificate revoked");
    Session after;
    handshake(sctx, cctx, &after);
    EXPECT_EQ(after.server.reason, "certificate revoked");
    Session alice;
    handshake(sctx, client("ca", "alice"), &alice);
    EXPECT_TRUE(alice.server.ok) << alice.server.reason;

    // A failed reload leaves the context as it was.
    EXPECT_FALSE(tls_reload_crl(sctx, path("missing.pem"), &err));
    EXPECT_EQ(err, "cannot load CRL " + path("missing.pem") + ": No such file or directory");
    EXPECT_FALSE(tls_reload_crl(sctx, path("crl2.pem"), &err));
    EXPECT_TRUE(contains(err, "is not signed by the CA")) << err;
    Session still;
    handshake(sctx, client("ca", "bob"), &still);
    EXPECT_EQ(still.server.reason, "certificate revoked");

    // No CRL: no revocation check.
    ASSERT_TRUE(tls_reload_crl(sctx, "", &err)) << err;
    Session again;
    handshake(sctx, client("ca", "bob"), &again);
    EXPECT_TRUE(again.server.ok) << again.server.reason;
}

TEST_F(Tls, LoadErrors) {
    std::string err;
    auto fails = [&](TlsFiles f, bool server_side = true) {
        err.clear();
        SSL_CTX *c = server_side ? tls_server_ctx(f, &err) : tls_client_ctx(f, &err);
        EXPECT_EQ(c, nullptr);
        SSL_CTX_free(c);
        EXPECT_EQ(ERR_peek_error(), 0u);
        return err;
    };
    TlsFiles f = files("ca", "server");
    f.ca = path("nope.crt");
    EXPECT_EQ(fails(f), "cannot load CA " + path("nope.crt") + ": No such file or directory");
    f.ca = path("junk.pem");
    EXPECT_EQ(fails(f), "cannot load CA " + path("junk.pem") + ": no PEM certificate found");
    f.ca = path("alice.crt");
    EXPECT_EQ(fails(f, false), "cannot load CA " + path("alice.crt") + ": certificate /CN=alice is not a CA");
    f = files("ca", "server");
    f.cert = path("missing.crt");
    EXPECT_EQ(fails(f), "cannot load certificate " + path("missing.crt") + ": No such file or directory");
    f = files("ca", "server");
    f.key = path("alice.key");
    EXPECT_EQ(fails(f), "certificate " + path("server.crt") + " and key " + path("alice.key") + " do not match");
    f.key = path("locked.key");
    EXPECT_EQ(fails(f), "cannot load key " + path("locked.key") + ": the key is encrypted; an unencrypted key is needed");
    f.key = path("junk.pem");
    EXPECT_EQ(fails(f), "cannot load key " + path("junk.pem") + ": no supported key found");
    f = files("ca", "server");
    f.cert = path("junk.pem");
    EXPECT_EQ(fails(f), "cannot load certificate " + path("junk.pem") + ": no PEM data found");
    f = files("ca", "server", "junk.pem");
    EXPECT_EQ(fails(f), "cannot load CRL " + path("junk.pem") + ": no CRL found");
    f = files("ca", "server", "crl2.pem");
    EXPECT_EQ(fails(f), "cannot load CRL " + path("crl2.pem") + ": CRL of /CN=Other CA is not signed by the CA");
}


// ---- TlsConn: bounded output, back-pressure, protocol errors ----------------

namespace {

struct ConnPair {
    std::unique_ptr<TlsConn> server, client;
};

bool ignore_frames(MsgType, const std::vector<uint8_t> &) { return true; }

// Two non-blocking TlsConns over a socketpair, their handshake done.
void conn_pair(SSL_CTX *sctx, SSL_CTX *cctx, ConnPair *p) {
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    p->server = std::make_unique<TlsConn>(sctx, fds[0], true);
    p->client = std::make_unique<TlsConn>(cctx, fds[1], false);
    for (int i = 0; i < 100; i++) {
        ASSERT_TRUE(p->client->on_io(ignore_frames)) << p->client->error();
        ASSERT_TRUE(p->server->on_io(ignore_frames)) << p->server->error();
        if (p->client->state() == TlsConn::State::established &&
            p->server->state() == TlsConn::State::established)
            return;
    }
    FAIL() << "handshake did not finish";
}

std::vector<uint8_t> ping_payload() { return {1, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0}; }

}  // namespace

// A peer that sends pings and never reads the pongs: the queue stops
// growing near kOutputHighWater because reading stops, and resumes once the
// peer reads.
TEST_F(Tls, ConnStopsReadingWhileOutputFull) {
    ConnPair p;
    conn_pair(server("ca", "server", "crl.pem"), client("ca", "alice"), &p);
    TlsConn &srv = *p.server;
    auto answer = [&](MsgType t, const std::vector<uint8_t> &payload) {
        if (t == MsgType::ping) srv.send(MsgType::pong, payload);
        return true;
    };
    for (int i = 0; i < 400 && srv.wants_read(); i++) {
        for (int k = 0; k < 1000; k++) p.client->send(MsgType::ping, ping_payload());
        ASSERT_TRUE(p.client->flush()) << p.client->error();
        ASSERT_TRUE(srv.on_io(answer)) << srv.error();
    }
    ASSERT_FALSE(srv.wants_read()) << "the output queue never filled";
    EXPECT_NE(srv.full_since_ms(), 0);
    // At most what one round of reads (kMaxRecordsPerIo records) answered.
    EXPECT_LT(srv.pending_out(), kOutputHighWater + size_t(kMaxRecordsPerIo) * 16384 + kMaxFrame);
    uint64_t read = srv.frames_in();
    size_t queued = srv.pending_out();
    for (int i = 0; i < 10; i++) {
        ASSERT_TRUE(srv.on_io(answer));
        p.client->send(MsgType::ping, ping_payload());
        p.client->flush();
    }
    EXPECT_EQ(srv.frames_in(), read) << "read on with a full output queue";
    EXPECT_LE(srv.pending_out(), queued);

    // The peer reads: the queue drains and reading resumes.
    for (int i = 0; i < 2000 && !srv.wants_read(); i++) {
        ASSERT_TRUE(p.client->on_io(ignore_frames)) << p.client->error();
        ASSERT_TRUE(srv.on_io(answer)) << srv.error();
    }
    EXPECT_TRUE(srv.wants_read());
    EXPECT_EQ(srv.full_since_ms(), 0);
    EXPECT_GT(srv.frames_in(), read);
}

// Our own messages piling up unread end the connection at kOutputHardLimit.
TEST_F(Tls, ConnOutputHasAHardLimit) {
    ConnPair p;
    conn_pair(server("ca", "server", "crl.pem"), client("ca", "alice"), &p);
    std::vector<uint8_t> big(kMaxPayload, 0);
    for (size_t sent = 0; sent < 2 * kOutputHardLimit && !p.server->output_overflow(); sent += big.size()) {
        p.server->send(MsgType::route_update, big);
        p.server->flush();
    }
    EXPECT_TRUE(p.server->output_overflow());
    EXPECT_LE(p.server->pending_out(), kOutputHardLimit);
    EXPECT_EQ(p.server->state(), TlsConn::State::closed);
    EXPECT_FALSE(p.server->flush());
    EXPECT_TRUE(contains(p.server->error(), "output queue full")) << p.server->error();
}

// Bad frames after the handshake say which rule was broken, and TLS still
// works for a bye; garbage outside TLS records is a TLS error without one.
TEST_F(Tls, ConnReportsProtocolErrors) {
    struct Case {
        std::vector<uint8_t> bytes;
        ProtoError want;
    } cases[] = {
        {{9, 5, 0, 0}, ProtoError::bad_version},
        {{1, 99, 0, 0}, ProtoError::unknown_type},
        {{1, 5, 0xff, 0xff}, ProtoError::bad_length},
    };
    for (const auto &c : cases) {
        ConnPair p;
        conn_pair(server("ca", "server", "crl.pem"), client("ca", "alice"), &p);
        ASSERT_EQ(SSL_write(p.client->ssl(), c.bytes.data(), int(c.bytes.size())), int(c.bytes.size()));
        EXPECT_FALSE(p.server->on_io(ignore_frames));
        ASSERT_TRUE(p.server->proto_error().has_value()) << p.server->error();
        EXPECT_EQ(*p.server->proto_error(), c.want) << to_string(c.want);
        EXPECT_TRUE(p.server->can_send());
        EXPECT_FALSE(p.server->on_io(ignore_frames)) << "read on after a bad frame";
        p.server->send(MsgType::bye, {1, 0, 1, 'x'});
        EXPECT_TRUE(p.server->flush());
        bool bye = false;
        for (int i = 0; i < 10 && !bye; i++)
            p.client->on_io([&](MsgType t, const std::vector<uint8_t> &) { return !(bye = t == MsgType::bye); });
        EXPECT_TRUE(bye) << to_string(c.want);
    }
    ConnPair p;
    conn_pair(server("ca", "server", "crl.pem"), client("ca", "alice"), &p);
    uint8_t junk[64];
    std::memset(junk, 0x5a, sizeof junk);
    ASSERT_EQ(write(p.client->fd(), junk, sizeof junk), ssize_t(sizeof junk));
    EXPECT_FALSE(p.server->on_io(ignore_frames));
    ASSERT_TRUE(p.server->proto_error().has_value()) << p.server->error();
    EXPECT_EQ(*p.server->proto_error(), ProtoError::tls_error);
    EXPECT_FALSE(p.server->can_send());
}


// ---- ControlSession: keepalive, rekey and bye, as both roles run them ----

// One end of an admitted session: its connection, SAs and times.
struct SessionEnd {
    std::unique_ptr<TlsConn> conn;
    SaTable sas;
    Tunnel tunnel;
    Keying keying;
    RttMeter rtt;
    int64_t last_rx_ms = 0, last_ping_ms = 0;
    std::vector<ControlSession::Frame> got;

    SessionEnd(std::unique_ptr<TlsConn> c, bool server) : conn(std::move(c)), keying(sas, tunnel, server, nullptr) {}
    ControlSession ctl() { return {*conn, keying, rtt, last_rx_ms, last_ping_ms}; }
    // Reads what the other end flushed; every frame goes through on_frame.
    void read() {
        for (int i = 0; i < 10; i++)
            conn->on_io([&](MsgType t, const std::vector<uint8_t> &p) {
                got.push_back(ctl().on_frame(t, p, 1000));
                return true;
            });
    }
};

struct SessionPair {
    std::unique_ptr<SessionEnd> server, client;
    void flush_both() {
        client->conn->flush();
        server->read();
        server->conn->flush();
        client->read();
    }
};

void session_pair(SSL_CTX *sctx, SSL_CTX *cctx, SessionPair *sp) {
    ConnPair p;
    conn_pair(sctx, cctx, &p);
    sp->server = std::make_unique<SessionEnd>(std::move(p.server), true);
    sp->client = std::make_unique<SessionEnd>(std::move(p.client), false);
    std::string err;
    ASSERT_TRUE(sp->server->keying.install_initial(sp->server->conn->ssl(), 0x1111, 0x2222, &err)) << err;
    ASSERT_TRUE(sp->client->keying.install_initial(sp->client->conn->ssl(), 0x2222, 0x1111, &err)) << err;
}

TEST_F(Tls, SessionKeepalive) {
    SessionPair p;
    session_pair(server("ca", "server", "crl.pem"), client("ca", "alice"), &p);
    SessionEnd &c = *p.client, &s = *p.server;
    const ControlSession::Timers t{10, 30};
    time_t wall = time(nullptr);
    std::string why;
    // Heard 5 s ago, pinged 10 s ago: a ping goes out, nothing else.
    c.last_rx_ms = 95000;
    c.last_ping_ms = 90000;
    EXPECT_EQ(c.ctl().tick(100000, 1000, wall, t, &why), ControlSession::Tick::ok);
    EXPECT_EQ(c.last_ping_ms, 100000);
    p.flush_both();
    ASSERT_EQ(s.got.size(), 1u);
    EXPECT_EQ(s.got[0].kind, ControlSession::Frame::handled);   // the ping, answered
    ASSERT_EQ(c.got.size(), 1u);
    EXPECT_EQ(c.got[0].kind, ControlSession::Frame::handled);   // the pong
    EXPECT_GE(c.rtt.srtt_us(), 0);
    // Not due again within the interval.
    EXPECT_EQ(c.ctl().tick(105000, 1000, wall, t, &why), ControlSession::Tick::ok);
    EXPECT_EQ(c.last_ping_ms, 100000);
    // Nothing heard for the timeout.
    EXPECT_EQ(c.ctl().tick(95000 + 30000, 1000, wall, t, &why), ControlSession::Tick::timed_out);
}

TEST_F(Tls, SessionFramesItDoesNotOwnOrCannotParse) {
    SessionPair p;
    session_pair(server("ca", "server", "crl.pem"), client("ca", "alice"), &p);
    ControlSession ctl = p.server->ctl();
    EXPECT_EQ(ctl.on_frame(MsgType::config, {}, 0).kind, ControlSession::Frame::not_mine);
    EXPECT_EQ(ctl.on_frame(MsgType::esp, {1, 2, 3}, 0).kind, ControlSession::Frame::not_mine);
    for (MsgType m : {MsgType::ping, MsgType::pong, MsgType::rekey, MsgType::rekey_ack, MsgType::bye}) {
        ControlSession::Frame f = ctl.on_frame(m, {0xff}, 0);
        EXPECT_EQ(f.kind, ControlSession::Frame::bad_payload) << to_string(m);
        EXPECT_FALSE(f.text.empty()) << to_string(m);
    }
}

TEST_F(Tls, SessionRekeyBothWays) {
    SessionPair p;
    session_pair(server("ca", "server", "crl.pem"), client("ca", "alice"), &p);
    SessionEnd &c = *p.client, &s = *p.server;
    std::string why;
    time_t now = time(nullptr);
    // Not due: nothing is sent.
    EXPECT_TRUE(c.ctl().rekey_if_due(now, &why));
    p.flush_both();
    EXPECT_TRUE(s.got.empty());
    // Past RekeyAfterTime the client starts one; the server answers it.
    time_t later = now + RekeyLimits{}.after_time + 1;
    EXPECT_TRUE(c.ctl().rekey_if_due(later, &why)) << why;
    EXPECT_TRUE(c.keying.rekey_pending());
    p.flush_both();
    ASSERT_EQ(s.got.size(), 1u);
    EXPECT_EQ(s.got[0].kind, ControlSession::Frame::rekeyed);
    EXPECT_EQ(s.got[0].epoch, 1u);
    EXPECT_FALSE(s.got[0].we_started);
    ASSERT_EQ(c.got.size(), 1u);
    EXPECT_EQ(c.got[0].kind, ControlSession::Frame::rekeyed);
    EXPECT_EQ(c.got[0].epoch, 1u);
    EXPECT_TRUE(c.got[0].we_started);
    EXPECT_EQ(c.keying.epoch(), 1u);
    EXPECT_EQ(s.keying.epoch(), 1u);
    EXPECT_EQ(c.tunnel.out->spi, s.tunnel.in_cur->spi);
    EXPECT_EQ(s.tunnel.out->spi, c.tunnel.in_cur->spi);
    // The server's tick starts the next one.
    s.last_rx_ms = s.last_ping_ms = 0;
    EXPECT_EQ(s.ctl().tick(1000, 1000, later + RekeyLimits{}.after_time + 1, {10, 30}, &why),
              ControlSession::Tick::ok);
    EXPECT_TRUE(s.keying.rekey_pending());
    s.got.clear();
    c.got.clear();
    s.conn->flush();
    c.read();
    c.conn->flush();
    s.read();
    ASSERT_EQ(s.got.size(), 1u);
    EXPECT_TRUE(s.got[0].we_started);
    EXPECT_EQ(s.got[0].epoch, 2u);
}

TEST_F(Tls, SessionByeIsCutToItsLimit) {
    SessionPair p;
    session_pair(server("ca", "server", "crl.pem"), client("ca", "alice"), &p);
    ControlSession::send_bye(*p.client->conn, std::string(kMaxByeReason + 40, 'x'));
    p.server->read();
    ASSERT_EQ(p.server->got.size(), 1u);
    EXPECT_EQ(p.server->got[0].kind, ControlSession::Frame::bye);
    EXPECT_EQ(p.server->got[0].text, std::string(kMaxByeReason, 'x'));
}

}  // namespace
}  // namespace lm
