// SPDX-License-Identifier: MIT
// The servers of the network as the registry in etcd shows them
// (docs/DESIGN.md §11): each server keeps P server/<name> on its own etcd
// lease, so a record that disappears is a server whose lease ended (it
// stopped, died, or lost etcd for longer than the TTL).  The registry
// thread reads them every second; here, on the control thread, the
// difference to the last view becomes a log line and a `server` event.
#include <algorithm>

#include "common/log.h"
#include "registry/registry_probe.h"
#include "registry/revoked.h"
#include "server/server.h"
#include "server/server_peers.h"

namespace lm {

namespace {

constexpr size_t kMaxDeparted = 64;        // departed servers remembered for `link show`
constexpr size_t kMaxNodesListed = 4096;   // nodes listed in `link show` (all are counted)

}  // namespace

void Server::on_registry_view(const RegistryThread::View &v) {
    registry_->set_nodes(by_name_.size());
    if (v.online_read) {
        reg_online_ = v.online;
        reg_online_at_ = time(nullptr);
    }
    if (v.revoked_read && v.revoked != revoked_ids_) {
        revoked_ids_ = v.revoked;
        cut_registry_revoked();
    }
    // The server channels and the routes to other servers' nodes read the
    // same server/ records (and online/, node/ with them).
    if (peers_) peers_->on_directory(v.directory);
    if (!v.ok) return;   // etcd did not answer: the last view stands
    time_t now = time(nullptr);
    const std::string &self = registry_->server_name();
    auto event = [&](const RegistryThread::ServerRec &r, const char *state) {
        emit_event("server", [&](JsonWriter &j) {
            j.kv("name", r.name).kv("state", state);
            if (!r.address.empty()) j.kv("address", r.address);
            j.kv("nodes", r.nodes);
        });
    };
    for (const RegistryThread::ServerRec &r : v.servers) {
        auto it = std::find_if(reg_servers_.begin(), reg_servers_.end(),
                               [&](const KnownServer &k) { return k.rec.name == r.name; });
        if (it == reg_servers_.end()) {
            reg_servers_.push_back({r, true, now});
            // The first view is what was there before us, not news.
            if (reg_seen_ && r.name != self) {
                LM_INFO("registry: server %s joined (%s)", r.name.c_str(), r.address.empty() ? "no address" : r.address.c_str());
                event(r, "joined");
            }
        } else {
            if (!it->alive) {
                LM_INFO("registry: server %s is back (%s)", r.name.c_str(), r.address.c_str());
                it->since = now;
                event(r, "joined");
            }
            it->rec = r;
            it->alive = true;
        }
    }
    for (KnownServer &k : reg_servers_) {
        if (!k.alive) continue;
        bool there = std::any_of(v.servers.begin(), v.servers.end(),
                                 [&](const RegistryThread::ServerRec &r) { return r.name == k.rec.name; });
        if (there) continue;
        k.alive = false;
        k.since = now;
        LM_WARN("registry: server %s left: its etcd lease ended (stopped, died, or cut off from etcd)",
                k.rec.name.c_str());
        event(k.rec, "left");
    }
    std::sort(reg_servers_.begin(), reg_servers_.end(), [](const KnownServer &a, const KnownServer &b) {
        return a.alive != b.alive ? a.alive : a.alive ? a.rec.name < b.rec.name : a.since > b.since;
    });
    size_t alive = std::count_if(reg_servers_.begin(), reg_servers_.end(), [](const KnownServer &k) { return k.alive; });
    if (reg_servers_.size() > alive + kMaxDeparted) reg_servers_.resize(alive + kMaxDeparted);
    reg_seen_ = true;
}

bool Server::check_registry(std::string *err) {
    RegistryProbe p = probe_registry(*cfg_.registry, registry_->tls(), 2000);
    auto join = [](const std::vector<std::string> &v) {
        std::string s;
        for (const auto &x : v) s += (s.empty() ? "" : "; ") + x;
        return s;
    };
    if (!p.answered && !p.wrong.empty()) {
        *err = "[Registry] no etcd endpoint usable: " + join(p.wrong) + " (a wrong CA, certificate or endpoint?)" +
               (p.unreachable.empty() ? "" : "; " + join(p.unreachable) + " (no answer)");
        return false;
    }
    for (const auto &w : p.wrong)
        LM_ERR("registry: %s (a wrong certificate or endpoint?); the other members are used", w.c_str());
    if (!p.answered)
        LM_ERR("registry: no etcd member answers at start (%s); new nodes are refused until one does",
               join(p.unreachable).c_str());
    else
        for (const auto &u : p.unreachable) LM_WARN("registry: %s; the other members are used", u.c_str());
    return true;
}

void Server::publish_revoked() {
    if (!registry_) return;
    std::set<std::pair<std::string, std::string>> ids;
    revoked_in_store(SSL_CTX_get_cert_store(ctx_), &ids);
    if (!registry_->publish_revoked(std::move(ids)))
        LM_WARN("registry: queue full; this CRL's revocations reach the other servers at the next reload");
}

std::string Server::registry_revocation(SSL *ssl) const {
    if (!registry_ || revoked_ids_.empty() || !ssl) return "";
    X509 *cert = SSL_get0_peer_certificate(ssl);
    std::string id = revoked_id(cert);
    if (id.empty() || !revoked_ids_.count(id)) return "";
    return "certificate revoked (serial " + id.substr(0, id.find('@')) + ", listed in the registry)";
}

// A certificate revoked on another server: its sessions here end now, and
// its pairs are told to drop it (cut, docs/DESIGN.md §5).
void Server::cut_registry_revoked() {
    std::vector<std::pair<int, std::string>> doomed;
    for (auto &[fd, s] : sessions_) {
        if (s->dead || s->conn->state() != TlsConn::State::established) continue;
        if (std::string why = registry_revocation(s->conn->ssl()); !why.empty()) doomed.emplace_back(fd, why);
    }
    for (auto &[fd, why] : doomed) {
        Session &s = *sessions_.at(fd);
        LM_WARN("%s (%s): cut: %s", s.name.c_str(), s.tcp_peer.str().c_str(), why.c_str());
        event_refused(s.name, s.tcp_peer.str(), why);
        cut_session(fd, why);
    }
    if (!doomed.empty()) reap();
}

// `lanmesh link show`: inside "registry".
void Server::registry_json(JsonWriter &j) {
    const std::string &self = registry_->server_name();
    j.kv("revoked", uint64_t(revoked_ids_.size()));   // certificates listed under revoked/
    j.begin_array("servers");
    for (const KnownServer &k : reg_servers_) {
        j.begin_object().kv("name", k.rec.name);
        if (!k.rec.address.empty()) j.kv("address", k.rec.address);
        j.kv("nodes", k.rec.nodes).kv("health", k.alive ? "alive" : "gone");
        j.kv("since", int64_t(k.since));
        if (k.rec.name == self) j.kv("self", true);
        // The server channel to it (PeerAddress on both ends).
        if (const char *ch = peers_ && k.alive ? peers_->channel_state(k.rec.name) : nullptr) j.kv("channel", ch);
        j.end_object();
    }
    j.end_array();
    // Which server holds each node online (P online/), read every few seconds.
    if (reg_online_at_) {
        j.kv("nodes_online", uint64_t(reg_online_.size())).kv("nodes_read", int64_t(reg_online_at_));
        j.begin_array("nodes");
        for (size_t i = 0; i < reg_online_.size() && i < kMaxNodesListed; i++)
            j.begin_object().kv("name", reg_online_[i].first).kv("server", reg_online_[i].second).end_object();
        j.end_array();
    }
}

}  // namespace lm
