// SPDX-License-Identifier: MIT
// The client's data path to the server: the ladder of client/path_ladder.h
// driven by the tunnel's counters, its moves told to the server (a `path`
// message), and its state shown to the admin: the log, `link show`,
// `peer show`, `lanmesh monitor` and systemd's READY=1 / STATUS=.
#include "client/client.h"
#include "common/log.h"
#include "core/sd_notify.h"

namespace lm {

// ESP frames wait in the TLS output queue behind nothing else of ours; at
// half the queue's high-water mark they are dropped (counted), as a full
// link would drop them, so the control messages never wait for bulk data
// and the session is never cut for it (control/tls_conn.h).
static constexpr size_t kStreamBudget = kOutputHighWater / 2;

uint8_t Client::own_paths() const {
    switch (cfg_.encapsulation) {
    case Encapsulation::raw: return kPathRaw;
    case Encapsulation::udp: return kPathUdp;
    case Encapsulation::tls: return kPathTls;
    case Encapsulation::auto_: break;
    }
    return uint8_t((raw_available_ ? kPathRaw : 0) | kPathUdp | kPathTls);
}

void Client::path_start(const ConfigMsg &m) {
    mtu_key_.clear();   // a new session: probe the path again
    uint8_t offered = m.paths ? m.paths : path_bit(m.encap);
    uint8_t allowed = uint8_t(offered & own_paths());
    Encapsulation first = m.encap;
    std::string note;
    // "auto" judges NAT on both sides: the server saw none in front of us,
    // but if it sees itself under another address than the one we dial, a
    // NAT forwards to it, and a port forward passes no protocol 50: raw ESP
    // leaves the ladder.  (The liveness checks would find out within
    // seconds; this saves them.)  A server of an older version may still
    // offer raw ESP first.
    const IpAddr &dialed = server_.addr;   // with a host name, what it resolved to
    if ((allowed & kPathRaw) && (allowed & kPathUdp) && m.server_addr.is_set() && !(m.server_addr == dialed)) {
        std::string why = "the server is behind a NAT (it is " + m.server_addr.str() + ", we dial " + dialed.str() +
                          "): raw ESP would not pass";
        LM_INFO("data path to %s: %s; raw ESP left out", server_str().c_str(), why.c_str());
        allowed = uint8_t(allowed & ~kPathRaw);
        if (first == Encapsulation::raw) {
            note = why;
            first = Encapsulation::udp;
        }
    }
    ladder_.start(first, allowed, EventLoop::now_ms(), note);
    stream_pending_ = false;
    if (first != m.encap) {
        tunnel_.encap = first;
        conn_->send(MsgType::path, encode(PathMsg{first}));
        conn_->flush();
        update_interest();
    }
    path_tick(EventLoop::now_ms());
    path_report();
}

void Client::path_tick(int64_t now) {
    if (phase_ != Phase::up || !conn_) return;
    Tunnel::Stats st = tunnel_.total();
    PathLadder::Actions a = ladder_.tick(now, st.path_rx, st.tx_packets);
    if (a.moved) {
        // Our side moves at once; the server follows when it reads this.
        // Until then its packets still come by the old step, which we
        // still take: nothing is lost either way.
        tunnel_.encap = ladder_.current();
        conn_->send(MsgType::path, encode(PathMsg{ladder_.current()}));
        conn_->flush();
        update_interest();
    }
    for (int i = 0; i < 3; i++)
        if (a.probe[i]) dp_.send_dummy_on(tunnel_, PathLadder::kByPathIndex[i]);
    if (a.changed) path_report();
}

std::string Client::path_status() const {
    std::string s = std::string(encap_words(ladder_.current())) + " " + to_string(ladder_.state());
    if (!ladder_.reason().empty()) s += " (" + ladder_.reason() + ")";
    return s;
}

void Client::path_report() {
    const char *how = encap_words(ladder_.current());
    const std::string &why = ladder_.reason();
    std::string status = "connected to " + server_str() + " as " + current_.local4.str() + "; data path: ";
    std::string notify;
    switch (ladder_.state()) {
    case PathLadder::State::carrying:
        LM_INFO("data path to %s: %s carries%s%s%s", server_str().c_str(), how, why.empty() ? "" : " (",
                why.c_str(), why.empty() ? "" : ")");
        // systemd hears READY=1 only once the tunnel is known to carry.
        notify = "READY=1\nSTATUS=" + status + how + ", carrying";
        break;
    case PathLadder::State::probing:
        if (!why.empty()) LM_WARN("data path to %s: %s; trying %s", server_str().c_str(), why.c_str(), how);
        notify = "STATUS=" + status + how + ", not proven yet" + (why.empty() ? "" : " (" + why + ")");
        break;
    case PathLadder::State::dead:
        LM_WARN("data path to %s is dead: %s", server_str().c_str(), why.c_str());
        notify = "STATUS=" + status + how + " does not carry: " + why;
        break;
    }
    workers_free([&] {   // PID 1 may be slow to read it
        sd_notify_send(notify);
        return true;
    });
    // `link show` lists a dead path among its warnings.
    if (ladder_.state() == PathLadder::State::dead)
        role_warning_ = "data path to " + server_str() + " does not carry: " + why;
    else if (role_warning_.rfind("data path to ", 0) == 0)
        role_warning_.clear();
    emit_event("path", [&](JsonWriter &j) {
        j.kv("peer", cfg_.server_name).kv("state", to_string(ladder_.state()));
        j.kv("encapsulation", to_string(ladder_.current()));
        if (!why.empty()) j.kv("reason", why);
    });
}

void Client::on_stream_out(const Tunnel *t, const uint8_t *esp, size_t len) {
    // Pairs relayed by the server travel in our tunnel's path too.
    if (t != &tunnel_ || !conn_ || phase_ != Phase::up || !conn_->can_send() ||
        conn_->pending_out() + len > kStreamBudget) {
        dp_.counters().drop(Drop::stream_full);
        return;
    }
    conn_->send(MsgType::esp, esp, len);
    stream_pending_ = true;
}

}  // namespace lm
