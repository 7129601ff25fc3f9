// SPDX-License-Identifier: MIT
// Reload (`lanmesh reload`, SIGHUP): the configuration file is read again and
// checked as strictly as at start, so a broken file changes nothing.  Then
// the role reads the TLS files again (a renewed certificate, key or CA serves
// new sessions; the CRL and CA apply to established ones too), ends the
// sessions it now refuses, and applies [Peer] networks; here the keys that
// only steer future behaviour (timers, limits, ciphers, pushed routes, log
// level) are taken over.  Keys that shape the device, the sockets or the
// addresses need a restart: they keep their old value and the reload says
// which they are.
#include "common/log.h"
#include "core/node.h"

namespace lm {

namespace {

// The whole [Registry] as one comparable value: any change needs a restart.
std::string registry_text(const std::optional<RegistryConfig> &r) {
    if (!r) return "";
    std::string t;
    for (const HttpUrl &u : r->endpoints) t += u.str() + " ";
    return t + "|" + r->prefix + "|" + r->name + "|" + std::to_string(r->ttl) + "|" + r->ca + "|" +
           r->certificate + "|" + r->key;
}

std::vector<std::string> restart_only_changes(const Config &a, const Config &b) {
    std::vector<std::string> out;
    auto changed = [&](bool differ, const char *key) {
        if (differ) out.push_back(key);
    };
    changed(a.device != b.device, "Device");
    changed(a.topology != b.topology, "Topology");
    changed(a.pool != b.pool, "Pool");
    changed(a.pool6 != b.pool6, "Pool6");
    changed(a.listen != b.listen, "Listen");
    changed(a.server != b.server, "Server");
    changed(a.server_name != b.server_name, "ServerName");
    changed(a.control_port != b.control_port, "ControlPort");
    changed(a.data_port != b.data_port, "DataPort");
    changed(a.client_to_client != b.client_to_client, "ClientToClient");
    changed(a.encapsulation != b.encapsulation, "Encapsulation");
    changed(a.mtu != b.mtu, "MTU");
    changed(a.workers != b.workers, "Workers");
    changed(a.state_directory != b.state_directory, "StateDirectory");
    changed(a.runtime_directory != b.runtime_directory, "RuntimeDirectory");
    changed(a.debug_key_file != b.debug_key_file, "DebugKeyFile");
    changed(a.user != b.user, "User");
    changed(a.metrics_tcp != b.metrics_tcp || a.metrics_unix != b.metrics_unix, "MetricsListen");
    changed(registry_text(a.registry) != registry_text(b.registry), "[Registry]");
    return out;
}

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
    ConfigError ce;
    auto next = load_config(cfg_.file, &ce);
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
    r->restart_needed = restart_only_changes(cfg_, *next);
    if (!reload_role(*next, r, err)) return false;

    cfg_.crl = next->crl;
    cfg_.ciphers = next->ciphers;
    cfg_.routes = next->routes;
    cfg_.keepalive_interval = next->keepalive_interval;
    cfg_.keepalive_timeout = next->keepalive_timeout;
    cfg_.nat_keepalive = next->nat_keepalive;
    cfg_.handshake_timeout = next->handshake_timeout;
    cfg_.rekey_after_time = next->rekey_after_time;
    cfg_.rekey_after_bytes = next->rekey_after_bytes;
    cfg_.rekey_after_packets = next->rekey_after_packets;
    cfg_.rekey_grace = next->rekey_grace;
    cfg_.log_level = next->log_level;
    apply_log_level(cfg_.log_level);

    LM_INFO("reloaded %s: %zu session(s) cut, %zu network(s) added, %zu removed", cfg_.file.c_str(),
            r->cut.size(), r->routes_added.size(), r->routes_removed.size());
    if (!r->restart_needed.empty())
        LM_WARN("reload: changed keys take effect only at restart: %s", joined(r->restart_needed).c_str());
    return true;
}

void Node::reload_on_signal() {
    LM_INFO("SIGHUP: reloading");
    ReloadReport r;
    std::string err;
    if (!reload(&r, &err)) LM_ERR("reload failed, nothing changed: %s", err.c_str());
}

}  // namespace lm
