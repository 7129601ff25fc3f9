// SPDX-License-Identifier: MIT
// Who sends first when a pair starts punching (docs/PROTOCOLS.md §10, H6).
//
// Normally both sides send at once: openers whose TTL dies between the two
// NATs, then probes.  Between neighbouring NATs -- the peer's NAT is the next
// hop after our own, no router between them -- every packet that leaves our
// NAT reaches the peer's, so the first one to arrive before the peer's NAT
// has its own mapping leaves an UNREPLIED entry there, and that NAT gives
// the peer another port toward us, which our NAT then filters.  Which side
// loses that race is chance, and the loser's port is random: no probe
// learns it.  So there, one side sends first and alone: the "holder" (the
// lower name) sends its openers, which open its NAT and leave the stale
// entry in the peer's; it then keeps only its own mapping alive, with
// probes whose TTL dies in its own outermost NAT (conntrack refreshes an
// entry before the TTL is checked).  The "waiter" sends nothing toward the
// holder until the stale entry has expired (Linux: 30 s unreplied), then
// probes: its NAT now keeps its port, and the holder's mapping lets it in.
// Slow (about half a minute), but it does not depend on luck.  So once a
// round has run to its end unanswered, the next takes turns the same way between any two NATs: the
// fast way failed, perhaps by that race (a NAT renumbered, the pair
// re-punching with a router between the NATs: tests/netns/85), and trying
// it again only repeats the odds.
#pragma once
#include <cstdint>

namespace lm {

enum class PunchRole { both, hold, wait };

struct PunchPlanFacts {
    int failed_rounds = 0;         // rounds of this episode that ran to their end unanswered
    int own_depth = 0;             // NATs between us and the internet (0: unknown)
    int peer_hops = 0;             // hops to the peer's public address (0: unknown)
    bool peer_behind_nat = false;
    bool same_public = false;      // the peer shares our public address (one NAT)
    bool i_am_lo = false;
};

// Linux keeps an unreplied UDP entry 30 s (nf_conntrack_udp_timeout); the
// waiter waits that and some slack for the two sides' start times.
constexpr int64_t kStaleWaitMs = 33000;
// The holder refreshes its own mapping this often (well inside 30 s).
constexpr int64_t kHoldRefreshMs = 5000;

// Whether our openers (TTL own_depth + 1) reach the peer's NAT itself.
bool openers_reach_peer_nat(int own_depth, int peer_hops);
PunchRole plan_round(const PunchPlanFacts &f);

// Birthday punching (docs/PROTOCOLS.md §10, H7), for a pair where one NAT
// maps each destination to a new random port (`masquerade random-fully`, a
// "symmetric" NAT) and the other keeps its port.  No probe can learn the
// random side's port toward the peer, and the other NAT lets in only what
// comes from an address and port it has sent to.  So the random side opens
// kBirthdayPorts extra sockets and sends an opener from each toward the
// peer's public endpoint, with a TTL that dies past its own NATs: each opens
// a mapping on a random public port.  The port-keeping side sends probes to
// random ports of the random side's public address, at most
// kSprayPerSecond, kSprayProbes in all: each opens its own NAT toward that
// port.  A probe that lands on one of the open mappings reaches its socket;
// the answer passes the sprayer's NAT, and that socket's port becomes the
// random side's data port toward this peer.  With 256 mappings among the
// 64,512 ports a NAT picks from (1024..65535), 1,024 probes find one with
// about 98 % odds, after 250 probes (2.5 s) on average.
//
// Neither side knows its own NAT's behaviour, only the peer's (the server
// gives both ports of the peer: its socket's, and the one its NAT showed
// the server).  So after a round has failed, a side whose peer's port was
// rewritten sprays; a side whose peer kept its port, while we sit behind a
// NAT, opens the ports.  Both NATs random: both spray, nobody opens, the
// relay stays, and the reason says why.  Never where our openers would reach
// the peer's NAT (neighbouring NATs): an opener that arrives there leaves an
// entry for exactly the port the peer would have to probe.  The openers'
// TTL is our NAT depth + 1, or 2 while the depth is unknown.
constexpr int kBirthdayPorts = 256;
constexpr int kSprayProbes = 1024, kSprayPerSecond = 100;
constexpr int kMaxBirthdaysPerEpisode = 3;   // either role
constexpr uint16_t kSprayLowPort = 1024;   // Linux NAT's range for a source port >= 1024
// The sprayer starts this long after its round does: the two sides start
// within a round trip of each other, and a probe that arrives before the
// mapping it aims at is wasted (it leaves an entry that keeps that port from
// being picked).
constexpr int64_t kSprayDelayMs = 1000;
// The random side keeps its ports open this long: the spray's delay and
// length, and slack for the two sides' start times.
constexpr int64_t kBirthdayHoldMs = kSprayDelayMs + 1000LL * kSprayProbes / kSprayPerSecond + 2000;

enum class BirthdayRole { none, spray, open_ports };

struct BirthdayFacts {
    int failed_rounds = 0;
    bool peer_behind_nat = false, me_behind_nat = false;
    bool same_public = false;
    bool ipv4 = false;                 // the peer's public endpoint: no NAT, no birthday on IPv6
    // The peer's socket port and its public port as the server saw it (0: unknown).
    uint16_t peer_local_port = 0, peer_public_port = 0;
    int own_depth = 0, peer_hops = 0;
    int attempts = 0;                  // birthday rounds of this episode so far
    bool ports_free = true;            // no other pair holds the extra ports now
};

BirthdayRole plan_birthday(const BirthdayFacts &f);

}  // namespace lm
