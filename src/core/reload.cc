// SPDX-License-Identifier: MIT
// Reload (`lanmesh reload`, SIGHUP): the configuration file is read again and
// checked as strictly as at start, so a broken file changes nothing.  Then
// the role reads the TLS files again (a renewed certificate, key or CA serves
// new sessions; the CRL and CA apply to established ones too), ends the
// sessions it now refuses, and applies [Peer] networks; here the keys that
// only steer future behaviour (timers, limits, ciphers, pushed routes, log
// level) are taken over.  Keys that shape the device, the sockets or the
// addresses need a restart: they keep their old value and the reload says
// which they are.  Which key is which is the key table's column
// (config/config.cc, OnReload), not a list here.
#include <optional>

#include "common/log.h"
#include "core/node.h"

namespace lm {

namespace {

void apply_log_level(const std::string &level) {
    if (level == "debug") log_set_level(LogLevel::debug);
    else if (level == "warning") log_set_level(LogLevel::warn);
    else if (level == "error") log_set_level(LogLevel::err);
    else log_set_level(LogLevel::info);
}

std::string joined(const std::vector<std::string> &v) {
    std::string s;
    for (const auto &x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
}

}  // namespace

bool Node::reload(ReloadReport *r, std::string *err) {
    // Reading and parsing the files blocks: the workers run meanwhile.
    ConfigError ce;
    std::optional<Config> next;
    loop_.unguarded([&] { next = load_config(cfg_.file, &ce); });
    if (!next) {
        *err = ce.message;
        return false;
    }
    next->net = cfg_.net;   // the instance name comes from the command line
    if (next->role != cfg_.role) {
        *err = std::string("Role changed from ") + to_string(cfg_.role) + " to " + to_string(next->role) +
               ": restart the daemon";
        return false;
    }
    r->restart_needed = config_restart_changes(cfg_, *next);
    if (!reload_role(*next, r, err)) return false;

    config_take_live(cfg_, *next);   // the key table says which keys these are
    apply_log_level(cfg_.log_level);

    LM_INFO("reloaded %s: %zu session(s) cut, %zu network(s) added, %zu removed", cfg_.file.c_str(),
            r->cut.size(), r->routes_added.size(), r->routes_removed.size());
    if (!r->restart_needed.empty())
        LM_WARN("reload: changed keys take effect only at restart: %s", joined(r->restart_needed).c_str());
    return true;
}

bool Node::reload_tls(SSL_CTX *&ctx, const Config &next, bool server, std::string *err) {
    std::string warning;
    SSL_CTX *fresh = nullptr;
    loop_.unguarded([&] {   // reads files: the workers run meanwhile
        fresh = tls_reload_ctx(ctx, tls_files_of(cfg_), tls_files_of(next), server, err, &warning);
    });
    if (!fresh) return false;
    if (!warning.empty()) LM_WARN("reload: %s", warning.c_str());
    if (fresh != ctx) {
        SSL_CTX_free(ctx);   // a live session holds its own reference
        ctx = fresh;
        cfg_.ca = next.ca;
        cfg_.certificate = next.certificate;
        cfg_.key = next.key;
        cfg_.ca_pem = next.ca_pem;
        cfg_.certificate_pem = next.certificate_pem;
        cfg_.key_pem = next.key_pem;
        cfg_.remote_cert_tls = next.remote_cert_tls;
    }
    TlsFiles used = tls_files_of(cfg_);
    used.crl = next.crl;
    tls_loaded(ctx, used);
    return true;
}

void Node::reload_on_signal() {
    LM_INFO("SIGHUP: reloading");
    ReloadReport r;
    std::string err;
    if (!reload(&r, &err)) LM_ERR("reload failed, nothing changed: %s", err.c_str());
}

}  // namespace lm
