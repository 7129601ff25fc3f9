// SPDX-License-Identifier: MIT
// lanmesh(8) on a server: what the show commands list, `peer del`, networks
// behind clients added and removed at run time, reload, and the peer events
// of `lanmesh monitor`.
#include <sys/socket.h>

#include <algorithm>

#include "common/log.h"
#include "common/prom.h"
#include "control/tls.h"
#include "server/server.h"

namespace lm {

namespace {

bool overlaps(const Prefix &a, const Prefix &b) { return a.contains(b.addr) || b.contains(a.addr); }

// "" or why `net` cannot be routed to a client: it must not overlap the
// pools or another client's network (the server routes it to exactly one).
std::string conflict(const Prefix &net, const Config &cfg, const std::vector<PeerConfig> &peers) {
    for (const auto &pool : {cfg.pool, cfg.pool6})
        if (pool && overlaps(net, *pool)) return net.str() + " overlaps the address pool " + pool->str();
    for (const auto &pc : peers)
        for (const auto &n : pc.networks) {
            if (n == net) return "route " + net.str() + " already exists via " + pc.name;
            if (overlaps(n, net)) return net.str() + " overlaps " + n.str() + " via " + pc.name;
        }
    return "";
}

size_t pushed_routes(const Config &cfg, const std::vector<PeerConfig> &peers) {
    size_t n = cfg.routes.size();
    for (const auto &pc : peers) n += pc.networks.size();
    return n;
}

bool has_network(const std::vector<PeerConfig> &peers, const std::string &name, const Prefix &net) {
    for (const auto &pc : peers)
        if (pc.name == name && std::find(pc.networks.begin(), pc.networks.end(), net) != pc.networks.end())
            return true;
    return false;
}

void add_network(std::vector<PeerConfig> &peers, const std::string &name, const Prefix &net) {
    for (auto &pc : peers)
        if (pc.name == name) return pc.networks.push_back(net);
    PeerConfig pc;
    pc.name = name;
    pc.networks.push_back(net);
    peers.push_back(std::move(pc));
}

}  // namespace

void Server::link_role(JsonWriter &j, int) {
    IfaceLayout l = plan_.server_layout();
    j.kv("state", "up").kv("topology", to_string(cfg_.topology));
    j.kv("client_to_client", to_string(cfg_.client_to_client)).kv("mtu", mtu_);
    j.kv("address", l.local4.str());
    if (l.local6.is_set()) j.kv("address6", l.local6.str());
    j.kv("pool", cfg_.pool->str());
    if (cfg_.pool6) j.kv("pool6", cfg_.pool6->str());
    j.begin_array("listen");
    for (int fd : listen_fds_) {
        sockaddr_storage ss{};
        socklen_t sl = sizeof ss;
        if (getsockname(fd, reinterpret_cast<sockaddr *>(&ss), &sl) < 0) continue;
        Endpoint ep = Endpoint::from_sockaddr(reinterpret_cast<sockaddr *>(&ss));
        j.begin_object().kv("proto", "tcp").kv("address", ep.str()).end_object();
    }
    data_sockets_json(j);
    j.end_array();
    size_t pending = 0;
    for (auto &[_, s] : sessions_) pending += !s->dead && s->phase != Session::Phase::up;
    j.kv("peer_count", uint64_t(by_name_.size())).kv("pending_handshakes", uint64_t(pending));
    // The limits on unadmitted connections and what they pushed out.
    j.begin_object("handshakes");
    j.kv("pending", uint64_t(pending_.size())).kv("per_source_limit", uint64_t(pending_.limits().per_source));
    j.kv("limit", uint64_t(pending_.limits().total));
    j.kv("evicted_per_source", hs_counters_.evicted_per_source).kv("evicted_total", hs_counters_.evicted_total);
    j.kv("evicted_no_fds", hs_counters_.evicted_no_fds).kv("refused_no_fds", hs_counters_.refused_no_fds);
    j.end_object();
    if (registry_) {
        std::string endpoint, error = registry_->status(&endpoint);
        j.begin_object("registry").kv("state", registry_->available() ? "up" : "unavailable");
        j.kv("server", registry_->server_name()).kv("prefix", cfg_.registry->prefix);
        if (!endpoint.empty()) j.kv("endpoint", endpoint);
        if (!error.empty()) j.kv("error", error);
        registry_json(j);
        j.end_object();
    }
    control_json(j);
}

void Server::metrics_role(PromWriter &w) {
    w.family("lanmesh_pending_handshakes", "gauge", "Connections not admitted yet (TLS or hello pending).")
        .sample(uint64_t(pending_.size()));
    w.family("lanmesh_handshakes_evicted_total", "counter",
             "Pending handshakes pushed out, by limit: per source address, in total, out of file descriptors.")
        .sample({{"limit", "per_source"}}, hs_counters_.evicted_per_source)
        .sample({{"limit", "total"}}, hs_counters_.evicted_total)
        .sample({{"limit", "file_descriptors"}}, hs_counters_.evicted_no_fds);
}

void Server::collect_peers(std::vector<PeerView> &out) {
    for (auto &[name, fd] : by_name_) {
        const Session *s = session_by_name(name);
        if (!s) continue;
        PeerView v;
        v.tunnel = &s->tunnel;
        if (s->lease) {
            v.address = s->lease->addr4;
            v.address6 = s->lease->addr6;
        }
        if (const PeerConfig *pc = cfg_.find_peer(name)) v.networks = pc->networks;
        v.control_endpoint = s->tcp_peer.str();
        v.rtt_us = s->rtt.srtt_us();
        v.epoch = s->keying.epoch();
        v.limits = {cfg_.rekey_after_time, cfg_.rekey_after_bytes, cfg_.rekey_after_packets, cfg_.rekey_grace};
        out.push_back(std::move(v));
    }
    // Configured clients that are not connected are listed as down, with
    // the address they will get, so that a missing branch office shows.
    // Their tunnels are empty stand-ins, valid until the next request.
    offline_.clear();
    for (const auto &pc : cfg_.peers) {
        if (by_name_.count(pc.name)) continue;
        auto &t = offline_.emplace_back(std::make_unique<Tunnel>());
        t->name = pc.name;
        PeerView v;
        v.tunnel = t.get();
        v.state = "down";
        v.path = "-";
        if (const Lease *l = leases_.find_by_name(pc.name)) {
            v.address = l->addr4;
            v.address6 = l->addr6;
        }
        if (pc.address) v.address = *pc.address;
        v.networks = pc.networks;
        out.push_back(std::move(v));
    }
}

void Server::routes_role(JsonWriter &j) {
    for (const auto &pc : cfg_.peers)
        for (const auto &net : pc.networks) {
            bool runtime = std::find(runtime_networks_.begin(), runtime_networks_.end(),
                                     std::make_pair(pc.name, net)) != runtime_networks_.end();
            j.begin_object().kv("prefix", net.str()).kv("via", pc.name).kv("dev", dev_);
            j.kv("origin", runtime ? "runtime" : "config").kv("active", session_by_name(pc.name) != nullptr);
            j.end_object();
        }
}

void Server::leases_role(JsonWriter &j) {
    leases_.for_each([&](const Lease &l, bool active) {
        const PeerConfig *pc = cfg_.find_peer(l.name);
        j.begin_object().kv("name", l.name).kv("address", l.addr4.str());
        if (l.addr6.is_set()) j.kv("address6", l.addr6.str());
        j.kv("fixed", pc && pc->address && *pc->address == l.addr4).kv("active", active).end_object();
    });
}

void Server::cut_session(int fd, const std::string &why) {
    auto it = sessions_.find(fd);
    if (it == sessions_.end() || it->second->dead) return;
    it->second->cut = true;   // its peers drop their pair SAs too (docs/DESIGN.md §5)
    close_session(fd, why, true);
}

std::string Server::peer_del_role(const std::string &name) {
    if (!session_by_name(name)) return "no peer \"" + name + "\" is connected";
    cut_session(by_name_.at(name), "deleted by the administrator");
    reap();
    return "";
}

// The plan's rule, with the client's address as far as it is known: its
// lease, else the fixed Address of its [Peer] section.
IpAddr Server::network_gateway(const std::string &peer, const Prefix &net) const {
    IpAddr client4;
    if (const Lease *l = leases_.find_by_name(peer)) client4 = l->addr4;
    else if (const PeerConfig *pc = cfg_.find_peer(peer); pc && pc->address) client4 = *pc->address;
    return plan_.network_gateway(net, client4);
}

bool Server::install_network(const std::string &peer, const Prefix &net, std::string *err) {
    IpAddr gw = network_gateway(peer, net);
    if (!workers_free([&] { return nl_.route_add(dev_, net, gw.is_set() ? &gw : nullptr, err); })) return false;
    if (Session *s = session_by_name(peer)) {
        s->tunnel.allowed_src.push_back(net);
        routes_.add(net, &s->tunnel);
    }
    return true;
}

void Server::remove_network(const std::string &peer, const Prefix &net) {
    std::string err;
    if (!workers_free([&] { return nl_.route_del(dev_, net, &err); })) LM_WARN("%s", err.c_str());
    if (Session *s = session_by_name(peer)) {
        std::erase(s->tunnel.allowed_src, net);
        routes_.remove(net);
    }
}

std::string Server::route_change_role(bool add, const Prefix &p, const std::string &via, bool force) {
    if (!add) {
        for (auto &pc : cfg_.peers) {
            auto it = std::find(pc.networks.begin(), pc.networks.end(), p);
            if (it == pc.networks.end()) continue;
            remove_network(pc.name, p);
            pc.networks.erase(it);
            std::erase(runtime_networks_, std::make_pair(pc.name, p));
            push_routes();
            return "";
        }
        return "no route " + p.str();
    }
    if (!LeaseStore::valid_name(via)) return "bad peer name \"" + via + "\"";
    // A typo would otherwise make a route that never becomes active.
    if (!force && !cfg_.find_peer(via) && !session_by_name(via))
        return "no peer \"" + via + "\" is configured or connected (add -force to route to it anyway)";
    if (std::string c = conflict(p, cfg_, cfg_.peers); !c.empty()) return c;
    // Clients get these routes in one CONFIG message, which has a limit.
    if (pushed_routes(cfg_, cfg_.peers) >= kMaxPushedRoutes)
        return "too many routes: Route and the networks behind clients add up to " +
               std::to_string(kMaxPushedRoutes);
    std::string err;
    if (!install_network(via, p, &err)) return err;
    add_network(cfg_.peers, via, p);
    runtime_networks_.emplace_back(via, p);
    push_routes();
    return "";
}

bool Server::reload_role(const Config &next, ReloadReport *r, std::string *err) {
    // The TLS files first: when they cannot be used, nothing changes.  New
    // sessions get the new context; established ones keep the certificate
    // they were admitted with, and are checked against the new CA and CRL.
    if (!reload_tls(ctx_, next, true, err)) return false;
    if (peers_) peers_->reload_crl(next.crl);
    publish_revoked();   // for the other servers of the network

    // Every session the new store refuses ends now, with the reason.
    X509_STORE *store = SSL_CTX_get_cert_store(ctx_);
    std::vector<std::pair<int, std::string>> doomed;
    for (auto &[fd, s] : sessions_) {
        std::string why;
        if (!s->dead && s->conn->state() == TlsConn::State::established &&
            !tls_recheck_peer(s->conn->ssl(), &why, store))
            doomed.emplace_back(fd, why);
    }
    for (auto &[fd, why] : doomed) {
        Session &s = *sessions_.at(fd);
        LM_WARN("%s (%s): cut at reload: %s", s.name.c_str(), s.tcp_peer.str().c_str(), why.c_str());
        event_refused(s.name, s.tcp_peer.str(), why);
        r->cut.push_back({s.name.empty() ? s.tcp_peer.str() : s.name, why});
        cut_session(fd, why);
    }
    reap();

    // Networks behind clients: the file's, plus those added at run time
    // that the file does not now route elsewhere.
    std::vector<PeerConfig> live = next.peers;
    std::vector<std::pair<std::string, Prefix>> kept;
    for (const auto &[name, net] : runtime_networks_) {
        if (has_network(next.peers, name, net)) continue;   // the file has it now
        std::string c = conflict(net, next, live);
        if (c.empty() && pushed_routes(next, live) >= kMaxPushedRoutes) c = "too many routes";
        if (!c.empty()) {
            LM_WARN("reload: route %s via %s (added at run time) dropped: %s", net.str().c_str(), name.c_str(),
                    c.c_str());
            continue;
        }
        add_network(live, name, net);
        kept.emplace_back(name, net);
    }
    runtime_networks_ = std::move(kept);
    std::vector<PeerConfig> old = std::move(cfg_.peers);
    for (const auto &pc : old)
        for (const auto &net : pc.networks)
            if (!has_network(live, pc.name, net)) {
                remove_network(pc.name, net);
                r->routes_removed.push_back(net.str() + " via " + pc.name);
            }
    cfg_.peers = std::move(live);
    leases_.set_fixed(cfg_.peers);   // a newly fixed address is nobody else's from now on
    if (registry_) registry_->set_fixed(fixed_addresses());
    for (const auto &pc : cfg_.peers)
        for (const auto &net : pc.networks) {
            if (has_network(old, pc.name, net)) continue;
            std::string e;
            if (install_network(pc.name, net, &e))
                r->routes_added.push_back(net.str() + " via " + pc.name);
            else
                LM_WARN("reload: %s", e.c_str());
        }

    RekeyLimits limits{next.rekey_after_time, next.rekey_after_bytes, next.rekey_after_packets, next.rekey_grace};
    for (auto &[_, s] : sessions_)
        if (!s->dead) s->keying.set_limits(limits);
    cfg_.routes = next.routes;   // Node::reload takes it over too; needed here for the push
    push_routes();
    return true;
}

void Server::event_peer_up(const Session &s) {
    emit_event("peer", [&](JsonWriter &j) {
        j.kv("peer", s.name).kv("state", "up");
        if (s.lease) j.kv("address", s.lease->addr4.str());
        j.kv("endpoint", s.tcp_peer.str()).kv("encapsulation", to_string(s.tunnel.encap));
    });
}

void Server::event_peer_down(const Session &s, const std::string &why) {
    emit_event("peer", [&](JsonWriter &j) { j.kv("peer", s.name).kv("state", "down").kv("reason", why); });
}

}  // namespace lm
