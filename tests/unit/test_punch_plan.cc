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

TEST(PunchPlan, OnlyBetweenTwoNats) {
    PunchPlanFacts f = neighbours(false);
    f.peer_behind_nat = false;   // it learns our port from our probe
    EXPECT_EQ(plan_round(f), PunchRole::both);
    f.failed_rounds = 2;
    EXPECT_EQ(plan_round(f), PunchRole::both);
    f = neighbours(false);
    f.same_public = true;        // one NAT: met on the LAN
    EXPECT_EQ(plan_round(f), PunchRole::both);
    f.failed_rounds = 1;
    EXPECT_EQ(plan_round(f), PunchRole::both);
}

// Seen in 85-mesh-resilience: alice's NAT renumbered, a router between the
// NATs, both sides sent at once round after round, and alice's probe kept
// reaching bob's NAT first: bob's port was random every time and the pair
// never went direct again.  A round after a failed one takes turns.
TEST(PunchPlan, ARetryTakesTurnsWithARouterBetween) {
    PunchPlanFacts f = neighbours(true);
    f.peer_hops = 3;       // natA, a router, natB
    EXPECT_EQ(plan_round(f), PunchRole::both);   // the first round: the fast way
    // A second round cut short by a re-introduction (a roaming peer, 86-mesh-roaming)
    // has not failed: failed_rounds stays 0, and the fast way with it.
    f.failed_rounds = 1;
    EXPECT_EQ(plan_round(f), PunchRole::hold);
    f.i_am_lo = false;
    EXPECT_EQ(plan_round(f), PunchRole::wait);
    f.peer_hops = 0;       // unknown distance: still turns on a retry
    EXPECT_EQ(plan_round(f), PunchRole::wait);
}

// The holder's refresh must die in its own NAT: without its depth it cannot
// hold, so it goes the fast way (the waiter cannot know; it waits anyway).
TEST(PunchPlan, NoHoldWithoutOurOwnDepth) {
    PunchPlanFacts f = neighbours(true);
    f.failed_rounds = 1;
    f.own_depth = 0;
    EXPECT_EQ(plan_round(f), PunchRole::both);
}

// Birthday punching (punch_plan.h): who sprays, who opens ports, and when
// neither.
static lm::BirthdayFacts random_peer() {
    lm::BirthdayFacts f;
    f.failed_rounds = 1;
    f.peer_behind_nat = true;
    f.me_behind_nat = true;
    f.ipv4 = true;
    f.peer_local_port = 4500;
    f.peer_public_port = 40123;   // its NAT rewrote the port toward the server
    f.own_depth = 1;
    f.peer_hops = 3;              // a router between the NATs
    return f;
}

TEST(PunchPlan, BirthdayOnlyAfterAFailedRound) {
    using lm::BirthdayRole;
    lm::BirthdayFacts f = random_peer();
    EXPECT_EQ(lm::plan_birthday(f), BirthdayRole::spray);
    f.failed_rounds = 0;
    EXPECT_EQ(lm::plan_birthday(f), BirthdayRole::none);
    f = random_peer();
    f.peer_public_port = 4500;    // the peer keeps its port: we may be the random side
    EXPECT_EQ(lm::plan_birthday(f), BirthdayRole::open_ports);
    f.failed_rounds = 0;
    EXPECT_EQ(lm::plan_birthday(f), BirthdayRole::none);
}

TEST(PunchPlan, BirthdayNeedsBothPortsOfThePeerAndANat) {
    using lm::BirthdayRole;
    lm::BirthdayFacts f = random_peer();
    f.peer_local_port = 0;        // it reported no local address
    EXPECT_EQ(lm::plan_birthday(f), BirthdayRole::none);
    f = random_peer();
    f.peer_behind_nat = false;    // it learns our port from our probe
    EXPECT_EQ(lm::plan_birthday(f), BirthdayRole::none);
    f = random_peer();
    f.same_public = true;         // met on the LAN
    EXPECT_EQ(lm::plan_birthday(f), BirthdayRole::none);
    f = random_peer();
    f.ipv4 = false;
    EXPECT_EQ(lm::plan_birthday(f), BirthdayRole::none);
    f = random_peer();
    f.peer_public_port = 4500;
    f.me_behind_nat = false;      // no NAT of ours to open
    EXPECT_EQ(lm::plan_birthday(f), BirthdayRole::none);
}

TEST(PunchPlan, BirthdayPortsNotWhereOurOpenersReachThePeersNat) {
    lm::BirthdayFacts f = random_peer();
    f.peer_public_port = 4500;
    f.peer_hops = 2;              // neighbouring NATs: the opener would arrive there
    EXPECT_EQ(lm::plan_birthday(f), lm::BirthdayRole::none);
    f.own_depth = 2;              // behind a CGNAT: TTL 3 reaches hop 3
    f.peer_hops = 3;
    EXPECT_EQ(lm::plan_birthday(f), lm::BirthdayRole::none);
    f.own_depth = 0;              // depth unknown (ICMP filtered): TTL 2, dies at hop 2
    EXPECT_EQ(lm::plan_birthday(f), lm::BirthdayRole::open_ports);
    f.peer_hops = 2;
    EXPECT_EQ(lm::plan_birthday(f), lm::BirthdayRole::none);
    f.own_depth = 1;
    f.peer_hops = 3;
    f.ports_free = false;         // another pair holds the extra ports
    EXPECT_EQ(lm::plan_birthday(f), lm::BirthdayRole::none);
}

TEST(PunchPlan, BirthdayRoundsAreBoundedPerEpisode) {
    lm::BirthdayFacts f = random_peer();
    f.attempts = lm::kMaxBirthdaysPerEpisode - 1;
    EXPECT_EQ(lm::plan_birthday(f), lm::BirthdayRole::spray);
    f.attempts = lm::kMaxBirthdaysPerEpisode;
    EXPECT_EQ(lm::plan_birthday(f), lm::BirthdayRole::none);
    f.peer_public_port = 4500;
    EXPECT_EQ(lm::plan_birthday(f), lm::BirthdayRole::none);
}
