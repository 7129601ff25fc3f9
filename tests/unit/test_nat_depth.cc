// SPDX-License-Identifier: MIT
// The opener TTL from the NAT-depth measure (src/mesh/nat_depth.h).
#include <gtest/gtest.h>

#include "mesh/nat_depth.h"

using lm::NatDepth;

TEST(NatDepth, HomeNatAloneAnswersPortUnreachableAtTheFirstHop) {
    EXPECT_EQ(NatDepth::depth_from(0, 1), 1);
    EXPECT_EQ(NatDepth::ttl_for_depth(1), 2);
}

TEST(NatDepth, HomeNatBehindACgnat) {
    // TTL 1 times out at the home NAT; the CGNAT owns the public address.
    EXPECT_EQ(NatDepth::depth_from(1, 2), 2);
    EXPECT_EQ(NatDepth::ttl_for_depth(2), 3);
    EXPECT_EQ(NatDepth::depth_from(2, 3), 3);
    EXPECT_EQ(NatDepth::ttl_for_depth(3), 4);
}

TEST(NatDepth, PortUnreachableFilteredTimeExceededStillCounts) {
    EXPECT_EQ(NatDepth::depth_from(1, 0), 2);
    EXPECT_EQ(NatDepth::depth_from(2, 0), 3);
}

TEST(NatDepth, NoAnswerOrContradictionKeepsTheOldTtl) {
    EXPECT_EQ(NatDepth::depth_from(0, 0), 0);
    EXPECT_EQ(NatDepth::depth_from(3, 2), 0);   // timed out past where it arrived
    EXPECT_EQ(NatDepth::depth_from(2, 2), 0);
    EXPECT_EQ(NatDepth::ttl_for_depth(0), NatDepth::kDefaultTtl);
}

TEST(NatDepth, TtlStaysWithinBounds) {
    EXPECT_EQ(NatDepth::ttl_for_depth(NatDepth::kMaxHops), NatDepth::kMaxHops);
    EXPECT_EQ(NatDepth::ttl_for_depth(100), NatDepth::kMaxHops);
    EXPECT_GE(NatDepth::ttl_for_depth(-1), 2);
}
