// SPDX-License-Identifier: MIT
// The mesh across servers (docs/DESIGN.md §11): alice, admitted here, talks
// to bob, admitted by another server.  The first packets already reach bob
// through both servers (server/server_peers.h); this makes the two servers
// introduce the pair as one server does (server_mesh.cc):
//
//   here                                   there
//   alice's traffic to bob's address
//   server_intro{id, alice's PeerInfo,  -> bob gets alice's PeerInfo (the
//                alice's ciphers}          pair's cipher chosen there)
//   alice gets bob's PeerInfo          <-  server_intro{id, answer, bob's PeerInfo}
//   alice's peer_key for bob           ->  server_key: bob gets it
//                                      <-  bob's answer, likewise
//
// Each server forwards pair ESP by SPI as on one server: an SPI of a node
// held here goes to it, an SPI of a node held there goes to that server's
// tunnel, which forwards it again by SPI.  Neither ever has a pair key.
//
// Both servers may start an introduction of one pair at once: the smaller
// introduction id wins on both sides.
#include <openssl/rand.h>

#include <algorithm>

#include "common/log.h"
#include "server/server.h"

namespace lm {

namespace {

std::pair<std::string, std::string> pair_of(const std::string &a, const std::string &b) {
    return a < b ? std::make_pair(a, b) : std::make_pair(b, a);
}

// The first of ours that both ends offer; ours first when none is common
// (the pair will fail its key exchange, as on one server).
Cipher common_cipher(const std::vector<Cipher> &ours, const std::vector<Cipher> &a, const std::vector<Cipher> &b) {
    for (Cipher c : ours)
        if (std::find(a.begin(), a.end(), c) != a.end() && std::find(b.begin(), b.end(), c) != b.end()) return c;
    return ours.front();
}

}  // namespace

void Server::xmesh_relay(Session &a, const IpAddr &dst) {
    // Whatever happens, the data path stops asking for this destination.
    if (a.tunnel.introduced_remote.size() >= 256) a.tunnel.introduced_remote.clear();
    a.tunnel.introduced_remote.push_back(dst);
    if (!peers_) return;
    std::string server, name = peers_->node_at(dst, &server);
    if (name.empty() || name == a.name) return;
    introduce_remote(a, name, server);
}

void Server::introduce_remote(Session &a, const std::string &peer, const std::string &server, bool takeup) {
    auto key = pair_of(a.name, peer);
    uint64_t id = 0;
    if (auto it = intros_.find(key); it != intros_.end()) {
        id = it->second;
    } else {
        while (!id) RAND_bytes(reinterpret_cast<unsigned char *>(&id), sizeof id);
        intros_[key] = id;
    }
    remote_pairs_[key] = server;
    a.held[peer] = id;
    ServerIntro m;
    m.intro_id = id;
    m.takeup = takeup;
    m.to = peer;
    m.info = peer_info_for(a, a, id);
    m.ciphers = a.hello.ciphers;
    if (!peers_->send(server, MsgType::server_intro, encode(m))) return;
    if (takeup)
        LM_INFO("%s still holds its pair with %s: asking server %s to take it up", a.name.c_str(), peer.c_str(),
                server.c_str());
    else
        LM_INFO("introducing %s to %s on server %s", a.name.c_str(), peer.c_str(), server.c_str());
}

void Server::xmesh_takeups(int64_t now) {
    if (takeups_.empty() || !peers_) return;
    std::vector<Takeup> left;
    for (Takeup &t : takeups_) {
        Session *a = session_by_name(t.node);
        if (!a || a->dead || a->phase != Session::Phase::up) continue;   // gone meanwhile
        auto held = a->held.find(t.peer);
        if (held == a->held.end() || held->second != t.id) continue;     // the pair changed meanwhile
        if (session_by_name(t.peer)) continue;   // here now: mesh_register's business
        std::string server = peers_->server_of(t.peer);
        if (!server.empty() && peers_->tunnel_of(server)) {
            intros_[pair_of(t.node, t.peer)] = t.id;
            introduce_remote(*a, t.peer, server, true);
            continue;
        }
        if (now < t.until) {
            left.push_back(t);
        } else {
            // Nowhere in reach: as on one server when the other end is
            // not back, the node drops the pair.
            a->held.erase(held);
            a->conn->send(MsgType::peer_gone, encode(PeerGone{t.peer, t.peer + " is not connected to any server"}));
            a->conn->flush();
            update_interest(*a);
        }
    }
    takeups_ = std::move(left);
}

void Server::on_server_mesh(const std::string &server, MsgType t, const std::vector<uint8_t> &payload) {
    std::string err;
    auto drop = [&](const std::string &why) {
        xmesh_dropped_++;
        LM_WARN("servers: %s from %s not used: %s", to_string(t), server.c_str(), why.c_str());
    };
    auto send_to = [this](Session &s, MsgType type, const std::vector<uint8_t> &p) {
        s.conn->send(type, p);
        s.conn->flush();
        update_interest(s);
    };
    if (t == MsgType::server_intro) {
        ServerIntro m;
        if (!decode(payload, &m, &err)) return drop(err);
        Session *b = session_by_name(m.to);
        if (!b) return drop(m.to + " is not connected here");
        if (peers_->server_of(m.info.name) != server)
            return drop(m.info.name + " is not held by " + server + " in the registry");
        auto key = pair_of(m.info.name, m.to);
        auto it = intros_.find(key);
        if (m.answer) {
            if (it == intros_.end() || it->second != m.intro_id) return;   // a newer one is under way
            b->held[m.info.name] = m.intro_id;
            send_to(*b, MsgType::peer_info, encode(m.info));
            for (const IpAddr &a : m.info.addrs) b->tunnel.introduced_remote.push_back(a);
            return;
        }
        if (m.takeup) {
            // Its node still holds the pair; ours must hold the same one,
            // or that end drops it (as on one server, mesh_register).
            auto h = b->held.find(m.info.name);
            if (h == b->held.end() || h->second != m.intro_id) {
                peers_->send(server, MsgType::peer_gone,
                             encode(PeerGone{b->name, b->name + " no longer holds this pair"}));
                return;
            }
            LM_INFO("%s (on server %s) and %s still hold their pair; taken up again", m.info.name.c_str(),
                    server.c_str(), b->name.c_str());
            intros_[key] = m.intro_id;
            it = intros_.find(key);
        }
        // Both sides started one: the smaller id wins everywhere.
        if (it != intros_.end() && it->second != m.intro_id && it->second < m.intro_id &&
            remote_pairs_[key] == server)
            return;
        if (it == intros_.end() || it->second != m.intro_id) {
            mesh_intros_++;
            LM_INFO("introducing %s to %s from server %s", b->name.c_str(), m.info.name.c_str(), server.c_str());
        }
        intros_[key] = m.intro_id;
        remote_pairs_[key] = server;
        b->held[m.info.name] = m.intro_id;
        Cipher c = common_cipher(cfg_.ciphers, b->hello.ciphers, m.ciphers);
        PeerInfo theirs = m.info;
        theirs.cipher = c;
        send_to(*b, MsgType::peer_info, encode(theirs));
        for (const IpAddr &a : theirs.addrs) b->tunnel.introduced_remote.push_back(a);
        ServerIntro answer;
        answer.intro_id = m.intro_id;
        answer.answer = true;
        answer.to = m.info.name;
        answer.info = peer_info_for(*b, *b, m.intro_id);
        answer.info.cipher = c;
        answer.ciphers = b->hello.ciphers;
        peers_->send(server, MsgType::server_intro, encode(answer));
        return;
    }
    if (t == MsgType::peer_gone) {
        // Its node left (bye, keepalive timeout, revocation): the ends of
        // its pairs held here drop them now, as on one server
        // (Server::mesh_forget), instead of probing a path that is gone.
        PeerGone g;
        if (!decode(payload, &g, &err)) return drop(err);
        int told = 0;
        for (auto &[fd, op] : sessions_) {
            Session &o = *op;
            if (o.dead || o.phase != Session::Phase::up) continue;
            auto key = pair_of(o.name, g.name);
            auto rp = remote_pairs_.find(key);
            if (rp == remote_pairs_.end() || rp->second != server) continue;
            remote_pairs_.erase(rp);
            intros_.erase(key);
            last_reintro_.erase(key);
            o.held.erase(g.name);
            send_to(o, MsgType::peer_gone, encode(g));
            told++;
        }
        if (told) LM_INFO("%s (on server %s) left: told %d node(s) here", g.name.c_str(), server.c_str(), told);
        return;
    }
    if (t == MsgType::server_key) {
        ServerKey k;
        if (!decode(payload, &k, &err)) return drop(err);
        Session *b = session_by_name(k.key.name);
        if (!b) return drop(k.key.name + " is not connected here");
        auto key = pair_of(k.from, k.key.name);
        auto intro = intros_.find(key);
        auto rp = remote_pairs_.find(key);
        if (intro == intros_.end() || rp == remote_pairs_.end() || rp->second != server)
            return drop(k.from + " and " + k.key.name + " not introduced across servers");
        if (intro->second != k.key.intro_id) return drop("stale introduction");
        Tunnel *via = peers_->tunnel_of(server);
        if (!via) return drop("no channel");
        if (sas_.find(k.key.spi)) return drop("SPI collides with one of our SAs");
        auto f = forward_.find(k.key.spi);
        if (f != forward_.end() && f->second != via) return drop("SPI already used by a client here");
        if (f == forward_.end()) xmesh_forward(k.key.spi, via);
        PeerKey fwd = k.key;
        fwd.name = k.from;
        send_to(*b, MsgType::peer_key, encode(fwd));
        mesh_keys_forwarded_++;
        return;
    }
}

bool Server::xmesh_peer_key(Session &s, const PeerKey &m) {
    if (!peers_) return false;
    auto key = pair_of(s.name, m.name);
    auto rp = remote_pairs_.find(key);
    if (rp == remote_pairs_.end()) return false;
    auto refuse = [&](const char *why) {
        mesh_keys_refused_++;
        LM_WARN("pair key from %s for %s (on server %s) refused: %s", s.name.c_str(), m.name.c_str(),
                rp->second.c_str(), why);
        return true;
    };
    auto intro = intros_.find(key);
    if (intro == intros_.end() || intro->second != m.intro_id) return refuse("stale introduction");
    if (sas_.find(m.spi)) return refuse("SPI collides with one of the server's SAs");
    auto f = forward_.find(m.spi);
    if (f != forward_.end() && f->second != &s.tunnel) return refuse("SPI already used by another client");
    if (f == forward_.end()) {
        forward_[m.spi] = &s.tunnel;
        gone_spis_.erase(m.spi);
        s.pair_spis.push_back(m.spi);
        if (s.pair_spis.size() > 64) {
            forward_.erase(s.pair_spis.front());
            s.pair_spis.erase(s.pair_spis.begin());
        }
    }
    if (!peers_->send(rp->second, MsgType::server_key, encode(ServerKey{s.name, m})))
        return refuse("no channel to that server");
    mesh_keys_forwarded_++;
    return true;
}

// Pair ESP to `spi` goes to another server's tunnel (which forwards it on).
void Server::xmesh_forward(uint32_t spi, Tunnel *t) {
    forward_[spi] = t;
    remote_spis_.push_back(spi);
    while (remote_spis_.size() > kMaxRemoteSpis) {
        auto f = forward_.find(remote_spis_.front());
        if (f != forward_.end() && f->second->server_peer) forward_.erase(f);
        remote_spis_.pop_front();
    }
}

void Server::xmesh_link_down(const std::string &server, Tunnel *t) {
    for (auto it = forward_.begin(); it != forward_.end();)
        it = it->second == t ? forward_.erase(it) : std::next(it);
    for (auto it = remote_pairs_.begin(); it != remote_pairs_.end();) {
        if (it->second != server) {
            ++it;
            continue;
        }
        intros_.erase(it->first);
        it = remote_pairs_.erase(it);
    }
    // Traffic to those nodes may bring a new introduction once it is back.
    for (auto &[fd, s] : sessions_) s->tunnel.introduced_remote.clear();
}

}  // namespace lm
