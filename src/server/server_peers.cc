// SPDX-License-Identifier: MIT
#include "server/server_peers.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "common/log.h"
#include "control/tls.h"
#include "core/node.h"

namespace lm {

ServerPeers::ServerPeers(EventLoop &loop, SaTable &sas, KeyExport *keys, Dataplane &dp, RouteTable &routes,
                         const Config &cfg, std::string name)
    : loop_(loop), sas_(sas), keys_(keys), dp_(dp), routes_(routes), cfg_(cfg), name_(std::move(name)) {}

ServerPeers::~ServerPeers() {
    stop();
    if (listen_fd_ >= 0) {
        loop_.remove(listen_fd_);
        close(listen_fd_);
    }
    if (ctx_) SSL_CTX_free(ctx_);
}

bool ServerPeers::start(RegistryThread &reg, std::string *err) {
    const RegistryConfig &rc = *cfg_.registry;
    ctx_ = tls_interserver_ctx(tls_files_of(cfg_), err);
    if (!ctx_) {
        *err = "server-to-server channel: " + *err;
        return false;
    }
    mine_.addr = Endpoint{rc.peer_address, cfg_.control_port};
    mine_.peer = Endpoint{rc.peer_address, rc.peer_port};
    mine_.data = Endpoint{rc.peer_address, cfg_.data_port};

    // Every address, both families: the other servers come to PeerAddress,
    // which may be a NAT's in front of us.
    int fam = AF_INET6;
    int fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) fd = socket(fam = AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *err = std::string("PeerPort socket: ") + strerror(errno);
        return false;
    }
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fam == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    IpAddr any;
    any.family = fam;
    sockaddr_storage ss;
    socklen_t sl = Endpoint{any, rc.peer_port}.to_sockaddr(&ss);
    if (bind(fd, reinterpret_cast<sockaddr *>(&ss), sl) < 0 || listen(fd, 64) < 0) {
        *err = "[Registry] PeerPort " + std::to_string(rc.peer_port) + "/tcp: " + strerror(errno);
        close(fd);
        return false;
    }
    listen_fd_ = fd;
    loop_.add(fd, EPOLLIN, [this](uint32_t) { on_accept(); });

    // Our endpoints go into this server's one server/<name> record; the
    // registry's poll hands every view to on_directory() (server_registry.cc).
    reg.set_channel(mine_);
    LM_INFO("servers: channel on %s (PeerPort %u/tcp), ESP to %s", mine_.peer.str().c_str(), rc.peer_port,
            mine_.data.str().c_str());
    return true;
}

ServerPeers::Link *ServerPeers::up_link(const std::string &name) {
    auto it = by_name_.find(name);
    if (it == by_name_.end()) return nullptr;
    auto l = links_.find(it->second);
    if (l == links_.end() || l->second->dead || l->second->phase != Link::Phase::up) return nullptr;
    return l->second.get();
}

size_t ServerPeers::links_up() const {
    return size_t(std::count_if(links_.begin(), links_.end(), [](const auto &e) {
        return !e.second->dead && e.second->phase == Link::Phase::up;
    }));
}

// The registry's view: start the channels we are to open, end those to
// servers that left it, and route every node held elsewhere.
void ServerPeers::on_directory(ServerDirectory d) {
    if (!d.ok) return;   // etcd away: keep the last view, the channels stand
    records_skipped_ = d.skipped;
    dir_ = std::move(d);
    by_addr_.clear();
    for (auto &[node, n] : dir_.nodes) by_addr_[n.addr4] = node;
    int64_t now = EventLoop::now_ms();
    for (auto &[name, rec] : dir_.servers) {
        if (name == name_ || !(name_ < name) || by_name_.count(name)) continue;
        if (auto r = retry_at_.find(name); r != retry_at_.end() && now < r->second) continue;
        connect_to(name, rec);
    }
    std::vector<Link *> gone;
    for (auto &[name, fd] : by_name_)
        if (!dir_.servers.count(name)) gone.push_back(links_[fd].get());
    for (Link *l : gone) close_link(*l, "no longer in the registry");
    reap();
    apply_routes();
}

void ServerPeers::apply_routes() {
    std::map<IpAddr, Tunnel *> want;
    for (auto &[node, n] : dir_.nodes) {
        if (n.server == name_) continue;
        if (Link *l = up_link(n.server)) want[n.addr4] = &l->tunnel;
    }
    for (auto it = installed_.begin(); it != installed_.end();) {
        auto w = want.find(it->first);
        if (w != want.end() && w->second == it->second) {
            ++it;
            continue;
        }
        routes_.remove(Prefix{it->first, 32}, it->second);   // only while it is still ours
        it = installed_.erase(it);
    }
    for (auto &[a, t] : want) {
        if (installed_.count(a)) continue;
        // A node admitted here wins over a record etcd has not caught up with.
        Tunnel *cur = routes_.lookup(a);
        if (cur && !cur->server_peer) continue;
        routes_.add(Prefix{a, 32}, t);
        installed_[a] = t;
    }
}

void ServerPeers::connect_to(const std::string &name, const ServerRecord &r) {
    retry_at_[name] = EventLoop::now_ms() + kRetryMs;
    int fd = socket(r.peer.addr.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        LM_WARN("servers: cannot reach %s: socket: %s", name.c_str(), strerror(errno));
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_storage ss;
    socklen_t sl = r.peer.to_sockaddr(&ss);
    if (::connect(fd, reinterpret_cast<sockaddr *>(&ss), sl) < 0 && errno != EINPROGRESS) {
        LM_WARN("servers: cannot reach %s at %s: %s", name.c_str(), r.peer.str().c_str(), strerror(errno));
        close(fd);
        return;
    }
    auto l = std::make_unique<Link>(sas_, keys_, true);
    l->name = name;
    l->fd = fd;
    l->deadline_ms = EventLoop::now_ms() + int64_t(cfg_.handshake_timeout) * 1000;
    links_[fd] = std::move(l);
    by_name_[name] = fd;
    loop_.add(fd, EPOLLOUT, [this, fd](uint32_t) { on_connected(fd); });
}

void ServerPeers::on_connected(int fd) {
    auto it = links_.find(fd);
    if (it == links_.end()) return;
    Link &l = *it->second;
    int soerr = 0;
    socklen_t len = sizeof soerr;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
    if (soerr) {
        close_link(l, std::string("connect: ") + strerror(soerr));
        reap();
        return;
    }
    l.conn = std::make_unique<TlsConn>(ctx_, fd, false);
    l.phase = Link::Phase::tls;
    loop_.remove(fd);
    loop_.add(fd, uint32_t(EPOLLIN | EPOLLOUT), [this, fd](uint32_t) { on_io(fd); });
    on_io(fd);
}

void ServerPeers::on_accept() {
    for (;;) {
        int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        // Only servers connect here, a handful; a flood costs descriptors
        // until the handshake deadline, bounded by this.
        size_t pending = size_t(std::count_if(links_.begin(), links_.end(), [](const auto &e) {
            return !e.second->initiator && e.second->phase != Link::Phase::up;
        }));
        if (pending >= 64) {
            refused_++;
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        auto l = std::make_unique<Link>(sas_, keys_, false);
        l->fd = fd;
        l->phase = Link::Phase::tls;
        l->conn = std::make_unique<TlsConn>(ctx_, fd, true);
        l->deadline_ms = EventLoop::now_ms() + int64_t(cfg_.handshake_timeout) * 1000;
        links_[fd] = std::move(l);
        loop_.add(fd, EPOLLIN, [this, fd](uint32_t) { on_io(fd); });
    }
}

void ServerPeers::update_interest(Link &l) {
    loop_.modify(l.fd, (l.conn->wants_read() ? uint32_t(EPOLLIN) : 0u) |
                           (l.conn->wants_write() ? uint32_t(EPOLLOUT) : 0u));
}

void ServerPeers::on_io(int fd) {
    auto it = links_.find(fd);
    if (it == links_.end() || it->second->dead || !it->second->conn) return;
    Link &l = *it->second;
    bool ok = l.conn->on_io([&](MsgType t, const std::vector<uint8_t> &p) {
        if (l.phase == Link::Phase::tls) tls_up(l);
        if (l.dead) return false;
        return on_frame(l, t, p);
    });
    if (ok && !l.dead && l.phase == Link::Phase::tls && l.conn->just_established()) tls_up(l);
    if (!ok && !l.dead) close_link(l, l.conn->error());
    if (!l.dead) {
        if (!l.conn->flush()) close_link(l, l.conn->error());
        else update_interest(l);
    }
    reap();
}

// TLS is up: the peer holds a certificate of our CA fit for a server.
void ServerPeers::tls_up(Link &l) {
    if (std::string why = tls_admission_problem(l.conn->ssl()); !why.empty()) {
        refused_++;
        close_link(l, why);
        return;
    }
    if (cfg_.remote_cert_tls && !tls_peer_is_server(l.conn->ssl())) {
        refused_++;
        close_link(l, "its certificate has no extendedKeyUsage serverAuth");
        return;
    }
    l.phase = Link::Phase::hello;
    l.last_rx_ms = EventLoop::now_ms();
    if (!l.initiator) return;   // the connecting side speaks first
    l.my_spi = l.keying.reserve_spi();
    l.conn->send(MsgType::server_hello, encode(ServerHello{name_, l.my_spi, cfg_.ciphers}));
}

bool ServerPeers::on_hello(Link &l, const ServerHello &h) {
    auto refuse = [&](const std::string &why) {
        refused_++;
        close_link(l, why);
        return false;
    };
    std::optional<Cipher> cipher;
    if (l.initiator) {
        if (h.name != l.name) return refuse("answered as " + h.name + ", expected " + l.name);
        if (h.ciphers.size() != 1 ||
            std::find(cfg_.ciphers.begin(), cfg_.ciphers.end(), h.ciphers[0]) == cfg_.ciphers.end())
            return refuse("chose a cipher we did not offer");
        cipher = h.ciphers[0];
    } else {
        if (h.name == name_) return refuse("it claims our own name " + h.name);
        if (!dir_.servers.count(h.name)) return refuse(h.name + " is not a server of this network in the registry");
        if (!(h.name < name_)) return refuse(h.name + " sorts after " + name_ + ": it waits for our connection");
        for (Cipher c : cfg_.ciphers)
            if (std::find(h.ciphers.begin(), h.ciphers.end(), c) != h.ciphers.end()) {
                cipher = c;
                break;
            }
        if (!cipher) return refuse("no cipher in common with " + h.name);
        l.name = h.name;
        // A server that restarted comes back while its old channel is not
        // timed out yet: the new one takes over.
        if (auto old = by_name_.find(h.name); old != by_name_.end() && old->second != l.fd)
            close_link(*links_[old->second], "replaced by a new channel");
        by_name_[h.name] = l.fd;
        l.my_spi = l.keying.reserve_spi();
        l.conn->send(MsgType::server_hello, encode(ServerHello{name_, l.my_spi, {*cipher}}));
    }
    auto rec = dir_.servers.find(l.name);
    if (rec == dir_.servers.end()) return refuse(l.name + " left the registry");
    Tunnel &t = l.tunnel;
    t.name = l.name;
    t.server_peer = true;
    t.encap = Encapsulation::udp;
    t.udp_peer = rec->second.data;
    t.udp_sock = dp_.udp_for_family(t.udp_peer.addr.family);
    if (t.udp_sock < 0) return refuse("no data socket for " + t.udp_peer.str());
    l.keying.set_cipher(*cipher);
    l.keying.set_limits({cfg_.rekey_after_time, cfg_.rekey_after_bytes, cfg_.rekey_after_packets, cfg_.rekey_grace});
    l.keying.outer_v6 = t.udp_peer.addr.family == AF_INET6;
    std::string err;
    if (!l.keying.install_initial(l.conn->ssl(), l.my_spi, h.spi, &err)) return refuse(err);
    l.phase = Link::Phase::up;
    retry_at_.erase(l.name);
    last_failure_.erase(l.name);
    LM_INFO("servers: channel to %s up (ESP to %s, %s)", l.name.c_str(), t.udp_peer.str().c_str(),
            to_string(*cipher));
    apply_routes();
    return true;
}

bool ServerPeers::on_frame(Link &l, MsgType type, const std::vector<uint8_t> &payload) {
    l.last_rx_ms = EventLoop::now_ms();
    std::string err;
    auto bad = [&](const std::string &why) {
        refused_++;
        close_link(l, "protocol error: " + why);
        return false;
    };
    if (l.phase == Link::Phase::hello) {
        if (type != MsgType::server_hello) return bad(std::string("expected server_hello, got ") + to_string(type));
        ServerHello h;
        if (!decode(payload, &h, &err)) return bad(err);
        return on_hello(l, h);
    }
    switch (type) {
    case MsgType::ping: {
        Ping p;
        if (!decode(payload, &p, &err)) return bad(err);
        l.conn->send(MsgType::pong, encode(p));
        return true;
    }
    case MsgType::pong: return true;
    case MsgType::server_intro:
    case MsgType::server_key:
    case MsgType::peer_gone:   // a node held there left
        if (on_mesh) on_mesh(l.name, type, payload);
        return !l.dead;
    case MsgType::rekey: {
        Rekey r, ack;
        if (!decode(payload, &r, &err)) return bad(err);
        auto a = l.keying.on_rekey(l.conn->ssl(), r, &ack, &err);
        if (a == Keying::Answer::error) return bad(err);
        if (a == Keying::Answer::send_ack) l.conn->send(MsgType::rekey_ack, encode(ack));
        return true;
    }
    case MsgType::rekey_ack: {
        Rekey r;
        if (!decode(payload, &r, &err)) return bad(err);
        if (!l.keying.on_rekey_ack(l.conn->ssl(), r, &err)) return bad(err);
        return true;
    }
    case MsgType::bye: {
        Bye b;
        if (!decode(payload, &b, &err)) return bad(err);
        close_link(l, "it said bye: " + b.reason);
        return false;
    }
    default: return bad(std::string("unexpected ") + to_string(type));
    }
}

void ServerPeers::close_link(Link &l, const std::string &why) {
    if (l.dead) return;
    if (l.conn && l.conn->can_send() && l.phase == Link::Phase::up) {
        Bye b;
        b.reason = why.substr(0, kMaxByeReason);
        l.conn->send(MsgType::bye, encode(b));
        l.conn->flush();
    }
    bool was_up = l.phase == Link::Phase::up;
    if (was_up)
        LM_WARN("servers: channel to %s down: %s", l.name.c_str(), why.c_str());
    else if (l.initiator) {
        // Retried every kRetryMs: said once per reason.
        std::string &last = last_failure_[l.name];
        if (last != why) LM_WARN("servers: channel to %s failed (retried every %lld s): %s", l.name.c_str(),
                                 static_cast<long long>(kRetryMs / 1000), why.c_str());
        last = why;
    } else
        LM_WARN("servers: refused a channel (%s): %s", l.name.empty() ? "before its hello" : l.name.c_str(),
                why.c_str());
    routes_.remove_tunnel(&l.tunnel);
    if (was_up && on_link_down) on_link_down(l.name, &l.tunnel);
    for (auto it = installed_.begin(); it != installed_.end();)
        it = it->second == &l.tunnel ? installed_.erase(it) : std::next(it);
    if (auto n = by_name_.find(l.name); n != by_name_.end() && n->second == l.fd) by_name_.erase(n);
    if (l.initiator) retry_at_[l.name] = EventLoop::now_ms() + kRetryMs;
    l.keying.clear();
    l.dead = true;
    dead_fds_.push_back(l.fd);
}

void ServerPeers::reap() {
    for (int fd : dead_fds_) {
        loop_.remove(fd);
        auto it = links_.find(fd);
        if (it != links_.end() && !it->second->conn) close(fd);   // TlsConn closes its own
        links_.erase(fd);
    }
    dead_fds_.clear();
}

void ServerPeers::tick(int64_t now) {
    time_t wall = time(nullptr);
    std::vector<std::pair<Link *, std::string>> doomed;
    for (auto &[fd, lp] : links_) {
        Link &l = *lp;
        if (l.dead) continue;
        if (l.phase != Link::Phase::up) {
            if (now >= l.deadline_ms) doomed.push_back({&l, "handshake timeout"});
            continue;
        }
        if (now - l.last_rx_ms >= int64_t(cfg_.keepalive_timeout) * 1000) {
            doomed.push_back({&l, "keepalive timeout"});
            continue;
        }
        if (now - l.last_ping_ms >= int64_t(cfg_.keepalive_interval) * 1000) {
            l.last_ping_ms = now;
            l.conn->send(MsgType::ping, encode(Ping{uint64_t(now)}));
        }
        if (l.keying.tick(wall)) {
            Rekey r;
            std::string err;
            if (l.keying.start_rekey(l.conn->ssl(), &r, &err))
                l.conn->send(MsgType::rekey, encode(r));
            else if (!err.empty())
                doomed.push_back({&l, "rekey failed: " + err});
        }
        if (!l.conn->flush()) doomed.push_back({&l, l.conn->error()});
        else update_interest(l);
    }
    for (auto &[l, why] : doomed) close_link(*l, why);
    reap();
}

void ServerPeers::stop() {
    for (auto &[fd, l] : links_) close_link(*l, "server shutting down");
    reap();
}

const char *ServerPeers::channel_state(const std::string &name) const {
    if (name == name_ || !dir_.servers.count(name)) return nullptr;
    auto it = by_name_.find(name);
    if (it == by_name_.end()) return "down";
    auto f = links_.find(it->second);
    if (f == links_.end() || f->second->dead) return "down";
    return f->second->phase == Link::Phase::up ? "up" : "connecting";
}

void ServerPeers::status(JsonWriter &j) const {
    j.begin_object("servers");
    j.kv("name", name_).kv("peer", mine_.peer.str()).kv("routes", uint64_t(installed_.size()));
    j.kv("refused", refused_).kv("records_skipped", uint64_t(records_skipped_));
    j.begin_array("peers");
    for (auto &[name, rec] : dir_.servers) {
        if (name == name_) continue;
        j.begin_object();
        j.kv("name", name).kv("peer", rec.peer.str()).kv("data", rec.data.str());
        const Link *l = nullptr;
        if (auto it = by_name_.find(name); it != by_name_.end())
            if (auto f = links_.find(it->second); f != links_.end()) l = f->second.get();
        const char *state = !l ? "down"
                            : l->phase == Link::Phase::up ? "up"
                                                          : "connecting";
        j.kv("state", state);
        uint64_t nodes = 0;
        for (auto &[node, n] : dir_.nodes) nodes += n.server == name;
        j.kv("nodes", nodes);
        if (l && l->phase == Link::Phase::up) {
            Tunnel::Stats s = l->tunnel.total();
            j.kv("rx_packets", s.rx_packets).kv("tx_packets", s.tx_packets);
            j.kv("rx_bytes", s.rx_bytes).kv("tx_bytes", s.tx_bytes);
        }
        j.end_object();
    }
    j.end_array();
    j.end_object();
}

bool ServerPeers::send(const std::string &server, MsgType t, const std::vector<uint8_t> &payload) {
    Link *l = up_link(server);
    if (!l) return false;
    l->conn->send(t, payload);
    if (!l->conn->flush()) return false;   // the next read or tick closes it
    update_interest(*l);
    return true;
}

Tunnel *ServerPeers::tunnel_of(const std::string &server) {
    Link *l = up_link(server);
    return l ? &l->tunnel : nullptr;
}

std::string ServerPeers::node_at(const IpAddr &a, std::string *server) const {
    auto it = by_addr_.find(a);
    if (it == by_addr_.end()) return "";
    auto n = dir_.nodes.find(it->second);
    if (n == dir_.nodes.end() || n->second.server == name_) return "";
    *server = n->second.server;
    return it->second;
}

std::string ServerPeers::server_of(const std::string &name) const {
    auto n = dir_.nodes.find(name);
    return n == dir_.nodes.end() || n->second.server == name_ ? "" : n->second.server;
}

void ServerPeers::reload_crl(const std::string &crl) {
    std::string err;
    bool ok = false;
    loop_.unguarded([&] { ok = tls_reload_crl(ctx_, crl, &err); });   // reads the file
    if (!ok) {
        LM_WARN("servers: CRL not reloaded for the server channel: %s", err.c_str());
        return;
    }
    X509_STORE *store = SSL_CTX_get_cert_store(ctx_);
    std::vector<std::pair<Link *, std::string>> doomed;
    for (auto &[fd, l] : links_) {
        std::string why;
        if (!l->dead && l->conn && l->conn->state() == TlsConn::State::established &&
            !tls_recheck_peer(l->conn->ssl(), &why, store))
            doomed.push_back({l.get(), "cut at reload: " + why});
    }
    for (auto &[l, why] : doomed) close_link(*l, why);
    reap();
}

}  // namespace lm
