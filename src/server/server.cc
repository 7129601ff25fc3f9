// SPDX-License-Identifier: MIT
#include "server/server.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <strings.h>

#include <algorithm>
#include <cstring>

#include "common/log.h"
#include "control/tls.h"

namespace lm {

Server::Server(const Config &cfg)
    : Node(cfg),
      plan_(cfg.topology, *cfg.pool, cfg.pool6),
      leases_(plan_, cfg.state_directory + "/leases") {}

Server::~Server() {
    // Its hooks reach into members declared after it, gone by its turn.
    if (peers_) {
        peers_->on_mesh = nullptr;
        peers_->on_link_down = nullptr;
        peers_.reset();
    }
    sessions_.clear();
    for (int fd : listen_fds_) close(fd);
    if (ctx_) SSL_CTX_free(ctx_);
}

bool Server::load_tls(std::string *err) {
    ctx_ = tls_server_ctx(tls_files_of(cfg_), err);
    if (!ctx_) return false;
    tls_loaded(ctx_, tls_files_of(cfg_));
    return true;
}

bool Server::start_role(std::string *err) {
    if (mkdir(cfg_.state_directory.c_str(), 0700) < 0 && errno != EEXIST) {
        *err = "cannot create StateDirectory " + cfg_.state_directory + ": " + strerror(errno);
        return false;
    }
    if (!leases_.load(err)) return false;
    leases_.set_fixed(cfg_.peers);   // never handed out to anyone else
    leases_.set_deferred(true);
    if (cfg_.registry) {
        std::string name = cfg_.registry->name;
        if (name.empty()) {
            char host[256] = "";
            gethostname(host, sizeof host - 1);
            name = host;
        }
        registry_ = std::make_unique<RegistryThread>(loop_, *cfg_.registry, plan_, name);
        registry_->set_fixed(fixed_addresses());
        if (!cfg_.listen.empty()) registry_->set_self(Endpoint{cfg_.listen.front(), cfg_.control_port}.str());
        registry_->on_view([this](const RegistryThread::View &v) { on_registry_view(v); });
        if (!registry_->start(err)) return false;
        if (!check_registry(err)) return false;
        publish_revoked();
        LM_INFO("registry: leases in etcd under %s as server '%s'", cfg_.registry->prefix.c_str(), name.c_str());
        if (cfg_.registry->peer_address.is_set()) {
            peers_ = std::make_unique<ServerPeers>(loop_, sas_, &keys_, dp_, routes_, cfg_, name);
            if (!peers_->start(*registry_, err)) return false;
            if (cfg_.client_to_client == ClientToClient::direct) {
                peers_->on_mesh = [this](const std::string &srv, MsgType t, const std::vector<uint8_t> &p) {
                    on_server_mesh(srv, t, p);
                };
                peers_->on_link_down = [this](const std::string &srv, Tunnel *t) { xmesh_link_down(srv, t); };
            }
        } else {
            LM_WARN("registry: no PeerAddress, so no channel to the other servers: "
                    "nodes they admitted are out of reach from here");
        }
    }

    // The network's MTU: what fits a 1500-byte underlay with IPv4 or IPv6
    // outer headers plus UDP, capped at 1400 so PPPoE paths fit too.
    mtu_ = cfg_.mtu ? cfg_.mtu : 1400;

    // Kernel state per docs/DESIGN.md §3.
    if (!configure_link(mtu_, err)) return false;
    IfaceLayout l = plan_.server_layout();
    if (!nl_.addr_add(dev_, l.local4, l.prefix4, l.peer4.is_set() ? &l.peer4 : nullptr, err)) return false;
    if (l.local6.is_set() && !nl_.addr_add(dev_, l.local6, l.prefix6, nullptr, err)) return false;
    for (auto &[dst, gw] : l.routes)
        if (!nl_.route_add(dev_, dst, gw.is_set() ? &gw : nullptr, err)) return false;
    // Networks behind clients: the kernel sends them into the tunnel; the
    // route table below picks the client.
    for (auto &p : cfg_.peers) {
        for (auto &net : p.networks) {
            IpAddr gw = network_gateway(p.name, net);
            if (!nl_.route_add(dev_, net, gw.is_set() ? &gw : nullptr, err)) return false;
        }
    }

    // Data plane sockets.
    data_.for_each([this](Dataplane &dp) {
        unsigned mtu = dp.policy.inner_mtu;
        dp.policy = DataPolicy::server(cfg_.client_to_client, &routes_,
                                       cfg_.client_to_client == ClientToClient::direct ? &forward_ : nullptr);
        dp.policy.inner_mtu = mtu;
        // Outer packets from the pools came back through our TUN: never
        // outer ESP (networks behind clients: routes_, data/packet_core.h).
        if (cfg_.pool) dp.policy.overlay.push_back(*cfg_.pool);
        if (cfg_.pool6) dp.policy.overlay.push_back(*cfg_.pool6);
    });
    if (cfg_.client_to_client == ClientToClient::direct) {
        data_.on_relay = [this](Tunnel &from, Tunnel &to, const IpAddr &dst) { on_relay(from, to, dst); };
        data_.on_unknown_spi = [this](uint32_t spi, const Endpoint &from, int idx) {
            on_unknown_pair_spi(spi, from, idx);
        };
    }
    data_.on_stream_out = [this](const Tunnel *t, const uint8_t *p, size_t n) { on_stream_out(t, p, n); };
    data_.on_stream_end = [this] { on_stream_end(); };
    std::vector<IpAddr> binds = cfg_.listen;
    if (binds.empty()) {
        IpAddr any4, any6;
        any4.family = AF_INET;
        any6.family = AF_INET6;
        binds = {any4, any6};
    }
    for (auto &a : binds) {
        bool wildcard = std::all_of(a.b, a.b + a.len(), [](uint8_t x) { return x == 0; });
        std::string e;
        if (data_.open_udp(a.family, wildcard ? nullptr : &a, cfg_.data_port, &e) < 0) {
            if (wildcard && a.family == AF_INET6) {
                LM_WARN("no IPv6 data socket: %s", e.c_str());
                continue;
            }
            *err = e;
            return false;
        }
        if (cfg_.encapsulation != Encapsulation::udp && data_.raw_fd(a.family) < 0) {
            if (!data_.open_raw(a.family, wildcard ? nullptr : &a, &e))
                LM_WARN("raw ESP disabled for IPv%d: %s", a.family == AF_INET ? 4 : 6, e.c_str());
        }
    }
    // Every client and every pending handshake holds a descriptor; the soft
    // limit is often 1024.  Raising it to the hard limit needs no privilege.
    rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }
    if (!open_listeners(err)) return false;
    LM_INFO("server up: device %s, topology %s, pool %s, control port %u/tcp, data port %u/udp, mtu %d",
            dev_.c_str(), to_string(cfg_.topology), cfg_.pool->str().c_str(), cfg_.control_port,
            cfg_.data_port, mtu_);
    return true;
}

bool Server::open_listeners(std::string *err) {
    std::vector<IpAddr> binds = cfg_.listen;
    bool wildcard = binds.empty();
    if (wildcard) {
        IpAddr any6;
        any6.family = AF_INET6;
        binds = {any6};   // dual-stack: IPv4 arrives v4-mapped
    }
    for (auto &a : binds) {
        int fd = socket(a.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0 && wildcard) {   // no IPv6 at all: fall back to IPv4
            a = IpAddr{};
            a.family = AF_INET;
            fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        }
        if (fd < 0) {
            *err = std::string("TCP socket: ") + strerror(errno);
            return false;
        }
        int one = 1, zero = 0;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (a.family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        Endpoint ep{a, cfg_.control_port};
        sockaddr_storage ss;
        socklen_t sl = ep.to_sockaddr(&ss);
        if (bind(fd, reinterpret_cast<sockaddr *>(&ss), sl) < 0 || listen(fd, 512) < 0) {
            *err = "control port " + ep.str() + ": " + strerror(errno);
            close(fd);
            return false;
        }
        listen_fds_.push_back(fd);
        loop_.add(fd, EPOLLIN, [this, fd](uint32_t) { on_accept(fd); }, EventLoop::Guard::on_demand);
    }
    return true;
}

// Unauthenticated connections cost memory and a descriptor each: they are
// limited per source and in total (server/pending_handshakes.h), and the
// oldest give way to new ones, so silent connections cannot keep a real
// client out for longer than its own handshake takes.
void Server::on_accept(int lfd) {
    for (;;) {
        sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(lfd, reinterpret_cast<sockaddr *>(&ss), &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EMFILE && errno != ENFILE) return;
            // Out of descriptors: the oldest pending connection gives way.
            // With none, stop accepting until the next tick rather than spin
            // on a listening socket that stays readable.
            if (auto old = pending_.oldest()) {
                if (hs_counters_.evicted_no_fds++ == 0)
                    LM_WARN("out of file descriptors: the oldest pending handshakes give way to new connections");
                close_session(*old, "", false);
                reap();
                continue;
            }
            if (hs_counters_.refused_no_fds++ == 0)
                LM_WARN("out of file descriptors: new control connections wait in the backlog");
            pause_accepting();
            return;
        }
        Endpoint peer = Endpoint::from_sockaddr(reinterpret_cast<sockaddr *>(&ss));
        limit_pending(peer);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        auto s = std::make_unique<Session>(sas_, &keys_);
        s->serial = ++next_serial_;
        s->conn = std::make_unique<TlsConn>(ctx_, fd, true, handshake_runner());
        s->tcp_peer = peer;
        s->deadline_ms = EventLoop::now_ms() + int64_t(cfg_.handshake_timeout) * 1000;
        s->last_rx_ms = EventLoop::now_ms();
        sessions_[fd] = std::move(s);
        pending_.add(fd, peer.addr);
        // Until its records arrive a session is TLS alone: its handshake
        // steps need no hold (on_session_io takes it for what does).
        loop_.add(fd, EPOLLIN, [this, fd](uint32_t) { on_session_io(fd); }, EventLoop::Guard::on_demand);
    }
}

void Server::limit_pending(const Endpoint &peer) {
    auto ev = pending_.make_room(peer.addr);
    if (!ev) return;
    if (ev->per_source) {
        hs_counters_.evicted_per_source++;
        IpAddr src = PendingHandshakes::source_key(peer.addr);
        if (ev->first)
            LM_WARN("pending handshakes from %s%s at the limit of %zu: the oldest give way to new ones",
                    src.str().c_str(), src.family == AF_INET6 ? "/64" : "", pending_.limits().per_source);
    } else {
        hs_counters_.evicted_total++;
        if (ev->first)
            LM_WARN("pending handshakes at the limit of %zu: the oldest give way to new ones",
                    pending_.limits().total);
    }
    close_session(ev->fd, "", false);
    reap();
}

void Server::pause_accepting() {
    accept_paused_ = true;
    for (int lfd : listen_fds_) loop_.modify(lfd, 0);
}

// Back-pressure: a session whose output queue is full is not read until
// the peer has read enough of it (control/tls_conn.h).
void Server::update_interest(Session &s) {
    uint32_t ev = (s.conn->wants_read() ? uint32_t(EPOLLIN) : 0u) | (s.conn->wants_write() ? uint32_t(EPOLLOUT) : 0u);
    loop_.modify(s.conn->fd(), ev);
}

void Server::on_session_io(int fd) {
    auto it = sessions_.find(fd);
    if (it == sessions_.end()) return;
    Session &s = *it->second;
    // The workers are held from the first record on (EventLoop::Guard::
    // on_demand); the TLS reads, handshake steps and writes around run free,
    // and so do keepalives, most of a quiet network's control traffic
    // (control/session.h: they touch nothing the workers read; a bad one
    // ends the session, which takes the hold itself).
    bool ok = s.conn->on_io([&](MsgType t, const std::vector<uint8_t> &p) {
        if (t != MsgType::ping && t != MsgType::pong) loop_.take_guard();
        if (s.dead) return false;   // the workers' mail, delivered just now, ended it
        if (s.phase == Session::Phase::tls) established(s);
        return on_frame(s, t, p);
    });
    if (!ok) {
        loop_.take_guard();
        conn_failed(s);
        reap();
        return;
    }
    if (!s.dead) {
        if (s.conn->just_established() && s.phase == Session::Phase::tls) established(s);
        s.conn->flush();
        update_interest(s);
    }
    reap();
}

// TlsConn gave up on the connection; what it says decides what is counted.
void Server::conn_failed(Session &s) {
    int fd = s.conn->fd();
    // The handshake may have completed in the same read as the failure.
    if (s.phase == Session::Phase::tls && s.conn->just_established()) established(s);
    if (s.phase == Session::Phase::tls) {
        ctl_counters_.tls_refused++;
        LM_WARN("refused %s: %s", s.tcp_peer.str().c_str(), s.conn->error().c_str());
        event_refused("", s.tcp_peer.str(), s.conn->error());
        close_session(fd, "", false);
    } else if (s.conn->output_overflow()) {
        cut_not_reading(s, s.conn->error());
    } else if (auto e = s.conn->proto_error()) {
        protocol_error(s, *e, s.conn->error());
    } else {
        close_session(fd, s.conn->error(), false);
    }
}

bool Server::protocol_error(Session &s, ProtoError e, const std::string &why) {
    count_protocol_error(e);
    close_session(s.conn->fd(), std::string("protocol error (") + to_string(e) + "): " + why, true);
    return false;
}

void Server::cut_not_reading(Session &s, const std::string &why) {
    ctl_counters_.output_full_cuts++;
    close_session(s.conn->fd(), why, true);
}

void Server::established(Session &s) {
    s.phase = Session::Phase::hello;
    s.name = tls_peer_cn(s.conn->ssl());
    ctl_counters_.tls_accepted++;
}

void Server::reap() {
    if (!dead_fds_.empty()) loop_.take_guard();   // a session's SAs go with it
    for (int fd : dead_fds_) {
        loop_.remove(fd);
        sessions_.erase(fd);   // closes the socket
    }
    dead_fds_.clear();
}

bool Server::on_frame(Session &s, MsgType type, const std::vector<uint8_t> &payload) {
    int fd = s.conn->fd();
    s.last_rx_ms = EventLoop::now_ms();
    std::string err;
    auto unexpected = [&](const std::string &why) { return protocol_error(s, ProtoError::unexpected_type, why); };
    auto bad_payload = [&](const std::string &why) { return protocol_error(s, ProtoError::bad_payload, why); };
    if (s.phase == Session::Phase::hello) {
        if (type != MsgType::hello) return unexpected(std::string("expected hello, got ") + to_string(type));
        Hello h;
        if (!decode(payload, &h, &err)) return bad_payload(err);
        if (!admit(s, h)) return false;
        pending_.remove(fd);
        return true;
    }
    ControlSession::Frame f = s.ctl().on_frame(type, payload, EventLoop::now_us());
    switch (f.kind) {
    case ControlSession::Frame::handled: return true;
    case ControlSession::Frame::bad_payload: return bad_payload(f.text);
    case ControlSession::Frame::rekeyed:
        session_rekeyed(s.name, f.epoch, f.we_started);
        return true;
    case ControlSession::Frame::bye:
        s.left = true;
        close_session(fd, "client said bye: " + f.text, false);
        return false;
    case ControlSession::Frame::not_mine: break;
    }
    switch (type) {
    case MsgType::esp:
        dp_.on_stream_esp(s.tunnel, payload.data(), payload.size());
        return true;
    case MsgType::path: {
        PathMsg m;
        if (!decode(payload, &m, &err)) return bad_payload(err);
        return on_path(s, m);
    }
    case MsgType::peer_key: {
        PeerKey k;
        if (cfg_.client_to_client != ClientToClient::direct) return unexpected("mesh is off");
        if (!decode(payload, &k, &err)) return bad_payload(err);
        return on_peer_key(s, k);
    }
    case MsgType::peer_request: {
        PeerRequest r;
        if (cfg_.client_to_client != ClientToClient::direct) return unexpected("mesh is off");
        if (!decode(payload, &r, &err)) return bad_payload(err);
        return on_peer_request(s, r);
    }
    default:
        return unexpected(std::string("unexpected ") + to_string(type));
    }
}

Encapsulation Server::choose_encap(const Session &s, const Hello &h, uint8_t *paths) const {
    // A NAT rewrites the source: if the address the client sees on its own
    // socket is not the one we see, something translated it, and raw ESP
    // cannot cross a NAT reliably (docs/PROTOCOLS.md §4).
    bool nat = std::find(h.local_addrs.begin(), h.local_addrs.end(), s.tcp_peer.addr) == h.local_addrs.end();
    bool raw_ok = dp_.raw_fd(s.tcp_peer.addr.family) >= 0;
    // A step pinned on either side is the only one; with the two pinned
    // differently, ours wins (the client takes what it is offered or goes).
    Encapsulation pin = cfg_.encapsulation != Encapsulation::auto_ ? cfg_.encapsulation : h.encap;
    if (pin == Encapsulation::raw && !raw_ok) pin = Encapsulation::udp;
    if (pin != Encapsulation::auto_) {
        *paths = path_bit(pin);
        return pin;
    }
    // auto: the whole ladder, ESP in UDP first (the fast path, see
    // client/path_ladder.h); raw ESP below it only where no NAT is in the
    // way, for a network that drops UDP 4500 but passes protocol 50.  The
    // client's liveness checks move it down when something we cannot see
    // drops a step.
    *paths = uint8_t((raw_ok && !nat ? kPathRaw : 0) | kPathUdp | kPathTls);
    return Encapsulation::udp;
}

std::map<IpAddr, std::string> Server::fixed_addresses() const {
    std::map<IpAddr, std::string> out;
    for (const PeerConfig &pc : cfg_.peers)
        if (pc.address) out.emplace(*pc.address, pc.name);
    return out;
}

bool Server::ask_registry(Session &s, const Hello &h) {
    if (s.awaiting_registry) return true;   // a second HELLO while etcd answers the first: ignored
    int fd = s.conn->fd();
    uint64_t serial = s.serial;
    std::string name = s.name;
    bool queued = registry_->acquire(name, [this, fd, serial, name, h](const RegistryThread::Acquired &r) {
        auto it = sessions_.find(fd);
        if (it == sessions_.end() || it->second->serial != serial || it->second->dead) {
            // It left while etcd answered: take back the registration, unless
            // a newer session of the same name is admitted here by now.
            if (r.addr && !by_name_.count(name)) registry_->release(name);
            return;
        }
        Session &s = *it->second;
        s.awaiting_registry = false;
        if (!r.addr) {
            std::string why = r.unavailable ? "registry unavailable" : r.error;
            ctl_counters_.tls_refused++;
            LM_WARN("refused %s (%s): %s", s.name.c_str(), s.tcp_peer.str().c_str(),
                    r.unavailable ? ("registry unavailable: " + r.error).c_str() : why.c_str());
            event_refused(s.name, s.tcp_peer.str(), why);
            close_session(fd, why, true);
            return;
        }
        s.registry_addr = r.addr;
        admit(s, h);
    });
    if (!queued) {
        ctl_counters_.tls_refused++;
        LM_WARN("refused %s (%s): registry busy (%zu requests waiting)", s.name.c_str(), s.tcp_peer.str().c_str(),
                RegistryThread::kMaxQueued);
        event_refused(s.name, s.tcp_peer.str(), "registry busy");
        close_session(fd, "registry busy", true);
        return false;
    }
    s.awaiting_registry = true;
    return true;
}

bool Server::admit(Session &s, const Hello &h) {
    int fd = s.conn->fd();
    auto refuse = [&](const std::string &why) {
        // etcd registered it online for this answer: take that back.
        if (registry_ && s.registry_addr) registry_->release(s.name);
        ctl_counters_.tls_refused++;
        LM_WARN("refused %s (%s): %s", s.name.c_str(), s.tcp_peer.str().c_str(), why.c_str());
        event_refused(s.name, s.tcp_peer.str(), why);
        close_session(fd, why, true);
        return false;
    };
    if (std::string why = tls_admission_problem(s.conn->ssl()); !why.empty()) return refuse(why);
    if (s.name.empty()) return refuse("certificate has no common name");
    if (std::string why = registry_revocation(s.conn->ssl()); !why.empty()) return refuse(why);
    // A client under the server's own name would be taken for the server by
    // its peers in the mesh and in logs.
    char own[256] = "";
    if (X509 *mine = SSL_get_certificate(s.conn->ssl()))
        X509_NAME_get_text_by_NID(X509_get_subject_name(mine), NID_commonName, own, sizeof own);
    if (strcasecmp(s.name.c_str(), own) == 0) return refuse("certificate name is the server's own");
    // Cipher: the first of ours the client also offers.
    std::optional<Cipher> cipher;
    for (Cipher c : cfg_.ciphers)
        if (std::find(h.ciphers.begin(), h.ciphers.end(), c) != h.ciphers.end()) {
            cipher = c;
            break;
        }
    if (!cipher) return refuse("no cipher in common");

    // A second connection under the same name replaces the first: usually
    // the client restarted and its old TCP connection is a zombie.  When the
    // old one is alive, two hosts share one certificate; the bye tells the
    // older one to stay away for a while (kByeReplaced) rather than take the
    // name back at once, which would make the two take turns every second.
    if (auto old = by_name_.find(s.name); old != by_name_.end()) {
        auto it = sessions_.find(old->second);
        std::string before = it != sessions_.end() ? it->second->tcp_peer.str() : std::string("?");
        LM_WARN("%s: new session from %s replaces the one from %s (the same certificate name on two hosts? "
                "the older is told to wait %d s)",
                s.name.c_str(), s.tcp_peer.str().c_str(), before.c_str(), kReplacedHoldOffSeconds);
        if (it != sessions_.end()) it->second->replaced = true;
        close_session(old->second, std::string(kByeReplaced) + " from " + s.tcp_peer.str(), true);
    }

    const PeerConfig *pc = cfg_.find_peer(s.name);
    std::string err;
    // With a registry, etcd decides the address (it is shared with the other
    // servers); the local store mirrors it for this server's own view.
    if (registry_ && !s.registry_addr) return ask_registry(s, h);
    const IpAddr *want = s.registry_addr ? &*s.registry_addr : pc && pc->address ? &*pc->address : nullptr;
    auto lease = leases_.acquire(s.name, want, &err);
    if (!lease) return refuse(err);
    s.lease = *lease;
    s.hello = h;
    s.nat = std::find(h.local_addrs.begin(), h.local_addrs.end(), s.tcp_peer.addr) == h.local_addrs.end();

    Tunnel &t = s.tunnel;
    t.name = s.name;
    t.is_client = true;
    t.encap = choose_encap(s, h, &s.paths);
    t.udp_sock = dp_.udp_for_family(s.tcp_peer.addr.family);
    t.raw_peer = s.tcp_peer.addr;   // raw ESP goes where the client's TCP comes from
    t.allowed_src.clear();
    t.allowed_src.push_back(Prefix{lease->addr4, 32});
    if (lease->addr6.is_set()) t.allowed_src.push_back(Prefix{lease->addr6, 128});
    if (pc)
        for (auto &n : pc->networks) t.allowed_src.push_back(n);

    s.keying.set_cipher(*cipher);
    s.keying.set_limits({cfg_.rekey_after_time, cfg_.rekey_after_bytes, cfg_.rekey_after_packets,
                         cfg_.rekey_grace});
    s.keying.outer_v6 = s.tcp_peer.addr.family == AF_INET6;
    uint32_t my_spi = s.keying.reserve_spi();
    if (!s.keying.install_initial(s.conn->ssl(), my_spi, h.spi_s2c, &err)) return refuse(err);

    ConfigMsg m;
    m.topology = cfg_.topology;
    m.cipher = *cipher;
    m.encap = t.encap;
    m.spi_c2s = my_spi;
    m.epoch = 0;
    IfaceLayout cl = plan_.client_layout(*lease, cfg_.client_to_client != ClientToClient::off, pushed_for(s.name));
    m.local4 = cl.local4;
    m.prefix4 = uint8_t(cl.prefix4);
    m.peer4 = cl.peer4;
    m.gateway4 = plan_.client_gateway(*lease);
    if (cl.local6.is_set()) {
        m.local6 = cl.local6;
        m.prefix6 = uint8_t(cl.prefix6);
    }
    m.routes = cl.routes;
    s.routes = cl.routes;
    m.mtu = uint16_t(mtu_);
    m.data_port = cfg_.data_port;
    m.keepalive_interval = uint16_t(cfg_.keepalive_interval);
    m.keepalive_timeout = uint16_t(cfg_.keepalive_timeout);
    m.nat_keepalive = uint16_t(cfg_.nat_keepalive);
    m.rekey_after_time = uint32_t(cfg_.rekey_after_time);
    m.rekey_after_bytes = cfg_.rekey_after_bytes;
    m.rekey_after_packets = cfg_.rekey_after_packets;
    m.observed = s.tcp_peer;
    m.c2c = cfg_.client_to_client;
    m.paths = s.paths;
    {
        sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        if (getsockname(fd, reinterpret_cast<sockaddr *>(&ss), &sl) == 0)
            m.server_addr = Endpoint::from_sockaddr(reinterpret_cast<sockaddr *>(&ss)).addr;
    }
    if (!validate(m, &err)) return refuse("internal: " + err);
    s.conn->send(MsgType::config, encode(m));

    for (auto &p : t.allowed_src) routes_.add(p, &t);
    s.phase = Session::Phase::up;
    by_name_[s.name] = fd;
    by_tunnel_[&s.tunnel] = &s;
    ctl_counters_.admitted++;
    LM_INFO("admitted %s from %s: %s%s%s, %s, %s", s.name.c_str(), s.tcp_peer.str().c_str(),
            lease->addr4.str().c_str(), lease->addr6.is_set() ? " " : "",
            lease->addr6.is_set() ? lease->addr6.str().c_str() : "", to_string(*cipher),
            t.encap == Encapsulation::raw ? "raw ESP" : t.encap == Encapsulation::tls ? "ESP in TLS" : "ESP in UDP");
    event_peer_up(s);
    if (cfg_.client_to_client == ClientToClient::direct) mesh_register(s);
    return true;
}

void Server::close_session(int fd, const std::string &why, bool send_bye) {
    auto it = sessions_.find(fd);
    if (it == sessions_.end() || it->second->dead) return;
    Session &s = *it->second;
    loop_.take_guard();
    pending_.remove(fd);
    if (send_bye) ControlSession::send_bye(*s.conn, why);
    if (s.phase == Session::Phase::up) {
        mesh_forget(s, s.cut, why);
        ctl_counters_.disconnected++;
        LM_INFO("%s disconnected: %s", s.name.c_str(), why.c_str());
        event_peer_down(s, why);
        for (auto &p : s.tunnel.allowed_src) routes_.remove(p, &s.tunnel);
        if (s.lease) leases_.release(s.name);
        if (s.lease && registry_ && !registry_->release(s.name))
            LM_WARN("registry: queue full; %s stays registered until this server's etcd lease ends", s.name.c_str());
        auto bn = by_name_.find(s.name);
        if (bn != by_name_.end() && bn->second == fd) by_name_.erase(bn);
        by_tunnel_.erase(&s.tunnel);
        std::erase(stream_touched_, &s);
    } else if (!why.empty()) {
        LM_INFO("connection from %s closed: %s", s.tcp_peer.str().c_str(), why.c_str());
    }
    s.keying.clear();
    s.dead = true;
    dead_fds_.push_back(fd);
}

void Server::tick_role(int64_t now) {
    // Writing the lease file ends in two fsyncs: not while the workers wait.
    loop_.defer([this] { leases_.flush(); });
    if (accept_paused_) {
        accept_paused_ = false;
        for (int lfd : listen_fds_) loop_.modify(lfd, EPOLLIN);
    }
    enum class End { quiet, plain, failed, not_reading };
    struct Doomed {
        int fd;
        std::string why;
        End how;
    };
    std::vector<Doomed> doomed;
    time_t wall = time(nullptr);
    for (auto &[fd, sp] : sessions_) {
        Session &s = *sp;
        if (s.dead) continue;
        auto not_reading = [] {
            return "output queue full for " + std::to_string(kOutputFullCutMs / 1000) + " s: the peer does not read";
        };
        if (s.phase != Session::Phase::up) {
            if (int64_t full = s.conn->full_since_ms(); full && now - full >= kOutputFullCutMs)
                doomed.push_back({fd, not_reading(), End::not_reading});
            else if (now >= s.deadline_ms) {
                ctl_counters_.tls_timeouts++;
                doomed.push_back({fd, "handshake timeout", End::quiet});
            }
            continue;
        }
        std::string why;
        switch (s.ctl().tick(now, EventLoop::now_us(), wall, {cfg_.keepalive_interval, cfg_.keepalive_timeout}, &why)) {
        case ControlSession::Tick::ok: break;
        case ControlSession::Tick::not_reading: doomed.push_back({fd, not_reading(), End::not_reading}); continue;
        case ControlSession::Tick::timed_out:
            s.left = true;
            doomed.push_back({fd, "keepalive timeout", End::plain});
            continue;
        case ControlSession::Tick::rekey_failed: doomed.push_back({fd, why, End::plain}); break;
        }
        take_probed_mtu(s.tunnel);
        if (!s.conn->flush()) {
            doomed.push_back({fd, "", End::failed});
            continue;
        }
        update_interest(s);
    }
    if (cfg_.client_to_client == ClientToClient::direct) {
        mesh_announce_moves(now);
        xmesh_takeups(now);
    }
    if (peers_) peers_->tick(now);
    for (auto &d : doomed) {
        auto it = sessions_.find(d.fd);
        if (it == sessions_.end() || it->second->dead) continue;
        Session &s = *it->second;
        switch (d.how) {
        case End::failed: conn_failed(s); break;
        case End::not_reading: cut_not_reading(s, d.why); break;
        case End::plain: close_session(d.fd, d.why, true); break;
        case End::quiet:
            if (s.conn->state() == TlsConn::State::handshake) {
                LM_WARN("refused %s: handshake timeout", s.tcp_peer.str().c_str());
                event_refused("", s.tcp_peer.str(), "handshake timeout");
            }
            close_session(d.fd, d.why, false);
            break;
        }
    }
    reap();
}

// What the client's padded probes found holds for our direction too: its
// probes made the round trip (data/mtu_probe.h).  Taken and cleared with
// the workers paused.
void Server::take_probed_mtu(Tunnel &t) {
    for (int i = 0; i < t.stats.size(); i++) {
        uint32_t &w = t.stats[i].mtu_result;
        if (!w) continue;
        unsigned outer = w & 0xffff;
        w = 0;
        if (outer != t.probed_outer)
            LM_INFO("%s: its path MTU probes found %u bytes make the round trip", t.name.c_str(), outer);
        probed_path_mtu(t, outer);
    }
}

void Server::rekey_role() {
    std::vector<std::pair<int, std::string>> doomed;
    time_t wall = time(nullptr);
    for (auto &[fd, sp] : sessions_) {
        Session &s = *sp;
        if (s.dead || s.phase != Session::Phase::up) continue;
        std::string why;
        if (!s.ctl().rekey_if_due(wall, &why)) {
            doomed.emplace_back(fd, why);
            continue;
        }
        if (!s.conn->flush()) {
            doomed.emplace_back(fd, s.conn->error());
            continue;
        }
        update_interest(s);
    }
    for (auto &[fd, why] : doomed) close_session(fd, why, true);
}

void Server::stop_role() {
    std::vector<int> fds;
    for (auto &[fd, _] : sessions_) fds.push_back(fd);
    for (int fd : fds) close_session(fd, "server shutting down", true);
    reap();
    if (peers_) peers_->stop();
    leases_.flush();
}

void Server::status_role(JsonWriter &j) {
    j.kv("topology", to_string(cfg_.topology)).kv("pool", cfg_.pool->str());
    j.kv("client_to_client", to_string(cfg_.client_to_client)).kv("mtu", mtu_);
    j.begin_array("peers");
    for (auto &[fd, sp] : sessions_) {
        Session &s = *sp;
        if (s.dead || s.phase != Session::Phase::up) continue;
        j.begin_object();
        tunnel_json(j, s.tunnel);
        j.kv("address", s.lease ? s.lease->addr4.str() : "-");
        if (s.lease && s.lease->addr6.is_set()) j.kv("address6", s.lease->addr6.str());
        j.kv("control_endpoint", s.tcp_peer.str());
        j.kv("epoch", uint64_t(s.keying.epoch()));
        j.end_object();
    }
    j.end_array();
    j.begin_object("mesh");
    j.kv("introductions", mesh_intros_).kv("pairs", uint64_t(intros_.size()));
    j.kv("keys_forwarded", mesh_keys_forwarded_).kv("keys_refused", mesh_keys_refused_);
    j.kv("forward_spis", uint64_t(forward_.size())).kv("forwarded_packets", data_.totals().forwarded);
    j.kv("unknown_spi_told", mesh_unknown_spi_told_).kv("unknown_spi_unowned", mesh_unknown_spi_unowned_);
    j.end_object();
    if (peers_) peers_->status(j);
    j.kv("pending_handshakes", uint64_t(std::count_if(sessions_.begin(), sessions_.end(), [](auto &e) {
             return e.second->phase != Session::Phase::up;
         })));
}

std::vector<Prefix> Server::pushed_for(const std::string &name) const {
    std::vector<Prefix> pushed = cfg_.routes;
    if (cfg_.client_to_client != ClientToClient::off)
        for (auto &p : cfg_.peers)
            if (p.name != name) pushed.insert(pushed.end(), p.networks.begin(), p.networks.end());
    return pushed;
}

void Server::push_routes() {
    for (auto &[fd, sp] : sessions_) {
        Session &s = *sp;
        if (s.dead || s.phase != Session::Phase::up || !s.lease) continue;
        RouteUpdate m;
        m.routes = plan_.client_layout(*s.lease, cfg_.client_to_client != ClientToClient::off, pushed_for(s.name)).routes;
        if (m.routes == s.routes) continue;
        std::string err;
        if (!validate(m, &err)) {
            LM_WARN("route update for %s not sent: %s", s.name.c_str(), err.c_str());
            continue;
        }
        s.conn->send(MsgType::route_update, encode(m));
        s.conn->flush();
        s.routes = std::move(m.routes);
        LM_INFO("routes pushed to %s: %zu", s.name.c_str(), s.routes.size());
    }
}

}  // namespace lm
