// SPDX-License-Identifier: MIT
// TLS 1.3 contexts, peer checks and the ESP key exporter (RFC 5705 §4,
// RFC 8446 §7.5; docs/PROTOCOLS.md §5).
#include "control/tls.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "common/bytes.h"
#include "common/log.h"
#include "common/might_block.h"
#include "control/frame.h"

namespace lm {
namespace {

struct Free {
    void operator()(BIO *p) const { BIO_free(p); }
    void operator()(X509 *p) const { X509_free(p); }
    void operator()(X509_CRL *p) const { X509_CRL_free(p); }
    void operator()(X509_STORE *p) const { X509_STORE_free(p); }
    void operator()(X509_STORE_CTX *p) const { X509_STORE_CTX_free(p); }
    void operator()(SSL_CTX *p) const { SSL_CTX_free(p); }
};
template <class T>
using Ptr = std::unique_ptr<T, Free>;

using CertList = std::vector<Ptr<X509>>;
using CrlList = std::vector<Ptr<X509_CRL>>;

// A short text for one queued OpenSSL error.
std::string error_text(unsigned long e) {
    if (ERR_SYSTEM_ERROR(e)) return std::strerror(ERR_GET_REASON(e));
    if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
        return "no PEM data found";
    if (ERR_GET_LIB(e) == ERR_LIB_OSSL_DECODER && ERR_GET_REASON(e) == ERR_R_UNSUPPORTED)
        return "no supported key found";
    const char *s = ERR_reason_error_string(e);
    return s ? s : "error " + std::to_string(ERR_GET_REASON(e));
}

// The oldest queued error (usually the root cause); clears the queue.
std::string openssl_reason() {
    unsigned long e = ERR_get_error();
    ERR_clear_error();
    return e ? error_text(e) : "unknown error";
}

bool set_err(std::string *err, const std::string &what, const std::string &path,
             const std::string &why) {
    if (err) *err = "cannot load " + what + " " + path + ": " + why;
    ERR_clear_error();
    return false;
}

// True when the queued error is the end-of-input marker of a PEM read loop.
bool pem_eof() {
    unsigned long e = ERR_peek_last_error();
    return e == 0 || (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE);
}

// The PEM text given inline, or else the file at `path`.
Ptr<BIO> open_file(const std::string &path, const std::string &pem, const char *what, std::string *err) {
    if (pem.empty()) might_block(BlockingCall::file, what);
    if (!pem.empty()) {
        Ptr<BIO> b(BIO_new_mem_buf(pem.data(), int(pem.size())));
        if (!b) set_err(err, what, path, openssl_reason());
        return b;
    }
    errno = 0;
    Ptr<BIO> b(BIO_new_file(path.c_str(), "r"));
    if (!b) set_err(err, what, path, errno ? std::strerror(errno) : openssl_reason());
    return b;
}

std::string subject(X509 *x) {
    char buf[256] = "";
    X509_NAME_oneline(X509_get_subject_name(x), buf, sizeof buf);
    return buf;
}

bool load_cas(const std::string &path, const std::string &pem, CertList *out, std::string *err) {
    Ptr<BIO> b = open_file(path, pem, "CA", err);
    if (!b) return false;
    ERR_clear_error();
    while (X509 *x = PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr)) out->emplace_back(x);
    if (!pem_eof()) return set_err(err, "CA", path, openssl_reason());
    ERR_clear_error();
    if (out->empty()) return set_err(err, "CA", path, "no PEM certificate found");
    for (const auto &x : *out)
        if (X509_check_ca(x.get()) == 0)
            return set_err(err, "CA", path, "certificate " + subject(x.get()) + " is not a CA");
    return true;
}

// Finds the CA that signed the CRL; nullptr if none.
X509 *crl_signer(X509_CRL *crl, const CertList &cas) {
    for (const auto &ca : cas)
        if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ca.get())) == 0 &&
            X509_CRL_verify(crl, X509_get0_pubkey(ca.get())) == 1)
            return ca.get();
    ERR_clear_error();
    return nullptr;
}

bool read_crls(const std::string &path, CrlList *out, std::string *err) {
    Ptr<BIO> b = open_file(path, "", "CRL", err);
    if (!b) return false;
    ERR_clear_error();
    while (X509_CRL *c = PEM_read_bio_X509_CRL(b.get(), nullptr, nullptr, nullptr))
        out->emplace_back(c);
    if (!pem_eof()) return set_err(err, "CRL", path, openssl_reason());
    if (out->empty() && BIO_reset(b.get()) == 0) {
        if (X509_CRL *c = d2i_X509_CRL_bio(b.get(), nullptr)) out->emplace_back(c);
    }
    ERR_clear_error();
    if (out->empty()) return set_err(err, "CRL", path, "no CRL found");
    return true;
}

bool load_crls(const std::string &path, const CertList &cas, CrlList *out, std::string *err) {
    if (!read_crls(path, out, err)) return false;
    for (const auto &c : *out) {
        char issuer[256] = "";
        X509_NAME_oneline(X509_CRL_get_issuer(c.get()), issuer, sizeof issuer);
        if (!crl_signer(c.get(), cas))
            return set_err(err, "CRL", path,
                           std::string("CRL of ") + issuer + " is not signed by the CA");
    }
    return true;
}

// ---- what the verify callback learns ----
//
// The context says whether peers' certificates must carry their role's
// extendedKeyUsage; each connection records what its verification found
// (bits below), for tls_failure_reason() and tls_admission_problem().

enum VerifyMark : uintptr_t { kMarkNoEku = 1, kMarkCrlExpired = 2, kMarkCrlNotYetValid = 4 };

int ctx_index() {
    static const int i = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return i;
}

int ssl_index() {
    static const int i = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return i;
}

bool requires_eku(SSL *ssl) {
    return SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_index()) != nullptr;
}

uintptr_t marks(SSL *ssl) { return reinterpret_cast<uintptr_t>(SSL_get_ex_data(ssl, ssl_index())); }

void mark(SSL *ssl, uintptr_t m) { SSL_set_ex_data(ssl, ssl_index(), reinterpret_cast<void *>(marks(ssl) | m)); }

// The extendedKeyUsage a peer in the other role must have.
bool has_eku(X509 *x, bool peer_is_server) {
    return (X509_get_extension_flags(x) & EXFLAG_XKUSAGE) &&
           (X509_get_extended_key_usage(x) & (peer_is_server ? XKU_SSL_SERVER : XKU_SSL_CLIENT));
}

// OpenSSL's own purpose check (ssl_client / ssl_server) accepts a
// certificate without extendedKeyUsage for every purpose; with RemoteCertTls
// the leaf must name its role.  A server lets a CRL out of its validity
// period pass here and refuses the client after the handshake, in words
// (tls_admission_problem): the alert OpenSSL would send says "certificate
// expired".  Every other error still fails the handshake, revocation too.
int verify_callback(int ok, X509_STORE_CTX *x) {
    SSL *ssl = static_cast<SSL *>(X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx()));
    if (!ssl) return ok;
    int e = X509_STORE_CTX_get_error(x);
    if (!ok && SSL_is_server(ssl) && (e == X509_V_ERR_CRL_HAS_EXPIRED || e == X509_V_ERR_CRL_NOT_YET_VALID)) {
        mark(ssl, e == X509_V_ERR_CRL_HAS_EXPIRED ? kMarkCrlExpired : kMarkCrlNotYetValid);
        return 1;
    }
    if (ok && X509_STORE_CTX_get_error_depth(x) == 0 && requires_eku(ssl) &&
        !has_eku(X509_STORE_CTX_get_current_cert(x), !SSL_is_server(ssl))) {
        mark(ssl, kMarkNoEku);
        X509_STORE_CTX_set_error(x, X509_V_ERR_INVALID_PURPOSE);
        return 0;
    }
    return ok;
}

time_t to_time(const ASN1_TIME *t) {
    tm tmv{};
    if (!t || ASN1_TIME_to_tm(t, &tmv) != 1) return 0;
    return timegm(&tmv);
}

CrlTimes crl_times(X509_CRL *c) {
    char issuer[256] = "";
    X509_NAME_oneline(X509_CRL_get_issuer(c), issuer, sizeof issuer);
    return {issuer, to_time(X509_CRL_get0_lastUpdate(c)), to_time(X509_CRL_get0_nextUpdate(c))};
}

std::string group_name(EVP_PKEY *key) {
    char name[80] = "";
    size_t len = 0;
    if (EVP_PKEY_get_group_name(key, name, sizeof name, &len) != 1) return "";
    return name;
}

// A store with the CA certificates and, when there are CRLs, those CRLs with
// revocation checking of the leaf certificate.
X509_STORE *make_store(const std::vector<X509 *> &cas, const CrlList &crls) {
    Ptr<X509_STORE> s(X509_STORE_new());
    if (!s) return nullptr;
    for (X509 *x : cas)
        if (X509_STORE_add_cert(s.get(), x) != 1) return nullptr;
    for (const auto &c : crls)
        if (X509_STORE_add_crl(s.get(), c.get()) != 1) return nullptr;
    if (!crls.empty() && X509_STORE_set_flags(s.get(), X509_V_FLAG_CRL_CHECK) != 1) return nullptr;
    return s.release();
}

std::vector<X509 *> raw(const CertList &l) {
    std::vector<X509 *> v;
    for (const auto &x : l) v.push_back(x.get());
    return v;
}

bool install_store(SSL_CTX *ctx, const CertList &cas, const TlsFiles &f, std::string *err) {
    CrlList crls;
    if (!f.crl.empty() && !load_crls(f.crl, cas, &crls, err)) return false;
    X509_STORE *s = make_store(raw(cas), crls);
    if (!s) return set_err(err, "CA", f.ca, openssl_reason());
    SSL_CTX_set_cert_store(ctx, s);  // takes ownership
    return true;
}

// Records that a passphrase was wanted, and gives none.
int refuse_password(char *, int, int, void *asked) {
    *static_cast<bool *>(asked) = true;
    return -1;
}

// The certificate and the chain after it, as SSL_CTX_use_certificate_chain_file
// reads them from a file.
bool use_chain(SSL_CTX *ctx, const TlsFiles &f) {
    if (f.cert_pem.empty()) might_block(BlockingCall::file, "certificate");
    if (f.cert_pem.empty()) return SSL_CTX_use_certificate_chain_file(ctx, f.cert.c_str()) == 1;
    Ptr<BIO> b(BIO_new_mem_buf(f.cert_pem.data(), int(f.cert_pem.size())));
    Ptr<X509> leaf(b ? PEM_read_bio_X509_AUX(b.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!leaf || SSL_CTX_use_certificate(ctx, leaf.get()) != 1 || SSL_CTX_clear_chain_certs(ctx) != 1) return false;
    while (X509 *x = PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr)) {
        if (SSL_CTX_add0_chain_cert(ctx, x) != 1) {
            X509_free(x);
            return false;
        }
    }
    if (!pem_eof()) return false;
    ERR_clear_error();
    return true;
}

bool use_key(SSL_CTX *ctx, const TlsFiles &f) {
    if (f.key_pem.empty()) might_block(BlockingCall::file, "key");
    if (f.key_pem.empty()) return SSL_CTX_use_PrivateKey_file(ctx, f.key.c_str(), SSL_FILETYPE_PEM) == 1;
    Ptr<BIO> b(BIO_new_mem_buf(f.key_pem.data(), int(f.key_pem.size())));
    EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b.get(), nullptr, SSL_CTX_get_default_passwd_cb(ctx),
                                              SSL_CTX_get_default_passwd_cb_userdata(ctx))
                    : nullptr;
    bool ok = k && SSL_CTX_use_PrivateKey(ctx, k) == 1;
    EVP_PKEY_free(k);
    return ok;
}

bool load_cert_and_key(SSL_CTX *ctx, const TlsFiles &f, std::string *err) {
    if (!use_chain(ctx, f)) return set_err(err, "certificate", f.cert, openssl_reason());
    // Never prompt on a terminal for an encrypted key: a daemon has none.
    bool asked = false;
    SSL_CTX_set_default_passwd_cb(ctx, refuse_password);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, &asked);
    bool loaded = use_key(ctx, f);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, nullptr);
    if (!loaded && asked)
        return set_err(err, "key", f.key, "the key is encrypted; an unencrypted key is needed");
    // use_PrivateKey already compares the key with the certificate.
    unsigned long e = ERR_peek_error();
    bool mismatch =
        ERR_GET_LIB(e) == ERR_LIB_X509 && ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH;
    if (!loaded && !mismatch) return set_err(err, "key", f.key, openssl_reason());
    if (mismatch || SSL_CTX_check_private_key(ctx) != 1) {
        if (err) *err = "certificate " + f.cert + " and key " + f.key + " do not match";
        ERR_clear_error();
        return false;
    }
    return true;
}

bool configure(SSL_CTX *ctx, const TlsFiles &f, bool server, std::string *err) {
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
        if (err) *err = "cannot enable TLS 1.3: " + openssl_reason();
        return false;
    }
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    CertList cas;
    if (!load_cas(f.ca, f.ca_pem, &cas, err)) return false;
    if (!load_cert_and_key(ctx, f, err)) return false;
    if (std::string why = tls_own_cert_problem(SSL_CTX_get0_certificate(ctx), SSL_CTX_get0_privatekey(ctx),
                                               server, f.require_eku);
        !why.empty()) {
        if (err) *err = "certificate " + f.cert + ": " + why;
        ERR_clear_error();
        return false;
    }
    if (!install_store(ctx, cas, f, err)) return false;
    SSL_CTX_set_ex_data(ctx, ctx_index(), f.require_eku ? ctx : nullptr);
    if (server) {
        for (const auto &x : cas) SSL_CTX_add_client_CA(ctx, x.get());
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_callback);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_callback);
    }
    ERR_clear_error();
    return true;
}

SSL_CTX *make_ctx(const TlsFiles &f, bool server, std::string *err) {
    Ptr<SSL_CTX> ctx(SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()));
    if (!ctx) {
        if (err) *err = "cannot create TLS context: " + openssl_reason();
        return nullptr;
    }
    if (!configure(ctx.get(), f, server, err)) return nullptr;
    return ctx.release();
}

// ---- failure reasons ----

std::string verify_reason(long vr, SSL *ssl) {
    std::string text = X509_verify_cert_error_string(vr);
    switch (vr) {
    case X509_V_ERR_CERT_REVOKED: return "certificate revoked";
    case X509_V_ERR_CERT_HAS_EXPIRED: return "certificate has expired";
    case X509_V_ERR_CERT_NOT_YET_VALID: return "certificate is not yet valid";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN: return "unknown CA (" + text + ")";
    case X509_V_ERR_UNABLE_TO_GET_CRL: return "no CRL for the certificate's issuer";
    case X509_V_ERR_CRL_HAS_EXPIRED: return "CRL has expired";
    case X509_V_ERR_CRL_NOT_YET_VALID: return "CRL is not yet valid";
    case X509_V_ERR_INVALID_PURPOSE: {
        const char *role = SSL_is_server(ssl) ? "client" : "server";
        std::string r = std::string("certificate is not for a TLS ") + role;
        if (marks(ssl) & kMarkNoEku)
            r += std::string(" (it has no extendedKeyUsage ") + (SSL_is_server(ssl) ? "clientAuth" : "serverAuth") +
                 "; RemoteCertTls = no accepts certificates without extendedKeyUsage)";
        return r;
    }
    case X509_V_ERR_HOSTNAME_MISMATCH: {
        const char *want = X509_VERIFY_PARAM_get0_host(SSL_get0_param(ssl), 0);
        return std::string("certificate name mismatch (want '") + (want ? want : "") + "')";
    }
    default: return "certificate rejected (" + text + ")";
    }
}

// Alerts and conditions we explain specially; "" for anything else.
std::string ssl_reason(int reason) {
    switch (reason) {
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE: return "no certificate presented";
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED: return "peer requires a certificate";
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
        return "peer refused our certificate: certificate revoked";
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
        return "peer refused our certificate: certificate has expired";
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA: return "peer refused our certificate: unknown CA";
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE: {
        const char *s = ERR_reason_error_string(ERR_PACK(ERR_LIB_SSL, 0, reason));
        return std::string("peer refused our certificate: ") + (s ? s : "bad certificate");
    }
    case SSL_R_UNEXPECTED_EOF_WHILE_READING: return "connection closed by peer during handshake";
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
        return "handshake failed: peer does not speak TLS 1.3";
    default: return "";
    }
}

std::string queue_reason() {
    std::string first, special;
    while (unsigned long e = ERR_get_error()) {
        if (first.empty()) first = error_text(e);
        if (special.empty() && ERR_GET_LIB(e) == ERR_LIB_SSL)
            special = ssl_reason(ERR_GET_REASON(e));
    }
    if (!special.empty()) return special;
    return first.empty() ? "" : "handshake failed: " + first;
}

std::string io_reason(int ssl_err, int saved_errno) {
    switch (ssl_err) {
    case SSL_ERROR_ZERO_RETURN: return "connection closed by peer";
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE: return "handshake incomplete (would block)";
    case SSL_ERROR_SYSCALL:
        if (saved_errno) return std::string("handshake failed: ") + std::strerror(saved_errno);
        return "connection closed by peer during handshake";
    default: return "handshake failed";
    }
}

}  // namespace

std::string tls13_key_problem(EVP_PKEY *key) {
    if (!key) return "no key";
    if (EVP_PKEY_is_a(key, "RSA") || EVP_PKEY_is_a(key, "RSA-PSS") || EVP_PKEY_is_a(key, "ED25519") ||
        EVP_PKEY_is_a(key, "ED448"))
        return "";
    if (EVP_PKEY_is_a(key, "EC")) {
        std::string g = group_name(key);
        // TLS 1.3 signs with ECDSA only on the three NIST curves (RFC 8446
        // §4.2.3); the brainpool schemes of RFC 8734 came with OpenSSL 3.2.
        if (g == "prime256v1" || g == "secp384r1" || g == "secp521r1") return "";
        bool brainpool = g == "brainpoolP256r1" || g == "brainpoolP384r1" || g == "brainpoolP512r1";
        if (brainpool && OpenSSL_version_num() >= 0x30200000L) return "";
        return "its key is on curve " + (g.empty() ? std::string("(unknown)") : g) +
               ", which cannot sign a TLS 1.3 handshake with " + OpenSSL_version(OPENSSL_VERSION) +
               ": every handshake would fail; make the key on P-256, P-384 or P-521 (easy-rsa: "
               "EASYRSA_CURVE=secp384r1), or use Ed25519 or RSA";
    }
    const char *type = EVP_PKEY_get0_type_name(key);
    return std::string("its key is of type ") + (type ? type : "unknown") +
           ", which cannot sign a TLS 1.3 handshake: use an EC key on P-256, P-384 or P-521, Ed25519 or RSA";
}

std::string tls_own_cert_problem(X509 *cert, EVP_PKEY *key, bool server, bool require_eku) {
    if (!cert) return "no certificate";
    const char *role = server ? "server" : "client";
    const char *eku = server ? "serverAuth" : "clientAuth";
    int ok = X509_check_purpose(cert, server ? X509_PURPOSE_SSL_SERVER : X509_PURPOSE_SSL_CLIENT, 0);
    ERR_clear_error();
    if (ok != 1)
        return std::string("it is not for a TLS ") + role + " (its keyUsage or extendedKeyUsage forbids it; a " +
               role + " needs extendedKeyUsage " + eku + ")";
    if (require_eku && !has_eku(cert, server))
        return std::string("it has no extendedKeyUsage ") + eku + ", which " +
               (server ? "clients require" : "the server requires") +
               " (RemoteCertTls = no, on every node, accepts certificates without extendedKeyUsage)";
    return tls13_key_problem(key);
}

namespace {
// "" or how a file that holds a private key is open to others:
// "readable by every user (mode 0644)".
std::string key_file_exposure(const std::string &path) {
    might_block(BlockingCall::file, "key file mode");
    struct stat st;
    if (stat(path.c_str(), &st) != 0 || !(st.st_mode & (S_IROTH | S_IWOTH | S_IWGRP))) return "";
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", unsigned(st.st_mode & 07777));
    std::string who = (st.st_mode & S_IROTH) ? "readable by every user" : "writable by others than its owner";
    return who + " (mode " + mode + ")";
}
}  // namespace

std::string tls_key_mode_warning(const std::string &path) {
    std::string how = key_file_exposure(path);
    return how.empty() ? "" : "private key " + path + " is " + how + ": chmod 0600 " + path;
}

// The daemon reads its configuration again on reload as its own user: the
// advice keeps the group's read permission.
std::string tls_key_mode_warning(const TlsFiles &f, const std::string &config_path) {
    if (f.key_pem.empty()) return tls_key_mode_warning(f.key);
    std::string how = key_file_exposure(config_path);
    return how.empty() ? ""
                       : "configuration file " + config_path + " holds the private key inline and is " + how +
                             ": chmod 0640 " + config_path;
}

bool tls_crl_file_times(const std::string &path, std::vector<CrlTimes> *out, std::string *err) {
    CrlList crls;
    if (!read_crls(path, &crls, err)) return false;
    for (const auto &c : crls) out->push_back(crl_times(c.get()));
    return true;
}

std::vector<CrlTimes> tls_crl_times(SSL_CTX *ctx) {
    std::vector<CrlTimes> out;
    X509_STORE *st = SSL_CTX_get_cert_store(ctx);
    X509_STORE_lock(st);
    STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(st);
    for (int i = 0; i < sk_X509_OBJECT_num(objs); i++) {
        X509_OBJECT *o = sk_X509_OBJECT_value(objs, i);
        if (X509_OBJECT_get_type(o) == X509_LU_CRL) out.push_back(crl_times(X509_OBJECT_get0_X509_CRL(o)));
    }
    X509_STORE_unlock(st);
    return out;
}

std::string tls_admission_problem(SSL *ssl) {
    uintptr_t m = marks(ssl);
    if (m & kMarkCrlExpired) return "the server's CRL has expired";
    if (m & kMarkCrlNotYetValid) return "the server's CRL is not yet valid (check the server's clock)";
    return "";
}

SSL_CTX *tls_server_ctx(const TlsFiles &f, std::string *err) { return make_ctx(f, true, err); }
SSL_CTX *tls_client_ctx(const TlsFiles &f, std::string *err) { return make_ctx(f, false, err); }

SSL_CTX *tls_interserver_ctx(const TlsFiles &f, std::string *err) {
    Ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_method()));
    if (!ctx) {
        if (err) *err = "cannot create TLS context: " + openssl_reason();
        return nullptr;
    }
    // The verify callback's extendedKeyUsage rule knows clients and servers
    // only; between servers the purpose below and tls_peer_is_server() do it.
    TlsFiles g = f;
    g.require_eku = false;
    if (!configure(ctx.get(), g, true, err)) return nullptr;
    if (SSL_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER) != 1) {
        if (err) *err = "cannot set the certificate purpose: " + openssl_reason();
        return nullptr;
    }
    return ctx.release();
}

bool tls_peer_is_server(SSL *ssl) {
    X509 *x = SSL_get0_peer_certificate(ssl);
    return x && SSL_get_verify_result(ssl) == X509_V_OK && has_eku(x, true);
}

bool tls_reload_crl(SSL_CTX *ctx, const std::string &crl, std::string *err) {
    X509_STORE *old = SSL_CTX_get_cert_store(ctx);
    CertList cas;
    X509_STORE_lock(old);
    STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(old);
    for (int i = 0; i < sk_X509_OBJECT_num(objs); i++) {
        X509_OBJECT *o = sk_X509_OBJECT_value(objs, i);
        if (X509_OBJECT_get_type(o) != X509_LU_X509) continue;
        X509 *x = X509_OBJECT_get0_X509(o);
        if (X509_up_ref(x) == 1) cas.emplace_back(x);
    }
    X509_STORE_unlock(old);
    if (cas.empty()) {
        if (err) *err = "cannot reload CRL: the TLS context has no CA";
        return false;
    }
    CrlList crls;
    if (!crl.empty() && !load_crls(crl, cas, &crls, err)) return false;
    X509_STORE *s = make_store(raw(cas), crls);
    if (!s) return set_err(err, "CRL", crl, openssl_reason());
    SSL_CTX_set_cert_store(ctx, s);
    return true;
}

bool tls_expect_peer_name(SSL *ssl, const std::string &name) {
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_WILDCARDS);
    bool ok = !name.empty() && SSL_set1_host(ssl, name.c_str()) == 1;
    ERR_clear_error();
    return ok;
}

std::string tls_peer_cn(SSL *ssl) {
    X509 *x = SSL_get0_peer_certificate(ssl);
    if (!x || !SSL_is_init_finished(ssl) || SSL_get_verify_result(ssl) != X509_V_OK) return "";
    X509_NAME *n = X509_get_subject_name(x);
    int i = X509_NAME_get_index_by_NID(n, NID_commonName, -1);
    if (i < 0 || X509_NAME_get_index_by_NID(n, NID_commonName, i) >= 0) return "";
    unsigned char *utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i)));
    if (len < 0) {
        ERR_clear_error();
        return "";
    }
    std::string cn(reinterpret_cast<char *>(utf8), size_t(len));
    OPENSSL_free(utf8);
    if (cn.empty() || cn.size() > 64) return "";
    for (unsigned char c : cn)
        if (c < 0x20 || c == 0x7f) return "";
    return cn;
}

std::string tls_failure_reason(SSL *ssl, int ssl_ret) {
    int saved_errno = errno;
    if (ssl_ret > 0) return "no error";
    int e = SSL_get_error(ssl, ssl_ret);
    long vr = SSL_get_verify_result(ssl);
    if (vr != X509_V_OK) {
        ERR_clear_error();
        return verify_reason(vr, ssl);
    }
    std::string r = queue_reason();
    return r.empty() ? io_reason(e, saved_errno) : r;
}

SSL_CTX *tls_reload_ctx(SSL_CTX *current, const TlsFiles &now, const TlsFiles &next, bool server,
                        std::string *err, std::string *warning) {
    std::string why;
    if (SSL_CTX *fresh = make_ctx(next, server, &why)) return fresh;
    if (next.ca != now.ca || next.cert != now.cert || next.key != now.key || next.ca_pem != now.ca_pem ||
        next.cert_pem != now.cert_pem || next.key_pem != now.key_pem) {
        *err = why;
        return nullptr;
    }
    *warning = "cannot use the TLS files as they are now (" + why + "); keeping the certificate and key, reloading the CRL";
    return tls_reload_crl(current, next.crl, err) ? current : nullptr;
}

bool tls_recheck_peer(SSL *ssl, std::string *reason, X509_STORE *given) {
    X509 *leaf = SSL_get0_peer_certificate(ssl);
    if (!leaf) {
        if (reason) *reason = "no certificate presented";
        return false;
    }
    Ptr<X509_STORE_CTX> x(X509_STORE_CTX_new());
    X509_STORE *store = given ? given : SSL_CTX_get_cert_store(SSL_get_SSL_CTX(ssl));
    if (!x || X509_STORE_CTX_init(x.get(), store, leaf, SSL_get_peer_cert_chain(ssl)) != 1) {
        if (reason) *reason = "cannot verify: " + openssl_reason();
        return false;
    }
    X509_STORE_CTX_set_default(x.get(), SSL_is_server(ssl) ? "ssl_client" : "ssl_server");
    X509_STORE_CTX_set_ex_data(x.get(), SSL_get_ex_data_X509_STORE_CTX_idx(), ssl);
    X509_STORE_CTX_set_verify_cb(x.get(), verify_callback);
    X509_VERIFY_PARAM_set1(X509_STORE_CTX_get0_param(x.get()), SSL_get0_param(ssl));
    bool ok = X509_verify_cert(x.get()) == 1;
    if (!ok && reason) *reason = verify_reason(X509_STORE_CTX_get_error(x.get()), ssl);
    ERR_clear_error();
    return ok;
}

bool tls_export_esp_key(SSL *ssl, uint16_t aead_id, uint32_t epoch, bool client_to_server,
                        uint32_t spi, uint8_t out[36]) {
    uint8_t context[13];
    store_be16(context, kProtoVersion);
    store_be16(context + 2, aead_id);
    store_be32(context + 4, epoch);
    context[8] = client_to_server ? 0 : 1;
    store_be32(context + 9, spi);
    bool ok = SSL_version(ssl) == TLS1_3_VERSION && SSL_is_init_finished(ssl) &&
              SSL_export_keying_material(ssl, out, kEspKeyMaterialLen, kEspExporterLabel,
                                         std::strlen(kEspExporterLabel), context, sizeof context,
                                         1) == 1;
    if (!ok) {
        OPENSSL_cleanse(out, kEspKeyMaterialLen);
        ERR_clear_error();
    }
    return ok;
}

}  // namespace lm
