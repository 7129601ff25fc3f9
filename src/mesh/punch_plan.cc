// SPDX-License-Identifier: MIT
#include "mesh/punch_plan.h"

namespace lm {

bool openers_reach_peer_nat(int own_depth, int peer_hops) {
    return own_depth > 0 && peer_hops > 0 && peer_hops <= own_depth + 1;
}

PunchRole plan_round(const PunchPlanFacts &f) {
    // Only the first round: a failed round leaves entries of its own, which
    // the ordinary retries (with their pauses past 30 s) wait out.  Behind
    // one NAT the peer is met on its LAN address; a peer without a NAT
    // learns our port from our probe, whatever our NAT chose.
    if (f.round != 1 || f.same_public || !f.peer_behind_nat) return PunchRole::both;
    if (!openers_reach_peer_nat(f.own_depth, f.peer_hops)) return PunchRole::both;
    return f.i_am_lo ? PunchRole::hold : PunchRole::wait;
}

}  // namespace lm
