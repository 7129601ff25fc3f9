// SPDX-License-Identifier: MIT
// How many NATs stand between us and the internet, for the TTL of the
// hole-punch openers (docs/PROTOCOLS.md §10).  An opener must pass every NAT
// of ours (so that each has a mapping) and die before the peer's NAT (so that
// it leaves no stale entry there).  Behind a home NAT alone the old fixed TTL
// of 2 does that; behind a home NAT *and* a carrier-grade NAT it dies inside
// the CGNAT, which then has no mapping when the peer's first probe arrives.
//
// The measure: small datagrams to our own public address (what the server
// sees), with TTL 1, 2, ... kMaxHops, each to its own port.  Our outermost
// NAT owns that address and takes the datagram itself (ICMP port
// unreachable); every NAT before it has to forward it, and the TTLs too short
// for that come back as ICMP time exceeded.  So the depth is the smallest TTL
// answered "port unreachable", or one more than the largest answered "time
// exceeded".  The opener TTL is depth + 1: one hop past our last NAT.  Without
// any answer (ICMP filtered) the old TTL of 2 stays.  The same for every peer:
// our NATs are the first hops of every path.
#pragma once
#include <cstdint>

#include "common/addr.h"

namespace lm {

class NatDepth {
public:
    static constexpr int kMaxHops = 8;
    static constexpr int kDefaultTtl = 2;
    static constexpr uint16_t kBasePort = 33434;   // traceroute's ports: what firewalls expect
    static constexpr int64_t kWaitMs = 1000;

    NatDepth() = default;
    // quiet: measures hops to another address (a peer's NAT) and logs nothing.
    explicit NatDepth(bool quiet) : quiet_(quiet) {}
    NatDepth(const NatDepth &) = delete;
    NatDepth &operator=(const NatDepth &) = delete;
    ~NatDepth() { close_socket(); }

    // Measures toward our public address (IPv4 only: IPv6 has no NAT to
    // pass).  Forgets the last result until the new one is in.
    void start(const IpAddr &public_addr, int64_t now, int max_ttl = kMaxHops);
    // Reads what came back (non-blocking); ends the measure after kWaitMs.
    void poll(int64_t now);
    int opener_ttl() const { return ttl_; }
    // 0 while unknown.
    int depth() const { return depth_; }
    // The smallest TTL that reached the address so far (0: none yet), known
    // before the measure ends: proof of how near it is at least.
    int first_arrival() const { return min_unreach_; }
    // Blocks up to max_ms (bounded, small) until TTL ttl's fate is known:
    // it arrived (port unreachable) or died on the way (time exceeded).
    void await(int ttl, int max_ms);
    bool measuring() const { return fd_ >= 0; }

    // The pure rule: largest TTL answered "time exceeded" (0: none) and the
    // smallest answered "port unreachable" (0: none) -> our NAT depth (0:
    // unknown).  Answers that contradict each other give 0.
    static int depth_from(int max_time_exceeded, int min_unreachable);
    static int ttl_for_depth(int depth) {
        if (depth <= 0) return kDefaultTtl;
        int t = depth + 1;
        return t < kDefaultTtl ? kDefaultTtl : t > kMaxHops ? kMaxHops : t;
    }

private:
    void close_socket();
    void finish();

    bool quiet_ = false;
    int fd_ = -1;
    IpAddr pub_;
    int64_t started_ = 0;
    int max_te_ = 0, min_unreach_ = 0;
    int depth_ = 0;
    int ttl_ = kDefaultTtl;
};

}  // namespace lm
