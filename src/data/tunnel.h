// SPDX-License-Identifier: MIT
// One peer as the data plane sees it: where to send its ESP, which SAs carry
// its traffic, which inner source addresses it may use, and its counters.
// On the server there is one per connected client; on a client one for the
// server.
#pragma once
#include <cstdint>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "common/addr.h"
#include "config/config.h"
#include "data/per_worker.h"
#include "data/sa.h"

namespace lm {

// Index of a data-path step in Tunnel::Stats::path_rx: raw 0, udp 1, tls 2.
constexpr int path_index(Encapsulation e) {
    return e == Encapsulation::raw ? 0 : e == Encapsulation::tls ? 2 : 1;
}

struct Tunnel {
    std::string name;                  // certificate CN of the peer
    Encapsulation encap = Encapsulation::udp;   // udp, raw or tls, never auto here
    Endpoint udp_peer;                 // port 0 until the peer's first packet
    int udp_sock = -1;                 // index into Dataplane's UDP sockets
    IpAddr raw_peer;                   // outer address for raw ESP
    // Inner bytes the outer path to the peer carries, learnt from the
    // kernel's path MTU when a send failed with EMSGSIZE (data/pmtu.h);
    // 0 = unknown, the TUN's MTU applies.  Control thread, workers paused.
    unsigned path_mtu = 0;
    // The largest outer packet that padded probes proved to make the round
    // trip (data/mtu_probe.h); 0 = not probed.  Caps path_mtu where ICMP
    // never told the kernel (a black hole).  Control thread.
    unsigned probed_outer = 0;

    std::unique_ptr<OutboundSa> out;
    std::unique_ptr<InboundSa> in_cur, in_old;   // in_old lives on after a rekey
    time_t in_old_expires = 0;

    // Inner source addresses this peer may use.  Empty means any (a client
    // accepts whatever its server forwards; the server is its gateway).
    std::vector<Prefix> allowed_src;
    bool is_client = false;            // server side: a tunnel to a client
    // Server side: a tunnel to another server of the network (server/
    // server_peers.h).  What it sends must come from a node the route table
    // puts behind it, and nothing it sends is passed on to another server.
    bool server_peer = false;
    // A pair tunnel (mesh) without a direct path borrows the outer path of
    // this tunnel (the client's tunnel to the server, which forwards the ESP
    // by SPI without decrypting it).  Null: use our own endpoint.
    Tunnel *via = nullptr;
    // Server, mesh: the clients this one has been introduced to, so the relay
    // path can tell without a lookup that allocates.
    std::vector<Tunnel *> introduced;
    // Server, mesh across servers: the addresses on other servers this
    // client has been introduced to (or is being), likewise.
    std::vector<IpAddr> introduced_remote;

    // Counters, one copy per worker (summed by total()).
    struct Stats {
        uint64_t rx_packets = 0, rx_bytes = 0, tx_packets = 0, tx_bytes = 0;
        // Drops of packets that named this peer's SA (by reason).
        uint64_t drops_src = 0, drops_replay = 0, drops_icv = 0, drops_padding = 0, drops_inner = 0;
        time_t last_rx = 0, last_tx = 0;
        // Authenticated ESP (dummies included) received by path: raw ESP,
        // ESP in UDP, ESP in TLS (path_index); the data-path ladder's
        // evidence that a path carries (client/path_ladder.h).
        uint64_t path_rx[3] = {};
        // Server: dummies answered in the second reply_sec (a rate bound).
        time_t reply_sec = 0;
        uint32_t replies = 0;
        // Path-MTU probes (data/mtu_probe.h), mtu_probe_word(id, size) of
        // the last one seen: client, an echo; server, a client's result.
        uint32_t mtu_echo = 0, mtu_result = 0;
    };
    PerWorker<Stats> stats;
    Stats total() const {
        Stats t;
        for (int i = 0; i < stats.size(); i++) {
            const Stats &s = stats[i];
            t.rx_packets += s.rx_packets;
            t.rx_bytes += s.rx_bytes;
            t.tx_packets += s.tx_packets;
            t.tx_bytes += s.tx_bytes;
            t.drops_src += s.drops_src;
            t.drops_replay += s.drops_replay;
            t.drops_icv += s.drops_icv;
            t.drops_padding += s.drops_padding;
            t.drops_inner += s.drops_inner;
            if (s.last_rx > t.last_rx) t.last_rx = s.last_rx;
            if (s.last_tx > t.last_tx) t.last_tx = s.last_tx;
            for (int p = 0; p < 3; p++) t.path_rx[p] += s.path_rx[p];
        }
        return t;
    }
    // Forgets when the peer was last heard (a new session starts).
    void clear_last_rx() {
        for (int i = 0; i < stats.size(); i++) stats[i].last_rx = 0;
    }

    bool allows_source(const IpAddr &src) const {
        if (allowed_src.empty()) return true;
        for (auto &p : allowed_src)
            if (p.contains(src)) return true;
        return false;
    }
};

}  // namespace lm
