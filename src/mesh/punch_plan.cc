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

}  // namespace lm
