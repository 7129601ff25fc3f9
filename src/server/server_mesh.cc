// SPDX-License-Identifier: MIT
// The server's part of the mesh (ClientToClient = direct): it notices which
// clients talk through it, introduces them to each other, passes their signed
// key exchange along, and forwards their ESP by SPI.  It never sees a pair
// key: the X25519 private halves stay on the clients.
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <algorithm>
#include <set>

#include "common/log.h"
#include "core/loop.h"
#include "server/server.h"

namespace lm {

static std::pair<std::string, std::string> pair_key(const std::string &a, const std::string &b) {
    return a < b ? std::make_pair(a, b) : std::make_pair(b, a);
}

Server::Session *Server::session_by_name(const std::string &name) {
    auto it = by_name_.find(name);
    if (it == by_name_.end()) return nullptr;
    auto s = sessions_.find(it->second);
    if (s == sessions_.end() || s->second->dead || s->second->phase != Session::Phase::up) return nullptr;
    return s->second.get();
}

Server::Session *Server::session_by_tunnel(const Tunnel *t) {
    for (auto &[fd, s] : sessions_)
        if (&s->tunnel == t && !s->dead) return s.get();
    return nullptr;
}

void Server::on_relay(Tunnel &from, Tunnel &to, const IpAddr &dst) {
    if (to.server_peer) {
        auto it = by_tunnel_.find(&from);
        if (it != by_tunnel_.end()) xmesh_relay(*it->second, dst);
        return;
    }
    // Called per relayed packet: the common case (already introduced) is a
    // scan of a short vector, with no allocation.
    if (std::find(from.introduced.begin(), from.introduced.end(), &to) != from.introduced.end()) return;
    Session *a = session_by_tunnel(&from), *b = session_by_tunnel(&to);
    if (a && b) introduce(*a, *b);
}

PeerInfo Server::peer_info_for(const Session &s, const Session &other, uint64_t intro_id) const {
    PeerInfo m;
    m.intro_id = intro_id;
    m.name = s.name;
    if (X509 *cert = SSL_get0_peer_certificate(s.conn->ssl())) {
        int len = i2d_X509(cert, nullptr);
        if (len > 0) {
            m.cert.resize(size_t(len));
            unsigned char *p = m.cert.data();
            i2d_X509(cert, &p);
        }
    }
    if (s.lease) {
        m.addrs.push_back(s.lease->addr4);
        if (s.lease->addr6.is_set()) m.addrs.push_back(s.lease->addr6);
    }
    if (const PeerConfig *pc = cfg_.find_peer(s.name)) m.networks = pc->networks;
    // Candidates: where we see its UDP traffic come from (its NAT's public
    // side), then the addresses it reported, for peers behind the same NAT.
    Endpoint seen;
    if (s.tunnel.encap == Encapsulation::udp && s.tunnel.udp_peer.port)
        seen = s.tunnel.udp_peer;
    else
        seen = Endpoint{s.tcp_peer.addr, s.hello.data_port};
    if (seen.port) m.candidates.push_back(seen);
    for (auto &a : s.hello.local_addrs) {
        Endpoint e{a, s.hello.data_port};
        if (e.port && !(e == seen) && m.candidates.size() < kMaxListItems) m.candidates.push_back(e);
    }
    m.flags = uint8_t((s.nat ? kPeerFlagNat : 0) | (s.tunnel.encap == Encapsulation::raw ? kPeerFlagRaw : 0));
    // The pair's cipher: ours in order of preference, offered by both.
    m.cipher = cfg_.ciphers.front();
    for (Cipher c : cfg_.ciphers) {
        auto has = [c](const Session &x) {
            return std::find(x.hello.ciphers.begin(), x.hello.ciphers.end(), c) != x.hello.ciphers.end();
        };
        if (has(s) && has(other)) {
            m.cipher = c;
            break;
        }
    }
    return m;
}

void Server::introduce(Session &a, Session &b) {
    auto key = pair_key(a.name, b.name);
    uint64_t id = 0;
    if (auto it = intros_.find(key); it != intros_.end()) {
        id = it->second;
    } else {
        RAND_bytes(reinterpret_cast<unsigned char *>(&id), sizeof id);
        intros_[key] = id;
        mesh_intros_++;
        LM_INFO("introducing %s and %s", a.name.c_str(), b.name.c_str());
    }
    if (std::find(a.tunnel.introduced.begin(), a.tunnel.introduced.end(), &b.tunnel) == a.tunnel.introduced.end()) {
        a.tunnel.introduced.push_back(&b.tunnel);
        b.tunnel.introduced.push_back(&a.tunnel);
    }
    a.held[b.name] = id;
    b.held[a.name] = id;
    a.announced = a.tunnel.udp_peer;
    b.announced = b.tunnel.udp_peer;
    a.conn->send(MsgType::peer_info, encode(peer_info_for(b, a, id)));
    b.conn->send(MsgType::peer_info, encode(peer_info_for(a, b, id)));
    a.conn->flush();
    b.conn->flush();
    update_interest(a);
    update_interest(b);
}

bool Server::on_peer_key(Session &s, const PeerKey &m) {
    auto refuse = [&](const char *why) {
        mesh_keys_refused_++;
        LM_WARN("pair key from %s for %s refused: %s", s.name.c_str(), m.name.c_str(), why);
        return true;   // the session stays; the message is dropped
    };
    Session *peer = session_by_name(m.name);
    if (!peer && xmesh_peer_key(s, m)) return true;
    if (!peer) return refuse("no such peer connected");
    auto intro = intros_.find(pair_key(s.name, m.name));
    if (intro == intros_.end()) return refuse("not introduced");
    if (intro->second != m.intro_id) return refuse("stale introduction");
    // The SPI the sender will receive on must route to it alone: never one
    // of our own SAs, never one another client already uses.
    if (sas_.find(m.spi)) return refuse("SPI collides with one of the server's SAs");
    auto f = forward_.find(m.spi);
    if (f != forward_.end() && f->second != &s.tunnel) return refuse("SPI already used by another client");
    if (f == forward_.end()) {
        forward_[m.spi] = &s.tunnel;
        gone_spis_.erase(m.spi);   // a departed client's once; its entry in gone_order_ ages out
        s.pair_spis.push_back(m.spi);
        // Keep the last few per client: current and previous epochs of a
        // handful of pairs; older ones are dead.
        if (s.pair_spis.size() > 64) {
            forward_.erase(s.pair_spis.front());
            s.pair_spis.erase(s.pair_spis.begin());
        }
    }
    PeerKey fwd = m;
    fwd.name = s.name;   // the receiver learns who sent it; the signature binds it
    peer->conn->send(MsgType::peer_key, encode(fwd));
    peer->conn->flush();
    update_interest(*peer);
    mesh_keys_forwarded_++;
    return true;
}

bool Server::on_peer_request(Session &s, const PeerRequest &m) {
    Session *peer = session_by_name(m.name);
    auto key = pair_key(s.name, m.name);
    // Without an introduction on record (we restarted, or one side
    // reconnected) this starts a new one, and both sides rekey from scratch.
    if (m.data_port) s.hello.data_port = m.data_port;
    if (!peer && peers_) {
        // On another server: a fresh introduction there too.
        std::string server = peers_->server_of(m.name);
        if (server.empty()) return true;
        if (auto it = intros_.find(key); it != intros_.end() && it->second != m.intro_id) intros_.erase(it);
        introduce_remote(s, m.name, server);
        return true;
    }
    if (!peer || peer == &s) return true;
    int64_t now = EventLoop::now_ms();
    auto &last = last_reintro_[key];
    if (now - last < 300) return true;   // both sides ask at once; one answer serves both
    last = now;
    // The sender holds another introduction than ours, or none (it tore the
    // pair down): a fresh one, and both sides build the pair anew.
    if (auto it = intros_.find(key); it != intros_.end() && it->second != m.intro_id) {
        LM_INFO("%s asks to rebuild its pair with %s", s.name.c_str(), m.name.c_str());
        intros_.erase(it);
    }
    introduce(s, *peer);
    return true;
}

void Server::mesh_forget(Session &s, bool cut, const std::string &why) {
    for (uint32_t spi : s.pair_spis) {
        auto f = forward_.find(spi);
        if (f == forward_.end() || f->second != &s.tunnel) continue;
        forward_.erase(f);
        if (s.replaced) {
            // Its successor keeps receiving on them: the pairs live on.
            handover_[s.name].push_back(spi);
            continue;
        }
        if (gone_spis_.emplace(spi, s.name).second) gone_order_.push_back(spi);
        while (gone_order_.size() > kMaxGoneSpis) {
            gone_spis_.erase(gone_order_.front());
            gone_order_.pop_front();
        }
    }
    s.pair_spis.clear();
    for (Tunnel *peer : s.tunnel.introduced) std::erase(peer->introduced, &s.tunnel);
    s.tunnel.introduced.clear();
    // The servers holding the other end of its pairs across servers
    // (server_xmesh.cc), told below as our own clients are.
    std::set<std::string> remote;
    for (const auto &[key, server] : remote_pairs_)
        if (key.first == s.name || key.second == s.name) remote.insert(server);
    for (auto it = intros_.begin(); it != intros_.end();) {
        const auto &[lo, hi] = it->first;
        if (lo != s.name && hi != s.name) {
            ++it;
            continue;
        }
        last_reintro_.erase(it->first);
        remote_pairs_.erase(it->first);
        it = intros_.erase(it);
    }
    if (cfg_.client_to_client != ClientToClient::direct) return;
    if (peers_ && (cut || s.left))
        for (const std::string &server : remote)
            peers_->send(server, MsgType::peer_gone, encode(PeerGone{s.name, s.name + " left (" + why + ")"}));
    auto tell = [this](Session &to, const std::string &name, const std::string &reason) {
        to.conn->send(MsgType::peer_gone, encode(PeerGone{name, reason}));
        to.conn->flush();
        update_interest(to);
    };
    if (cut) {
        for (auto &[fd, other] : sessions_) other->held.erase(s.name);
        // Tell every client, not only those we introduced: pairs outlive a
        // server restart, so our record of who talks to whom may be
        // incomplete.  Revocations are rare; one small message per client
        // is cheap.
        for (auto &[fd, other] : sessions_) {
            if (other.get() == &s || other->dead || other->phase != Session::Phase::up) continue;
            tell(*other, s.name, why);
        }
        return;
    }
    // It left (its bye, or silence past the keepalive timeout): the other
    // end of each of its pairs drops it now, rather than send into a relay
    // that no longer knows the SPI.  Not when a newer session took over,
    // nor when only its connection broke (it may be back in a moment with
    // its pairs), nor when we shut down (pairs outlive a server restart).
    if (!s.left) return;
    for (auto &[fd, op] : sessions_) {
        Session &o = *op;
        if (&o == &s || o.dead || o.phase != Session::Phase::up || !o.held.erase(s.name)) continue;
        tell(o, s.name, s.name + " left (" + why + ")");
    }
}

void Server::on_unknown_pair_spi(uint32_t spi, const Endpoint &from, int udp_idx) {
    auto g = gone_spis_.find(spi);
    if (g == gone_spis_.end()) {
        mesh_unknown_spi_unowned_++;
        return;
    }
    // The sender, by the endpoint its ESP comes from.
    Session *sender = nullptr;
    for (auto &[fd, sp] : sessions_) {
        Session &o = *sp;
        if (o.dead || o.phase != Session::Phase::up) continue;
        const Tunnel &t = o.tunnel;
        if (udp_idx >= 0 ? t.udp_peer == from : t.raw_peer == from.addr) {
            sender = &o;
            break;
        }
    }
    if (!sender || sender->name == g->second) return;
    int64_t now = EventLoop::now_ms();
    auto key = std::make_pair(sender->name, spi);
    if (auto t = unknown_told_.find(key); t != unknown_told_.end() && now - t->second < 1000) return;
    if (unknown_told_.size() >= 1024) unknown_told_.clear();   // bounded; a repeat costs one message
    unknown_told_[key] = now;
    mesh_unknown_spi_told_++;
    sender->held.erase(g->second);
    LM_INFO("%s sends to %s's pair SPI %08x, unknown since %s left; telling it to drop the pair",
            sender->name.c_str(), g->second.c_str(), spi, g->second.c_str());
    sender->conn->send(MsgType::peer_gone,
                       encode(PeerGone{g->second, g->second + " is gone: the server no longer knows its pair SPI"}));
    sender->conn->flush();
    update_interest(*sender);
}

void Server::mesh_register(Session &s) {
    // The pair SPIs of the session it replaced are its own again.
    if (auto h = handover_.find(s.name); h != handover_.end()) {
        for (uint32_t spi : h->second)
            if (forward_.emplace(spi, &s.tunnel).second) s.pair_spis.push_back(spi);
        handover_.erase(h);
    }
    s.held.clear();
    for (const auto &[name, id] : s.hello.pairs)
        if (name != s.name) s.held[name] = id;
    auto gone = [this](Session &to, const std::string &name, const std::string &why) {
        to.held.erase(name);
        to.conn->send(MsgType::peer_gone, encode(PeerGone{name, why}));
        to.conn->flush();
        update_interest(to);
    };
    for (auto &[fd, op] : sessions_) {
        Session &o = *op;
        if (&o == &s || o.dead || o.phase != Session::Phase::up) continue;
        auto mine = s.held.find(o.name);
        auto theirs = o.held.find(s.name);
        if (mine != s.held.end() && theirs != o.held.end() && mine->second == theirs->second) {
            // Both ends still hold it (we restarted, or one of them
            // reconnected): the same introduction again.  The pair's keys
            // stay; the one that reconnected starts a new epoch.
            intros_[pair_key(s.name, o.name)] = mine->second;
            LM_INFO("%s and %s still hold their pair; taken up again", s.name.c_str(), o.name.c_str());
            introduce(s, o);
            continue;
        }
        // Only one end holds it (the other restarted): that end drops it,
        // and traffic between them brings a fresh introduction.
        if (theirs != o.held.end()) gone(o, s.name, s.name + " came back without this pair");
        if (mine != s.held.end()) gone(s, o.name, o.name + " no longer holds this pair");
    }
    // Pairs with nodes that are not here: perhaps on another server
    // (server_xmesh.cc), which is asked to take them up.
    if (!peers_) return;
    int64_t until = EventLoop::now_ms() + kTakeupMs;
    for (const auto &[name, id] : s.held)
        if (!session_by_name(name) && takeups_.size() < 4096) takeups_.push_back({s.name, name, id, until});
}

void Server::mesh_announce_moves(int64_t now) {
    for (auto &[fd, sp] : sessions_) {
        Session &s = *sp;
        if (s.dead || s.phase != Session::Phase::up || s.tunnel.introduced.empty()) continue;
        if (!s.tunnel.udp_peer.port || s.tunnel.udp_peer == s.announced) continue;
        if (now - s.announced_ms < 1000) continue;   // a NAT that flaps is not followed faster
        s.announced_ms = now;
        LM_INFO("%s: UDP endpoint now %s (was %s); introducing it again to its pairs", s.name.c_str(),
                s.tunnel.udp_peer.str().c_str(), s.announced.port ? s.announced.str().c_str() : "unknown");
        s.announced = s.tunnel.udp_peer;
        std::vector<Tunnel *> peers = s.tunnel.introduced;
        for (Tunnel *t : peers)
            if (Session *o = session_by_tunnel(t)) introduce(s, *o);
    }
}

}  // namespace lm
