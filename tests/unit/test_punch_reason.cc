// SPDX-License-Identifier: MIT
// Every punching outcome has a reason in plain words (src/mesh/punch_reason.h).
#include <gtest/gtest.h>

#include "mesh/punch_reason.h"

using lm::PunchFacts;
using lm::punch_reason;

static bool has(const std::string &s, const char *part) { return s.find(part) != std::string::npos; }

static PunchFacts failed() {
    PunchFacts f;
    f.keys = true;
    f.candidates = 2;
    f.rounds = 1;
    f.probes_sent = 27;
    return f;
}

TEST(PunchReason, KeysFirst) {
    EXPECT_TRUE(has(punch_reason(PunchFacts{}), "waiting for the pair's keys"));
}

TEST(PunchReason, DirectSaysWhereAndWhetherLearnt) {
    PunchFacts f = failed();
    f.direct = true;
    f.endpoint = *lm::Endpoint::parse("203.0.113.65:4500");
    EXPECT_EQ(punch_reason(f), "probes answered both ways via 203.0.113.65:4500");
    f.reflexive = true;
    EXPECT_TRUE(has(punch_reason(f), "learnt from its probe"));
}

TEST(PunchReason, Punching) {
    PunchFacts f = failed();
    f.punching = true;
    f.opener_ttl = 3;
    EXPECT_EQ(punch_reason(f), "punching (round 1, openers with TTL 3)");
}

TEST(PunchReason, PeerNatChangesPorts) {
    PunchFacts f = failed();
    f.peer_local_port = 4500;
    f.peer_public_port = 43148;
    f.next_round_in_ms = 4200;
    std::string r = punch_reason(f);
    EXPECT_TRUE(has(r, "peer's NAT changes port per destination")) << r;
    EXPECT_TRUE(has(r, "4500 was seen as 43148")) << r;
    EXPECT_TRUE(has(r, "; using the relay; punching again in 5 s")) << r;
    // During a later round the reason stays in view (80-mesh reads it at any time).
    f.punching = true;
    f.rounds = 2;
    r = punch_reason(f);
    EXPECT_TRUE(has(r, "peer's NAT changes port per destination")) << r;
    EXPECT_TRUE(has(r, "punching (round 2")) << r;
    EXPECT_TRUE(has(r, "using the relay meanwhile")) << r;
}

TEST(PunchReason, PortKeptButNoAnswer) {
    PunchFacts f = failed();
    f.peer_local_port = f.peer_public_port = 4500;
    std::string r = punch_reason(f);
    EXPECT_TRUE(has(r, "no answer to 27 probes")) << r;
    EXPECT_TRUE(has(r, "using the relay")) << r;
}

TEST(PunchReason, OneWay) {
    PunchFacts f = failed();
    f.probes_heard = 3;
    EXPECT_TRUE(has(punch_reason(f), "the peer's probes reach us but none of ours is answered"));
}

TEST(PunchReason, LostAndNoEndpoint) {
    PunchFacts f = failed();
    f.lost = true;
    EXPECT_TRUE(has(punch_reason(f), "stopped answering"));
    f = failed();
    f.candidates = 0;
    EXPECT_TRUE(has(punch_reason(f), "no UDP endpoint"));
}

TEST(PunchReason, NeighbouringNatsSayWhoSendsFirst) {
    PunchFacts f = failed();
    f.punching = true;
    f.peer_hops = 2;
    f.holding = true;
    std::string s = punch_reason(f);
    EXPECT_TRUE(has(s, "neighbouring NATs")) << s;
    EXPECT_TRUE(has(s, "we sent first")) << s;
    EXPECT_TRUE(has(s, "using the relay meanwhile")) << s;
    f.holding = false;
    f.waiting = true;
    s = punch_reason(f);
    EXPECT_TRUE(has(s, "the peer sent first")) << s;
}
