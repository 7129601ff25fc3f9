// SPDX-License-Identifier: MIT
#include "mesh/punch_plan.h"

namespace lm {

bool openers_reach_peer_nat(int own_depth, int peer_hops) {
    return own_depth > 0 && peer_hops > 0 && peer_hops <= own_depth + 1;
}

PunchRole plan_round(const PunchPlanFacts &f) {
    // Behind one NAT the peer is met on its LAN address; a peer without a
    // NAT learns our port from our probe, whatever our NAT chose.
    if (f.same_public || !f.peer_behind_nat) return PunchRole::both;
    // Until a round has failed, the fast way unless our openers reach the
    // peer's NAT (a round cut short by a re-introduction, as a roaming
    // peer's two introductions do, has not failed).  After a failed
    // round, turns wherever possible:
    // the failure may have been the race (a probe at the peer's NAT before
    // its own mapping, seen after a NAT renumbered with a router between
    // the NATs), and sending at once again only repeats the odds.  The
    // holder needs its own NAT depth for its refresh TTL; without it, the
    // fast way.
    if (f.failed_rounds == 0) {
        if (!openers_reach_peer_nat(f.own_depth, f.peer_hops)) return PunchRole::both;
    } else if (f.i_am_lo && f.own_depth <= 0) {
        return PunchRole::both;
    }
    return f.i_am_lo ? PunchRole::hold : PunchRole::wait;
}

BirthdayRole plan_birthday(const BirthdayFacts &f) {
    // Not before the ordinary way has failed once; not on IPv6, nor behind
    // one NAT (the LAN address), nor toward a peer without a NAT (it learns
    // our port from our probe).
    if (f.failed_rounds == 0 || !f.ipv4 || f.same_public || !f.peer_behind_nat) return BirthdayRole::none;
    if (!f.peer_local_port || !f.peer_public_port) return BirthdayRole::none;
    if (f.attempts >= kMaxBirthdaysPerEpisode) return BirthdayRole::none;
    if (f.peer_local_port != f.peer_public_port) return BirthdayRole::spray;
    // The peer keeps its port: we are the random side, or both keep theirs
    // and the round failed for another reason (then nobody sprays, and the
    // ports cost 256 datagrams that die past our own NAT).
    // Our openers have TTL depth + 1, or 2 while our depth is unknown (ICMP
    // filtered on the way): not where that reaches the peer's NAT.
    if (!f.me_behind_nat || !f.ports_free) return BirthdayRole::none;
    int ttl = f.own_depth > 0 ? f.own_depth + 1 : 2;
    if (f.peer_hops > 0 && f.peer_hops <= ttl) return BirthdayRole::none;
    return BirthdayRole::open_ports;
}

}  // namespace lm
