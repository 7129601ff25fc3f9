// SPDX-License-Identifier: MIT
// lanmesh(8) on a client: what the show commands list, reload, and the
// monitor's events for the connection to the server.  A client changes
// nothing on request: its peers and routes are the server's to give.
#include <openssl/x509.h>

#include "client/client.h"
#include "common/log.h"
#include "control/tls.h"

namespace lm {

static const char *phase_name(int phase) {
    static const char *names[] = {"idle", "connecting", "tls", "waiting-config", "up"};
    return names[phase];
}

static std::string name_in(SSL_CTX *ctx) {
    char cn[256] = "";
    if (X509 *own = SSL_CTX_get0_certificate(ctx))
        X509_NAME_get_text_by_NID(X509_get_subject_name(own), NID_commonName, cn, sizeof cn);
    return cn;
}

// The name our session with the server was admitted under: that of the
// certificate it presented, which a reload does not change.
std::string Client::own_name() const { return name_in(conn_ ? SSL_get_SSL_CTX(conn_->ssl()) : ctx_); }

void Client::link_role(JsonWriter &j, int) {
    bool up = phase_ == Phase::up;
    j.kv("state", phase_name(int(phase_))).kv("server", srv().str()).kv("server_name", cfg_.server_name);
    j.kv("name", own_name()).kv("behind_nat", behind_nat_);
    // The listed servers (failover, docs/DESIGN.md §11): "server" above is
    // the one in use or being tried; its address as dialled, for a name.
    if (server_.is_set()) j.kv("server_address", server_.str());
    if (cfg_.servers.size() > 1) {
        j.begin_array("servers");
        for (const ServerAddress &sa : cfg_.servers) j.value(sa.str());
        j.end_array();
        j.kv("failovers", failovers_);
    }
    // Roaming: how often the route to the server changed under us, or why
    // such changes go unnoticed (client/underlay_watch.h).
    if (underlay_watched_)
        j.kv("underlay_changes", underlay_changes_);
    else
        j.kv("roaming", "off: address and route changes are not watched");
    if (up) {
        j.kv("topology", to_string(current_.topology)).kv("client_to_client", to_string(current_.c2c));
        j.kv("mtu", unsigned(current_.mtu)).kv("address", current_.local4.str());
        if (current_.local6.is_set()) j.kv("address6", current_.local6.str());
        j.kv("epoch", uint64_t(keying_.epoch())).kv("cipher", to_string(current_.cipher));
        j.kv("nat_keepalive", nat_keepalive_s(cfg_.nat_keepalive));
        // The data path to the server (client/path_ladder.h).
        j.kv("data_path", to_string(ladder_.current())).kv("data_path_state", to_string(ladder_.state()));
        if (!ladder_.reason().empty()) j.kv("data_path_reason", ladder_.reason());
    }
    j.begin_array("listen");
    data_sockets_json(j);
    j.end_array();
    control_json(j);
}

void Client::collect_peers(std::vector<PeerView> &out) {
    PeerView v;
    v.tunnel = &tunnel_;
    v.state = phase_name(int(phase_));
    if (phase_ == Phase::up) v.address = current_.gateway4;
    v.control_endpoint = server_str();
    v.rtt_us = phase_ == Phase::up ? rtt_.srtt_us() : -1;
    v.epoch = keying_.epoch();
    if (phase_ == Phase::up) {
        v.data_path = to_string(ladder_.state());
        v.data_path_reason = ladder_.reason();
    }
    v.limits = {int(current_.rekey_after_time), current_.rekey_after_bytes, current_.rekey_after_packets,
                cfg_.rekey_grace};
    out.push_back(std::move(v));
    mesh_.collect_peers(out);
}

void Client::routes_role(JsonWriter &j) {
    if (!applied_) return;
    for (const auto &[dst, gw] : applied_->routes) {
        j.begin_object().kv("prefix", dst.str()).kv("via", cfg_.server_name);
        if (gw.is_set()) j.kv("gateway", gw.str());
        j.kv("dev", dev_).kv("origin", "server");
        // In the kernel (a full tunnel's in its own table), or refused and why.
        bool in_kernel = false;
        for (const auto &k : kernel_routes_)
            if (k.dst == dst && k.via == gw) {
                in_kernel = true;
                if (k.table != kMainTable) j.kv("table", uint64_t(k.table));
            }
        for (const auto &r : refused_routes_)
            if (r.first == dst) j.kv("refused", r.second);
        j.kv("active", phase_ == Phase::up && in_kernel).end_object();
    }
}

void Client::leases_role(JsonWriter &j) {
    if (!current_.local4.is_set()) return;   // never admitted yet
    j.begin_object().kv("name", own_name()).kv("address", current_.local4.str());
    if (current_.local6.is_set()) j.kv("address6", current_.local6.str());
    j.kv("server", srv().str()).kv("active", phase_ == Phase::up).end_object();
}

std::string Client::peer_del_role(const std::string &) {
    return "peer del: only a server disconnects peers (this daemon is a client)";
}

std::string Client::route_change_role(bool add, const Prefix &, const std::string &, bool) {
    return std::string("route ") + (add ? "add" : "del") +
           ": a client's routes come from its server; change them there";
}

bool Client::reload_role(const Config &next, ReloadReport *r, std::string *err) {
    // The next connection uses the files as they are now; this one keeps
    // its certificate and key (the server knows us by them, and pair keys
    // must be signed with that key), and is checked against the new CA and
    // CRL, as are mesh peers from now on.
    if (!reload_tls(ctx_, next, false, err)) return false;
    // The live session keeps the context it was made with (and its own
    // reference to it); without one, the new context is the one in use.
    SSL_CTX *session_ctx = conn_ ? SSL_get_SSL_CTX(conn_->ssl()) : ctx_;
    if (phase_ == Phase::up)   // a changed NatKeepalive applies to the pairs now
        mesh_.set_limits({int(current_.rekey_after_time), current_.rekey_after_bytes, current_.rekey_after_packets,
                          next.rekey_grace},
                         nat_keepalive_s(next.nat_keepalive));
    X509_STORE *store = SSL_CTX_get_cert_store(ctx_);
    mesh_.set_identity(name_in(session_ctx), SSL_CTX_get0_privatekey(session_ctx), store);
    std::string why;
    if (conn_ && conn_->state() == TlsConn::State::established && !tls_recheck_peer(conn_->ssl(), &why, store)) {
        LM_WARN("server %s: cut at reload: %s", srv().str().c_str(), why.c_str());
        event_refused(cfg_.server_name, srv().str(), why);
        r->cut.push_back({cfg_.server_name, why});
        disconnect(why, true);
    }
    return true;
}

void Client::event_connected() {
    emit_event("peer", [&](JsonWriter &j) {
        j.kv("peer", cfg_.server_name).kv("state", "up").kv("address", current_.local4.str());
        j.kv("endpoint", server_str()).kv("encapsulation", to_string(current_.encap));
    });
}

// A lost connection is "peer down"; one that got as far as TLS and ended
// before we were admitted was refused (by the server, or by us).
void Client::event_disconnect(const std::string &why) {
    if (phase_ == Phase::up)
        emit_event("peer", [&](JsonWriter &j) {
            j.kv("peer", cfg_.server_name).kv("state", "down").kv("reason", why);
        });
    else if (phase_ == Phase::tls || phase_ == Phase::waiting_config)
        event_refused(cfg_.server_name, srv().str(), why);
}

}  // namespace lm
