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

}  // namespace lm
