// SPDX-License-Identifier: MIT
// OpenSSL 3 setup for the control channel: TLS 1.3 only, mutual X.509
// authentication against the network's CA, optional CRL (leaf check), and the
// RFC 5705 / RFC 8446 §7.5 exporter that derives the ESP keys.  No sockets
// here.  Control path only; a given SSL_CTX must be used from one thread.
//
// Every function that fails leaves OpenSSL's (thread-local) error queue empty,
// so a following SSL_get_error() is not confused by stale entries.
#pragma once
#include <openssl/ssl.h>

#include <cstdint>
#include <ctime>
#include <string>
#include <vector>

namespace lm {

struct TlsFiles {
    // PEM paths; crl may be empty (no revocation check).  For CA, certificate
    // and key given inline in the configuration (lanmesh.conf(5) INLINE PEM),
    // the *_pem text is used and the path only says where it stands.
    std::string ca, cert, key, crl;
    // RemoteCertTls (lanmesh.conf(5)): the peer's certificate must carry the
    // extendedKeyUsage of its role -- serverAuth for the server, clientAuth
    // for clients -- as OpenVPN's remote-cert-tls demands.  Without it any
    // client certificate of the CA that has no extendedKeyUsage at all
    // (OpenSSL accepts those for every purpose) could pose as the server.
    bool require_eku = true;
    std::string ca_pem, cert_pem, key_pem;
};

// Both return a new context (the caller owns it: SSL_CTX_free) or nullptr with
// *err like "cannot load CA /etc/lanmesh/ca.crt: No such file or directory".
// Our own certificate must be fit for our role (tls_own_cert_problem), and
// its key one that can sign in TLS 1.3.
// The server requires a client certificate; the client verifies the server's
// chain (call tls_expect_peer_name() on each client SSL to check its name too).
// Session tickets and the session cache are off: every connection is a full
// ECDHE handshake.  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER is set.
SSL_CTX *tls_server_ctx(const TlsFiles &f, std::string *err);
SSL_CTX *tls_client_ctx(const TlsFiles &f, std::string *err);
// The channel between two servers of one network (docs/DESIGN.md §11): one
// context for both ends, accepting and connecting.  Each end presents its
// server certificate and demands a peer certificate fit for a TLS server
// (OpenSSL's purpose check); tls_peer_is_server() tells, after the
// handshake, whether it also names serverAuth, as RemoteCertTls wants.
SSL_CTX *tls_interserver_ctx(const TlsFiles &f, std::string *err);
bool tls_peer_is_server(SSL *ssl);

// "" or why our own certificate cannot serve `server`'s role: its keyUsage
// or extendedKeyUsage forbids it, it lacks the extendedKeyUsage the peer
// demands (require_eku), or its key cannot sign a TLS 1.3 handshake (for
// example a brainpool curve, which OpenSSL before 3.2 does not offer in
// TLS 1.3: every handshake would fail).
std::string tls_own_cert_problem(X509 *cert, EVP_PKEY *key, bool server, bool require_eku);

// "" or why `key` cannot sign a TLS 1.3 CertificateVerify with this OpenSSL.
std::string tls13_key_problem(EVP_PKEY *key);

// "" or a warning that the private key file is readable by others or
// writable by its group or others (lanmesh.conf(5) says 0600).  Not an
// error: the daemon still runs, and --check-config still passes.
std::string tls_key_mode_warning(const std::string &key_path);
// The same for wherever the key is kept: its file, or for an inline key the
// configuration file `config_path` that holds it.
std::string tls_key_mode_warning(const TlsFiles &f, const std::string &config_path);

// The validity of each CRL in a file or a context, for CrlWatch.
struct CrlTimes {
    std::string issuer;                 // "/CN=lanmesh CA"
    time_t last_update = 0;
    time_t next_update = 0;             // 0: none given (never expires)
};
bool tls_crl_file_times(const std::string &path, std::vector<CrlTimes> *out, std::string *err);
std::vector<CrlTimes> tls_crl_times(SSL_CTX *ctx);

// Server side, once the handshake is done: "" when the client's certificate
// verified, or why it may not be admitted although the handshake was let
// finish so that the client can be told in a bye: the server's CRL has
// expired or is not yet valid.  A TLS alert cannot say that -- OpenSSL
// sends "certificate expired", which the client would read as its own
// certificate's fault.  Revocation is still checked against such a CRL.
std::string tls_admission_problem(SSL *ssl);

// Replaces the CRL of a live context: builds a new store with the CA
// certificates already loaded plus the CRL file (empty path: no CRL, no
// revocation check).  New handshakes use it; on failure the context is
// unchanged.  Established sessions are not touched: see tls_recheck_peer().
bool tls_reload_crl(SSL_CTX *ctx, const std::string &crl, std::string *err);

// Client side: the server certificate's name (CN, or a DNS subjectAltName when
// present) must equal `name` exactly apart from case; no wildcards.
bool tls_expect_peer_name(SSL *ssl, const std::string &name);

// Subject CN of the verified peer; "" if the handshake is not finished, the
// peer was not verified, or the CN is missing, repeated, empty, longer than 64
// bytes or contains control characters.
std::string tls_peer_cn(SSL *ssl);

// One short reason for a one-line log, e.g. "certificate revoked",
// "certificate has expired", "unknown CA (unable to get local issuer
// certificate)", "no certificate presented", "peer refused our certificate:
// certificate revoked", "handshake failed: <openssl reason>".  Call right
// after a failed SSL_accept/SSL_connect (or SSL_read: a TLS 1.3 client learns
// that the server refused its certificate only then), on the same thread,
// with that call's return value.  Drains the error queue.
std::string tls_failure_reason(SSL *ssl, int ssl_ret);

// Verifies an established session's peer again against `store`, or when it
// is null the session context's current store (after tls_reload_crl, or
// periodically for expiry).  Returns false with a reason like
// tls_failure_reason's when the peer is no longer acceptable.  On a server,
// a CRL out of its validity period does not end an admitted session (it
// refuses new ones); a revocation listed in it does.
bool tls_recheck_peer(SSL *ssl, std::string *reason, X509_STORE *store = nullptr);

// At reload: a context made from the TLS files again (a renewed certificate
// and key, a new CA, the CRL), for the sessions that start from now on.
// When the files cannot be read again and their paths did not change (a key
// readable only by root, after the privilege drop), the current context is
// kept with only its CRL reloaded, and *warning says why.  Returns the
// context to use (`current` or a new one, which then replaces it: the caller
// frees `current`; sessions that use it hold their own reference), or null
// with *err and nothing changed.
SSL_CTX *tls_reload_ctx(SSL_CTX *current, const TlsFiles &now, const TlsFiles &next, bool server,
                        std::string *err, std::string *warning);

// One direction's ESP key from the exporter (RFC 8446 §7.5), label
// kEspExporterLabel, context
//   proto_version(u16 = 1) | aead_id(u16, the Cipher value) | epoch(u32) |
//   direction(u8: 0 client->server, 1 server->client) | spi(u32, the receiver's)
// big-endian.  Binding the receiver's SPI lets a receiver derive and install
// its inbound SA before it announces the SPI (see control/keying.h).
// out = key(32) || salt(4).  Returns false (out zeroed) unless a TLS 1.3
// handshake has finished.  The caller wipes out.
constexpr const char *kEspExporterLabel = "EXPERIMENTAL-lanmesh-esp-v1";
constexpr size_t kEspKeyMaterialLen = 36;  // key(32) || salt(4), one direction
bool tls_export_esp_key(SSL *ssl, uint16_t aead_id, uint32_t epoch, bool client_to_server,
                        uint32_t spi, uint8_t out[36]);

}  // namespace lm
