// SPDX-License-Identifier: MIT
#include "registry/registry_probe.h"

#include <openssl/err.h>

#include "registry/etcd.h"

namespace lm {

namespace {

std::string openssl_error() {
    unsigned long e = ERR_get_error();
    ERR_clear_error();
    char b[256] = "unknown error";
    if (e) ERR_error_string_n(e, b, sizeof b);
    return b;
}

// What the HTTP client and etcd.cc say when the far end is reachable but
// not the etcd we should talk to, or we are not who it expects.
bool is_wrong(const std::string &why) {
    for (const char *w : {"certificate", "TLS", "SSL", "ssl", "tls", "not a JSON object", "not an HTTP", "HTTP status",
                          "malformed", "alert", "connection closed"})
        if (why.find(w) != std::string::npos) return true;
    return false;
}

}  // namespace

SSL_CTX *registry_tls_ctx(const RegistryConfig &rc, std::string *err) {
    err->clear();
    bool https = false;
    for (const HttpUrl &u : rc.endpoints) https |= u.tls;
    if (!https) return nullptr;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_load_verify_locations(ctx, rc.ca.c_str(), nullptr) != 1) {
        *err = "[Registry] CA " + rc.ca + ": " + openssl_error();
        if (ctx) SSL_CTX_free(ctx);
        return nullptr;
    }
    if (!rc.certificate.empty() &&
        (SSL_CTX_use_certificate_chain_file(ctx, rc.certificate.c_str()) != 1 ||
         SSL_CTX_use_PrivateKey_file(ctx, rc.key.c_str(), SSL_FILETYPE_PEM) != 1 ||
         SSL_CTX_check_private_key(ctx) != 1)) {
        *err = "[Registry] Certificate/Key " + rc.certificate + ": " + openssl_error();
        SSL_CTX_free(ctx);
        return nullptr;
    }
    return ctx;
}

RegistryProbe probe_registry(const RegistryConfig &rc, SSL_CTX *tls, int timeout_ms) {
    RegistryProbe p;
    for (const HttpUrl &u : rc.endpoints) {
        EtcdOptions o;
        o.endpoints = {u};
        o.tls.ctx = tls;
        o.timeout_ms = timeout_ms;
        Etcd etcd(o);
        std::optional<EtcdKv> kv;
        std::string err;
        // A read of one key under the prefix: any etcd answers it, whatever
        // the data, and it needs no permission beyond what admission needs.
        if (etcd.get(rc.prefix, &kv, &err)) {
            p.answered++;
            continue;
        }
        // etcd.cc prefixes "etcd unreachable: " when the member did not answer
        // as etcd at all; the reason (which names the URL) follows.
        const std::string unreachable = "etcd unreachable: ";
        if (err.rfind(unreachable, 0) == 0) err.erase(0, unreachable.size());
        (is_wrong(err) ? p.wrong : p.unreachable).push_back(err);
    }
    return p;
}

}  // namespace lm
