// SPDX-License-Identifier: MIT
// Who sends first when punching starts (src/mesh/punch_plan.h).
#include <gtest/gtest.h>

#include "mesh/punch_plan.h"

using lm::plan_round;
using lm::PunchPlanFacts;
using lm::PunchRole;

static PunchPlanFacts neighbours(bool lo) {
    PunchPlanFacts f;
    f.own_depth = 1;
    f.peer_hops = 2;       // our NAT, then the peer's
    f.peer_behind_nat = true;
    f.i_am_lo = lo;
    return f;
}

TEST(PunchPlan, NeighbouringNatsTakeTurnsByName) {
    EXPECT_EQ(plan_round(neighbours(true)), PunchRole::hold);
    EXPECT_EQ(plan_round(neighbours(false)), PunchRole::wait);
}

TEST(PunchPlan, ARouterBetweenTheNatsKeepsTheFastWay) {
    PunchPlanFacts f = neighbours(true);
    f.peer_hops = 3;       // natA, a router, natB: the opener dies at the router
    EXPECT_EQ(plan_round(f), PunchRole::both);
    f.own_depth = 2;       // behind a CGNAT: the opener has TTL 3, and reaches hop 3
    EXPECT_EQ(plan_round(f), PunchRole::hold);
}

TEST(PunchPlan, UnknownDistancesKeepTheFastWay) {
    PunchPlanFacts f = neighbours(true);
    f.peer_hops = 0;       // ICMP filtered: no answer
    EXPECT_EQ(plan_round(f), PunchRole::both);
    f = neighbours(true);
    f.own_depth = 0;
    EXPECT_EQ(plan_round(f), PunchRole::both);
}

TEST(PunchPlan, OnlyTheFirstRoundAndOnlyBetweenTwoNats) {
    PunchPlanFacts f = neighbours(false);
    f.round = 2;           // the first round left entries of its own
    EXPECT_EQ(plan_round(f), PunchRole::both);
    f = neighbours(false);
    f.peer_behind_nat = false;   // it learns our port from our probe
    EXPECT_EQ(plan_round(f), PunchRole::both);
    f = neighbours(false);
    f.same_public = true;        // one NAT: met on the LAN
    EXPECT_EQ(plan_round(f), PunchRole::both);
}
