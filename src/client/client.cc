// SPDX-License-Identifier: MIT
#include "client/client.h"

#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/rand.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "common/log.h"
#include "core/sd_notify.h"
#include "control/tls.h"
#include "esp/wire.h"
#include "net/route_mtu.h"

namespace lm {

static constexpr int kMaxBackoff = 30;
// With several servers listed: a ping after 2 s of silence, the server
// given up after 6 s without an answer.
static constexpr int kFailoverPingS = 2, kFailoverSilenceS = 6;

Client::Client(const Config &cfg)
    : Node(cfg),
      keying_(sas_, tunnel_, false, &keys_),
      mesh_(MeshClient::Env{&dp_, &sas_, &keys_, &tunnel_, &counters_,
                            [this](MsgType t, const std::vector<uint8_t> &p) {
                                if (!conn_ || phase_ != Phase::up) return false;
                                conn_->send(t, p);
                                conn_->flush();
                                update_interest();
                                return true;
                            },
                            [this](const std::string &peer, const char *path, const std::string &ep) {
                                LM_DEBUG("path %s: %s %s", peer.c_str(), path, ep.c_str());
                                emit_event("path", [&](JsonWriter &j) {
                                    j.kv("peer", peer).kv("path", path);
                                    if (!ep.empty() && ep != "-") j.kv("endpoint", ep);
                                });
                            },
                            [this] { return rebind_data_socket(); },
                            nullptr,
                            nullptr,
                            nullptr,
                            [this](int family, uint16_t port, int reuse) { return adopt_port(family, port, reuse); },
                            [this](int fd) { mark_socket(fd, "birthday punching socket"); }}) {}

int Client::adopt_port(int family, uint16_t port, int reuse) {
    std::string err;
    int idx = reuse >= 0 ? (data_.rebind_udp(reuse, &err, port) ? reuse : -1) : data_.open_udp(family, nullptr, port, &err);
    if (idx < 0) LM_WARN("cannot open a data socket on port %u: %s", unsigned(port), err.c_str());
    return idx;
}

uint16_t Client::rebind_data_socket() {
    std::string err;
    uint16_t port = data_.rebind_udp(tunnel_.udp_sock, &err);
    if (!port) {
        LM_WARN("cannot move the data socket: %s", err.c_str());
        return 0;
    }
    // The server learns the new mapping from this authenticated packet.
    dp_.send_dummy(tunnel_);
    return port;
}

Client::~Client() {
    conn_.reset();
    if (tcp_fd_ >= 0) close(tcp_fd_);
    if (ctx_) SSL_CTX_free(ctx_);
}

bool Client::load_tls(std::string *err) {
    ctx_ = tls_client_ctx(tls_files_of(cfg_), err);
    if (!ctx_) return false;
    tls_loaded(ctx_, tls_files_of(cfg_));
    return true;
}

bool Client::start_role(std::string *err) {
    // Our own name is our certificate's; pair keys are signed with its key
    // and peers' certificates checked against the same CA and CRL.
    char cn[256] = "";
    if (X509 *own = SSL_CTX_get0_certificate(ctx_))
        X509_NAME_get_text_by_NID(X509_get_subject_name(own), NID_commonName, cn, sizeof cn);
    mesh_.set_identity(cn, SSL_CTX_get0_privatekey(ctx_), SSL_CTX_get_cert_store(ctx_));
    // A server name may resolve to either family: sockets for both, the
    // first one required.
    // Every listed server's family gets a socket; a name may resolve to
    // either.  The first server's family is required.
    std::vector<int> families;
    for (const ServerAddress &sa : cfg_.servers) {
        std::vector<int> fams{sa.addr.family};
        if (sa.is_name()) fams = {AF_INET, AF_INET6};
        for (int f : fams)
            if (std::find(families.begin(), families.end(), f) == families.end()) families.push_back(f);
    }
    for (size_t i = 0; i < families.size(); i++) {
        int fam = families[i];
        const char *fname = fam == AF_INET ? "IPv4" : "IPv6";
        // ESP in UDP from the data port, like RFC 3948's 4500 -> 4500; if
        // that is taken on this host, any port does (the server learns it).
        std::string e;
        if (data_.open_udp(fam, nullptr, cfg_.data_port, &e) < 0) {
            LM_WARN("%s; using an ephemeral port", e.c_str());
            if (data_.open_udp(fam, nullptr, 0, &e) < 0) {
                if (i == 0) {
                    *err = e;
                    return false;
                }
                LM_WARN("no %s data socket, %s servers are skipped: %s", fname, fname, e.c_str());
                continue;
            }
        }
        if ((cfg_.encapsulation == Encapsulation::auto_ || cfg_.encapsulation == Encapsulation::raw) &&
            !data_.open_raw(fam, nullptr, &e))
            LM_WARN("raw ESP unavailable over %s, asking for ESP in UDP: %s", fname, e.c_str());
    }
    mark_sockets();
    data_.for_each([this](Dataplane &dp) {
        unsigned mtu = dp.policy.inner_mtu;
        dp.policy = DataPolicy::client(&tunnel_, &mesh_.routes());
        dp.policy.inner_mtu = mtu;
    });
    data_.on_non_esp = [this](const uint8_t *p, size_t n, const Endpoint &from, int idx) {
        mesh_.on_non_esp(p, n, from, idx);
    };
    data_.on_stream_out = [this](const Tunnel *t, const uint8_t *p, size_t n) { on_stream_out(t, p, n); };
    data_.on_stream_end = [this] {
        if (!stream_pending_ || !conn_) return;
        stream_pending_ = false;
        conn_->flush();   // a failure shows at the next read or tick
        update_interest();
    };
    tunnel_.name = cfg_.server_name;
    tunnel_.udp_sock = 0;
    tun_ifindex_ = int(if_nametoindex(dev_.c_str()));
    std::string werr;
    underlay_watched_ = underlay_.start(loop_, tun_ifindex_, kRouteProto, [this] { on_underlay_change(); }, &werr);
    if (!underlay_watched_)
        LM_WARN("roaming: %s; a change of address or route is noticed only when keepalives time out",
                werr.c_str());
    next_connect_ms_ = EventLoop::now_ms();
    // A name is looked up in a thread, and threads start only after the
    // privileges are dropped: the first tick connects.
    if (!srv().is_name()) connect();
    return true;
}

std::string Client::server_str() const {
    if (!srv().is_name()) return srv().str();
    if (!server_.is_set()) return srv().str();
    return server_.str() + " (" + srv().host + ")";
}

void Client::start_resolve() {
    phase_ = Phase::connecting;
    resolving_ = true;
    deadline_ms_ = EventLoop::now_ms() + int64_t(cfg_.handshake_timeout) * 1000;
    std::string err;
    bool ok = resolver_.resolve(
        srv().host,
        [this](const std::vector<IpAddr> &addrs, const std::string &e) { on_resolved(addrs, e); }, &err);
    if (!ok) {
        resolving_ = false;
        disconnect(err, false);
    }
}

void Client::on_resolved(const std::vector<IpAddr> &addrs, const std::string &err) {
    resolving_ = false;
    const std::string &host = srv().host;
    if (!err.empty()) {
        disconnect("cannot resolve " + host + ": " + err, false);
        return;
    }
    std::string list;
    server_addrs_.clear();
    for (const IpAddr &a : addrs) {
        list += (list.empty() ? "" : ", ") + a.str();
        server_addrs_.push_back(Endpoint{a, srv().port});
    }
    // Said once per answer that differs from the last one.
    if (list != last_resolved_) LM_INFO("server name %s resolved to %s", host.c_str(), list.c_str());
    last_resolved_ = list;
    connect();
}

void Client::on_underlay_change() {
    UnderlayRoute now;
    std::string err;
    const IpAddr server = server_.addr;
    if (!server.is_set()) {
        // No address yet (a name not resolved): try again now.
        if (phase_ == Phase::idle) {
            backoff_s_ = 1;
            connect();
        }
        return;
    }
    if (!workers_free([&] { return underlay_route_to(server, &now, &err); })) {
        LM_WARN("underlay changed, but the route to the server is unknown: %s", err.c_str());
        return;
    }
    // Through our own device (a full tunnel without protection): not the
    // underlay's doing, and registering again would not help.
    if (now.found && now.oif == tun_ifindex_) return;
    if (now == route_) return;   // not on our way to the server
    UnderlayRoute was = route_;
    route_ = now;
    underlay_changes_++;
    if (!now.found) {
        LM_WARN("underlay changed: no route to the server %s any more (was %s)", server.str().c_str(),
                was.str().c_str());
        if (phase_ != Phase::idle) disconnect("underlay changed: no route to the server", false);
        // The next change that brings a route connects at once.
        backoff_s_ = 1;
        return;
    }
    LM_INFO("underlay changed: route to the server %s now %s (was %s); registering again", server.str().c_str(),
            now.str().c_str(), was.str().c_str());
    // Pairs' direct paths left with the old address or route; traffic goes
    // through the server until punching from here finds them again.
    mesh_.repunch_all();
    // A fresh port: no NAT on the way keeps state for it (docs/PROTOCOLS.md §10).
    std::string e;
    if (!data_.rebind_udp(tunnel_.udp_sock, &e)) LM_WARN("cannot move the data socket: %s", e.c_str());
    // No bye: the server keeps our pairs for the session that replaces this one.
    reconnect_now_ = true;
    if (phase_ != Phase::idle) disconnect("underlay changed", false);
    reconnect_now_ = false;
    backoff_s_ = 1;
    server_addrs_.clear();   // a name is looked up again
    connect();
}

void Client::connect() {
    // Each round of attempts takes the server's addresses anew: a name is
    // looked up again, as its addresses may have changed.  The addresses
    // are tried in order; the backoff starts when none answered.
    if (server_addrs_.empty()) {
        if (srv().is_name()) {
            start_resolve();
            return;
        }
        server_addrs_.push_back(Endpoint{srv().addr, srv().port});
    }
    server_ = server_addrs_.front();
    server_addrs_.erase(server_addrs_.begin());
    // Routes kept while moving to this server must not take the way to it.
    if (std::any_of(kernel_routes_.begin(), kernel_routes_.end(), [&](const KernelRoute &k) {
            return k.table == kMainTable && k.dst.contains(server_.addr);
        })) {
        LM_INFO("removing the pushed routes: they hold the address of %s", server_.str().c_str());
        remove_routes();
    }
    int fam = server_.addr.family;
    tunnel_.udp_sock = std::max(0, data_.udp_for_family(fam));
    raw_available_ = (cfg_.encapsulation == Encapsulation::auto_ || cfg_.encapsulation == Encapsulation::raw) &&
                     data_.raw_fd(fam) >= 0;
    keying_.outer_v6 = fam == AF_INET6;
    // The route this connection takes, to tell a later change from it.
    std::string rerr;
    if (underlay_watched_ && !workers_free([&] { return underlay_route_to(server_.addr, &route_, &rerr); }))
        LM_DEBUG("route to the server: %s", rerr.c_str());
    phase_ = Phase::connecting;
    ctl_counters_.connects++;
    deadline_ms_ = EventLoop::now_ms() + int64_t(cfg_.handshake_timeout) * 1000;
    if (data_.udp_for_family(fam) < 0) {
        disconnect("no data socket for " + server_.str(), false);
        return;
    }
    tcp_fd_ = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (tcp_fd_ < 0) {
        disconnect(std::string("socket: ") + strerror(errno), false);
        return;
    }
    int one = 1;
    setsockopt(tcp_fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    mark_socket(tcp_fd_, "control socket");
    sockaddr_storage ss;
    socklen_t sl = server_.to_sockaddr(&ss);
    int r = ::connect(tcp_fd_, reinterpret_cast<sockaddr *>(&ss), sl);
    if (r < 0 && errno != EINPROGRESS) {
        disconnect("connect " + server_str() + ": " + strerror(errno), false);
        return;
    }
    loop_.add(tcp_fd_, EPOLLOUT, [this](uint32_t) { on_tcp_connected(); });
}

void Client::on_tcp_connected() {
    int soerr = 0;
    socklen_t l = sizeof soerr;
    getsockopt(tcp_fd_, SOL_SOCKET, SO_ERROR, &soerr, &l);
    loop_.remove(tcp_fd_);
    if (soerr) {
        disconnect("connect " + server_str() + ": " + strerror(soerr), false);
        return;
    }
    sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(tcp_fd_, reinterpret_cast<sockaddr *>(&ss), &sl);
    local_addr_ = Endpoint::from_sockaddr(reinterpret_cast<sockaddr *>(&ss)).addr;
    int fd = tcp_fd_;
    tcp_fd_ = -1;
    conn_ = std::make_unique<TlsConn>(ctx_, fd, false, handshake_runner());
    // Pair keys are signed with the key of the certificate this session
    // presents (a reload may have brought a renewed one).
    mesh_.set_identity(own_name(), SSL_CTX_get0_privatekey(ctx_), SSL_CTX_get_cert_store(ctx_));
    // The server must present a certificate for ServerName.
    tls_expect_peer_name(conn_->ssl(), cfg_.server_name);
    phase_ = Phase::tls;
    loop_.add(fd, uint32_t(EPOLLIN | EPOLLOUT), [this](uint32_t) { on_io(); });
    on_io();
}

// Back-pressure as on the server: while our output queue is full we stop
// reading the server (control/tls_conn.h).
void Client::update_interest() {
    if (conn_)
        loop_.modify(conn_->fd(), (conn_->wants_read() ? uint32_t(EPOLLIN) : 0u) |
                                      (conn_->wants_write() ? uint32_t(EPOLLOUT) : 0u));
}

// TlsConn gave up on the connection; what it says decides what is counted.
void Client::conn_failed() {
    if (conn_->output_overflow()) {
        ctl_counters_.output_full_cuts++;
        disconnect(conn_->error(), false);
    } else if (auto e = conn_->proto_error(); e && phase_ != Phase::tls) {
        protocol_error(*e, conn_->error());
    } else {
        disconnect(conn_->error(), false);
    }
}

bool Client::protocol_error(ProtoError e, const std::string &why) {
    count_protocol_error(e);
    disconnect(std::string("protocol error (") + to_string(e) + "): " + why, true);
    return false;
}

void Client::on_io() {
    if (!conn_) return;
    bool ok = conn_->on_io([this](MsgType t, const std::vector<uint8_t> &p) { return on_frame(t, p); });
    dying_.reset();
    if (!conn_) return;   // a handler disconnected
    if (!ok) {
        if (conn_->just_established()) phase_ = Phase::waiting_config;
        conn_failed();
        return;
    }
    if (conn_->just_established()) {
        phase_ = Phase::waiting_config;
        Hello h;
        h.ciphers = cfg_.ciphers;
        my_spi_ = keying_.reserve_spi();
        h.spi_s2c = my_spi_;
        h.encap = cfg_.encapsulation == Encapsulation::tls || raw_available_ ? cfg_.encapsulation
                                                                             : Encapsulation::udp;
        h.local_addrs = {local_addr_};
        h.data_port = data_.udp_port(tunnel_.udp_sock);
        // The pairs we hold: a server that restarted, or saw us reconnect,
        // takes up those our peers hold too.
        h.pairs = mesh_.held_pairs();
        conn_->send(MsgType::hello, encode(h));
        conn_->flush();
    }
    update_interest();
}

bool Client::on_frame(MsgType type, const std::vector<uint8_t> &payload) {
    last_rx_ms_ = EventLoop::now_ms();
    std::string err;
    auto unexpected = [&](const std::string &why) { return protocol_error(ProtoError::unexpected_type, why); };
    auto bad_payload = [&](const std::string &why) { return protocol_error(ProtoError::bad_payload, why); };
    if (phase_ == Phase::waiting_config) {
        if (type == MsgType::bye) {
            Bye b;
            decode(payload, &b, &err);
            disconnect("server refused us: " + b.reason, false);
            return false;
        }
        if (type != MsgType::config) return unexpected(std::string("expected config, got ") + to_string(type));
        ConfigMsg m;
        if (!decode(payload, &m, &err)) return bad_payload(err);
        return on_config(m);
    }
    ControlSession::Frame f = session().on_frame(type, payload, EventLoop::now_us());
    switch (f.kind) {
    case ControlSession::Frame::handled: return true;
    case ControlSession::Frame::bad_payload: return bad_payload(f.text);
    case ControlSession::Frame::rekeyed:
        session_rekeyed(cfg_.server_name, f.epoch, f.we_started);
        return true;
    case ControlSession::Frame::bye:
        replaced_ = f.text.rfind(kByeReplaced, 0) == 0;
        disconnect("server said bye: " + f.text, false);
        return false;
    case ControlSession::Frame::not_mine: break;
    }
    switch (type) {
    case MsgType::esp:
        dp_.on_stream_esp(tunnel_, payload.data(), payload.size());
        return true;
    case MsgType::route_update: {
        RouteUpdate m;
        if (!decode(payload, &m, &err)) return bad_payload(err);
        on_route_update(m);
        return true;
    }
    case MsgType::peer_info: {
        PeerInfo m;
        if (!decode(payload, &m, &err)) return bad_payload(err);
        mesh_.on_peer_info(m);
        return true;
    }
    case MsgType::peer_key: {
        PeerKey m;
        if (!decode(payload, &m, &err)) return bad_payload(err);
        mesh_.on_peer_key(m);
        return true;
    }
    case MsgType::peer_gone: {
        PeerGone m;
        if (!decode(payload, &m, &err)) return bad_payload(err);
        mesh_.on_peer_gone(m);
        return true;
    }
    default:
        return unexpected(std::string("unexpected ") + to_string(type));
    }
}

void Client::on_route_update(const RouteUpdate &m) {
    if (!applied_) return;
    applied_->routes = m.routes;
    sync_routes(m.routes);
    LM_INFO("routes from the server: %zu", m.routes.size());
}

bool Client::on_config(const ConfigMsg &m) {
    std::string err;
    if (std::find(cfg_.ciphers.begin(), cfg_.ciphers.end(), m.cipher) == cfg_.ciphers.end()) {
        return protocol_error(ProtoError::bad_payload,
                              std::string("server chose a cipher we did not offer: ") + to_string(m.cipher));
    }
    if (m.encap == Encapsulation::raw && !raw_available_) {
        disconnect("server chose raw ESP, which we cannot use", true);
        return false;
    }
    current_ = m;
    keying_.set_cipher(m.cipher);
    keying_.set_limits({int(m.rekey_after_time), m.rekey_after_bytes, m.rekey_after_packets, cfg_.rekey_grace});
    if (!keying_.install_initial(conn_->ssl(), my_spi_, m.spi_c2s, &err)) {
        disconnect(err, true);
        return false;
    }
    tunnel_.encap = m.encap;
    tunnel_.udp_peer = Endpoint{server_.addr, m.data_port};
    tunnel_.udp_sock = 0;
    tunnel_.raw_peer = server_.addr;
    server_addrs_.clear();   // the next reconnect starts a new round
    servers_failed_ = 0;     // and with this server
    tunnel_.clear_last_rx();
    behind_nat_ = m.observed.is_set() && !(m.observed.addr == local_addr_);
    if (!apply_layout(m, &err)) {
        LM_ERR("cannot configure %s: %s", dev_.c_str(), err.c_str());
        disconnect("device configuration failed", true);
        return false;
    }
    phase_ = Phase::up;
    backoff_s_ = 1;
    role_warning_.clear();
    mesh_.set_limits({int(m.rekey_after_time), m.rekey_after_bytes, m.rekey_after_packets, cfg_.rekey_grace},
                     nat_keepalive_s(cfg_.nat_keepalive));
    mesh_.on_reconnect();
    if (behind_nat_) mesh_.set_public_addr(m.observed.addr);
    last_ping_ms_ = EventLoop::now_ms();
    LM_INFO("connected to %s: %s%s%s via %s, %s, %s%s, mtu %u", server_str().c_str(), m.local4.str().c_str(),
            m.local6.is_set() ? " " : "", m.local6.is_set() ? m.local6.str().c_str() : "", dev_.c_str(),
            to_string(m.cipher), encap_words(m.encap), behind_nat_ && m.encap == Encapsulation::udp ? " (NAT)" : "",
            unsigned(m.mtu));
    event_connected();
    // READY=1 waits until the data path is proven (path_report); the first
    // dummy registers our outer address with the server.
    path_start(m);
    return true;
}

int Client::path_mtu() const {
    // The kernel's MTU of the route to the server, less the worst-case ESP
    // overhead for our encapsulation.
    Endpoint ep{server_.addr, current_.data_port ? current_.data_port : kDefaultPort};
    int mtu = route_mtu(ep, data_.fwmark());
    if (!mtu) return 0;
    int fam = server_.addr.family;
    return mtu - int(esp_path_overhead(fam, current_.encap == Encapsulation::udp));
}

// Addresses and MTU; the routes are synchronised on their own.
static bool same_layout(const ConfigMsg &a, const ConfigMsg &b) {
    return a.local4 == b.local4 && a.prefix4 == b.prefix4 && a.peer4 == b.peer4 && a.local6 == b.local6 &&
           a.prefix6 == b.prefix6 && a.mtu == b.mtu && a.encap == b.encap;
}

// A reconnect with the same layout keeps the device and its addresses (direct
// pairs carry on) and only puts the pushed routes back.
bool Client::apply_layout(const ConfigMsg &m, std::string *err) {
    if (applied_ && same_layout(*applied_, m)) {
        applied_->routes = m.routes;
        sync_routes(m.routes);
        return true;
    }
    workers_free([&] {
        nl_.cleanup();
        return true;
    });
    kernel_routes_.clear();
    int mtu = m.mtu;
    if (cfg_.mtu) mtu = std::min(mtu, cfg_.mtu);
    if (int p = path_mtu(); p >= 576) mtu = std::min(mtu, p);
    if (!configure_link(mtu, err)) return false;
    if (!workers_free([&] {
            return nl_.addr_add(dev_, m.local4, m.prefix4, m.peer4.is_set() ? &m.peer4 : nullptr, err) &&
                   (!m.local6.is_set() || nl_.addr_add(dev_, m.local6, m.prefix6, nullptr, err));
        }))
        return false;
    applied_ = m;
    sync_routes(m.routes);
    return true;
}

// Our own networks and the routes into the TUN: outer packets from there
// came back through the tunnel.  A route that holds the server's address is
// left out: the server's packets would otherwise be refused whenever
// something else (a host route, a rule) still takes them past the TUN.  So
// are a full tunnel's routes: our own marked packets never take them
// (net/policy_rules.h), and peers' public addresses are in them.
void Client::set_overlay() {
    std::vector<Prefix> in;
    if (!applied_) return;
    const IpAddr &server = server_.addr;
    auto add = [&](const Prefix &p) {
        if (!p.contains(server)) in.push_back(p);
    };
    add(Prefix{applied_->local4, applied_->prefix4});
    if (applied_->local6.is_set()) add(Prefix{applied_->local6, applied_->prefix6});
    for (auto &r : kernel_routes_)
        if (r.table == kMainTable) add(r.dst);
    data_.for_each([&](Dataplane &dp) { dp.policy.overlay = in; });
}

void Client::disconnect(const std::string &why, bool send_bye) {
    if (conn_ && send_bye) ControlSession::send_bye(*conn_, why);
    bool was_up = phase_ == Phase::up;
    event_disconnect(why);
    // What comes next: another address of this server's name, or the next
    // listed server (failover, docs/DESIGN.md §11), both at once; else a
    // pause.
    bool another_addr = !was_up && !reconnect_now_ && !replaced_ && !server_addrs_.empty();
    bool failover = !another_addr && !reconnect_now_ && !replaced_ && servers_failed_ + 1 < cfg_.servers.size();
    // Without a server its routes lead nowhere: a full tunnel would cut
    // the host off.  The device and its addresses stay (direct pairs carry
    // on); the routes come back with the next admission.  While we move
    // straight on to another server they stay too: it hands out the same,
    // and only what differs changes then.
    if (!kernel_routes_.empty() && !another_addr && !failover) {
        LM_INFO("removing the server's %zu route%s until it is back", kernel_routes_.size(),
                kernel_routes_.size() == 1 ? "" : "s");
        remove_routes();
    }
    if (conn_) {
        loop_.remove(conn_->fd());
        dying_ = std::move(conn_);
    }
    if (tcp_fd_ >= 0) {
        loop_.remove(tcp_fd_);
        close(tcp_fd_);
        tcp_fd_ = -1;
    }
    keying_.clear();
    if (was_up) ctl_counters_.disconnected++;
    phase_ = Phase::idle;
    resolver_.cancel();
    resolving_ = false;
    if (another_addr) {
        // Another address of the server's name: tried at the next tick.
        LM_WARN("connection failed: %s; trying %s next", why.c_str(), server_addrs_.front().str().c_str());
        next_connect_ms_ = EventLoop::now_ms();
        return;
    }
    server_addrs_.clear();
    if (failover) {
        servers_failed_++;
        failovers_++;
        server_idx_ = (server_idx_ + 1) % cfg_.servers.size();
        server_.addr = IpAddr{};   // a name is looked up again; nothing tried yet
        LM_WARN("%s: %s; trying the next server, %s", was_up ? "disconnected" : "connection failed", why.c_str(),
                srv().str().c_str());
        next_connect_ms_ = EventLoop::now_ms();
        return;
    }
    // Every listed server failed in a row: the next round, after the pause,
    // starts with the one after this.
    servers_failed_ = 0;
    if (!reconnect_now_ && !replaced_ && cfg_.servers.size() > 1) {
        server_idx_ = (server_idx_ + 1) % cfg_.servers.size();
        server_.addr = IpAddr{};
    }
    if (reconnect_now_) {
        LM_WARN("%s: %s; connecting again now", was_up ? "disconnected" : "connection given up", why.c_str());
        next_connect_ms_ = EventLoop::now_ms();
        return;
    }
    // Exponential backoff with jitter so a restarted server is not hit by
    // every client in the same instant.
    uint8_t r = 0;
    RAND_bytes(&r, 1);
    if (replaced_) {
        // Another host holds our name now (kByeReplaced): taking it back at
        // once would push that one out, and so on every second.
        replaced_ = false;
        int64_t delay = int64_t(kReplacedHoldOffSeconds) * 1000 + int64_t(r) * 100;
        next_connect_ms_ = EventLoop::now_ms() + delay;
        LM_WARN("disconnected: %s: another host may be using this node's certificate; "
                "not reconnecting for %lld s", why.c_str(), static_cast<long long>(delay / 1000));
        char until[32] = "";
        time_t at = time(nullptr) + time_t(delay / 1000);
        tm tmv;
        strftime(until, sizeof until, "%H:%M:%S UTC", gmtime_r(&at, &tmv));
        role_warning_ = why + ": another host may be using this node's certificate; not reconnecting until " +
                        until;
        return;
    }
    int64_t delay = int64_t(backoff_s_) * 1000 + (int64_t(r) * backoff_s_ * 250) / 255;
    next_connect_ms_ = EventLoop::now_ms() + delay;
    LM_WARN("%s: %s; reconnecting in %.1f s", was_up ? "disconnected" : "connection failed", why.c_str(),
            double(delay) / 1000);
    backoff_s_ = std::min(backoff_s_ * 2, kMaxBackoff);
}

void Client::tick_role(int64_t now) {
    dying_.reset();
    // Direct pairs live on while the server is away.
    mesh_.tick(now);
    if (phase_ == Phase::idle) {
        if (now >= next_connect_ms_) connect();
        return;
    }
    if (phase_ != Phase::up) {
        if (now >= deadline_ms_) {
            std::string secs = std::to_string(cfg_.handshake_timeout) + " s";
            if (resolving_)
                disconnect("no answer looking up " + srv().host + " in " + secs, false);
            else if (tcp_fd_ >= 0)
                disconnect("connect " + server_str() + ": no answer in " + secs, false);
            else
                disconnect("handshake timeout", false);
        }
        return;
    }
    time_t wall = time(nullptr);
    std::string why;
    ControlSession::Timers timers{int(current_.keepalive_interval), int(current_.keepalive_timeout)};
    if (cfg_.servers.size() > 1) {
        // Another server to move to: a server that goes silent (cut off, not
        // closed) is given up within seconds, not at the pushed timeout
        // (60 s by default), so that the move takes under 10 s
        // (docs/DESIGN.md §11).  Our pings every 2 s keep the server's
        // own, longer timeout from firing.
        timers.keepalive_interval_s = std::min(timers.keepalive_interval_s, kFailoverPingS);
        timers.keepalive_timeout_s = std::min(timers.keepalive_timeout_s, kFailoverSilenceS);
    }
    switch (session().tick(now, EventLoop::now_us(), wall, timers, &why)) {
    case ControlSession::Tick::ok: break;
    case ControlSession::Tick::not_reading:
        ctl_counters_.output_full_cuts++;
        disconnect("output queue full for " + std::to_string(kOutputFullCutMs / 1000) + " s: the server does not read",
                   false);
        return;
    case ControlSession::Tick::timed_out:
        disconnect("keepalive timeout (no answer for " + std::to_string(timers.keepalive_timeout_s) + " s)", false);
        return;
    case ControlSession::Tick::rekey_failed:
        disconnect(why, true);
        return;
    }
    // The ladder's probes register our outer address with the server and
    // prove the path; between them the NAT mapping is kept alive when idle.
    path_tick(now);
    mtu_tick(now);
    if (behind_nat_ && tunnel_.encap == Encapsulation::udp &&
               wall - std::max(tunnel_.total().last_tx, last_nat_keepalive_) >= nat_keepalive_s(cfg_.nat_keepalive)) {
        // The one-byte keepalive is no ESP packet and leaves last_tx alone:
        // without its own time it would go out at every tick once due.
        dp_.send_nat_keepalive(tunnel_);
        last_nat_keepalive_ = wall;
    }
    // The kernel forgets a learnt path MTU after ip route's mtu_expires
    // (10 min): ask again now and then, so the limit rises with it.
    if (tunnel_.path_mtu && now - last_pmtu_ms_ >= 30000) {
        last_pmtu_ms_ = now;
        learn_path_mtu(tunnel_);
    }
    if (!conn_->flush()) {
        disconnect(conn_->error(), false);
        return;
    }
    update_interest();
}

void Client::rekey_role() {
    if (phase_ != Phase::up || !conn_) return;
    if (std::string why; !session().rekey_if_due(time(nullptr), &why)) {
        disconnect(why, true);
        return;
    }
    if (!conn_->flush()) {
        conn_failed();
        return;
    }
    update_interest();
}

void Client::stop_role() {
    underlay_.stop();
    resolver_.cancel();
    if (conn_) {
        ControlSession::send_bye(*conn_, "client shutting down");
        loop_.remove(conn_->fd());
        conn_.reset();
    }
    keying_.clear();
    remove_routes();
    rules_.remove();
}

void Client::status_role(JsonWriter &j) {
    static const char *phases[] = {"idle", "connecting", "tls", "waiting-config", "up"};
    j.kv("state", phases[int(phase_)]).kv("server", srv().str());
    if (server_.is_set()) j.kv("server_address", server_.str());
    j.kv("behind_nat", behind_nat_);
    j.kv("underlay_changes", underlay_changes_);
    if (phase_ == Phase::up) {
        j.kv("address", current_.local4.str());
        if (current_.local6.is_set()) j.kv("address6", current_.local6.str());
        j.kv("mtu", unsigned(current_.mtu)).kv("epoch", uint64_t(keying_.epoch()));
    }
    j.begin_array("peers").begin_object();
    tunnel_json(j, tunnel_);
    j.end_object().end_array();
    j.begin_array("pairs");
    mesh_.status(j);
    j.end_array();
    const MeshCounters &mc = mesh_.counters();
    j.begin_object("mesh");
    j.kv("introductions", mc.introductions).kv("keys_accepted", mc.keys_accepted);
    j.kv("keys_rejected", mc.keys_rejected).kv("certs_rejected", mc.certs_rejected);
    j.kv("probes_early", mc.probes_early).kv("path_changes", mc.path_changes);
    j.kv("key_retries", mc.key_retries).kv("hard_limit_rebuilds", mc.hard_limit_rebuilds);
    j.kv("rebinds", mc.rebinds);
    j.kv("birthday_sprays", mc.birthday_sprays).kv("birthday_opens", mc.birthday_opens);
    j.kv("spray_probes", mc.spray_probes).kv("birthday_hits", mc.birthday_hits);
    j.kv("probe_rx", data_.totals().probe_rx).kv("probe_tx", data_.totals().probe_tx);
    j.end_object();
}

}  // namespace lm
