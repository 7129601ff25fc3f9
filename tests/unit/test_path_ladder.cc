// SPDX-License-Identifier: MIT
// The client's data-path ladder (client/path_ladder.h), driven by a fake
// clock and fake counters: when it probes, when a step is dead, how it moves
// down, how it comes back up, and that a pinned step is never left.
#include <gtest/gtest.h>

#include "client/path_ladder.h"
#include "control/messages.h"

namespace lm {
namespace {

using E = Encapsulation;
using S = PathLadder::State;

// A server that answers every probe on the steps `open` lets through, and
// the client's own data traffic (`sending`).
struct Sim {
    PathLadder l;
    int64_t now = 1000000;
    uint64_t rx[3] = {}, tx = 0;
    bool open[3] = {true, true, true};
    bool sending = false;
    int probes[3] = {};
    int moves = 0;

    void start(E first, uint8_t allowed) { l.start(first, allowed, now); }
    // Runs ticks of 250 ms for `ms`.
    void run(int64_t ms) {
        for (int64_t t = 0; t < ms; t += 250) {
            now += 250;
            if (sending) tx += 10;
            auto a = l.tick(now, rx, tx);
            if (a.moved) moves++;
            for (int i = 0; i < 3; i++)
                if (a.probe[i]) {
                    probes[i]++;
                    if (open[i]) rx[i]++;   // the answer, seen at the next tick
                }
        }
    }
};

TEST(PathLadder, ProvenByTheFirstAnswer) {
    Sim s;
    s.start(E::raw, kPathsAll);
    EXPECT_EQ(s.l.state(), S::probing);
    EXPECT_FALSE(s.l.proven_once());
    s.run(500);
    EXPECT_EQ(s.l.state(), S::carrying);
    EXPECT_EQ(s.l.current(), E::raw);
    EXPECT_TRUE(s.l.proven_once());
    EXPECT_TRUE(s.l.reason().empty());
    EXPECT_EQ(s.probes[0], 1);
    // Idle both ways: one probe per kIdleProbeMs keeps it proven.
    s.run(PathLadder::kIdleProbeMs + 1000);
    EXPECT_EQ(s.probes[0], 2);
    EXPECT_EQ(s.l.state(), S::carrying);
}

TEST(PathLadder, SendingWithoutAnswerFindsADeadStepAndMovesDown) {
    Sim s;
    s.start(E::udp, kPathsAll);
    s.run(1000);
    ASSERT_EQ(s.l.state(), S::carrying);
    // A firewall starts dropping UDP 4500 while we send.
    s.open[1] = false;
    s.sending = true;
    s.run(PathLadder::kDeadAfterMs - 250);
    EXPECT_EQ(s.l.current(), E::udp) << "not dead before kDeadAfterMs of probing";
    s.run(PathLadder::kQuietAfterSendMs + 500);
    EXPECT_EQ(s.l.current(), E::raw) << "UDP blocked, protocol 50 passes: raw ESP";
    EXPECT_EQ(s.moves, 1);
    EXPECT_NE(s.l.reason().find("ESP in UDP"), std::string::npos) << s.l.reason();
    s.run(500);
    EXPECT_EQ(s.l.state(), S::carrying);
    // Protocol 50 dropped too: into TLS.
    s.open[0] = false;
    s.run(PathLadder::kQuietAfterSendMs + PathLadder::kDeadAfterMs + 500);
    EXPECT_EQ(s.l.current(), E::tls);
    EXPECT_NE(s.l.reason().find("raw ESP"), std::string::npos) << s.l.reason();
    s.run(500);
    EXPECT_EQ(s.l.state(), S::carrying);
}

// The fast path first: ESP in UDP heads the ladder, raw ESP is below it.
TEST(PathLadder, EspInUdpIsTheBestStep) {
    EXPECT_EQ(PathLadder::kSteps[0], E::udp);
    EXPECT_EQ(PathLadder::kSteps[1], E::raw);
    EXPECT_EQ(PathLadder::kSteps[2], E::tls);
    Sim s;
    s.start(E::udp, kPathsAll);
    s.run(500);
    EXPECT_EQ(s.l.current(), E::udp);
    EXPECT_EQ(s.l.state(), S::carrying);
    EXPECT_EQ(s.probes[1], 1);
    EXPECT_EQ(s.probes[0], 0) << "nothing better to probe";
    s.run(2 * PathLadder::kUpwardEveryMs);
    EXPECT_EQ(s.probes[0], 0);
}

TEST(PathLadder, NeverAnsweredStepIsDeadWithinDeadAfter) {
    Sim s;
    s.open[1] = false;
    s.start(E::udp, kPathsAll);
    s.run(PathLadder::kDeadAfterMs);
    EXPECT_EQ(s.l.current(), E::raw);
    EXPECT_FALSE(s.l.proven_once());   // the first answer on raw ESP comes at the next tick
    EXPECT_GE(s.probes[1], 4);   // one a second
    EXPECT_LE(s.probes[1], 5);
}

TEST(PathLadder, MovesBackUpWhenABetterStepAnswers) {
    Sim s;
    s.open[0] = s.open[1] = false;
    s.start(E::udp, kPathsAll);
    s.sending = true;
    s.run(2 * PathLadder::kDeadAfterMs + 1000);
    ASSERT_EQ(s.l.current(), E::tls);
    ASSERT_EQ(s.l.state(), S::carrying);
    int udp_probes = s.probes[1], raw_probes = s.probes[0];
    // Still blocked: the upward round tries both better steps and stays.
    s.run(PathLadder::kUpwardEveryMs + PathLadder::kDeadAfterMs);
    EXPECT_GT(s.probes[1], udp_probes);
    EXPECT_GT(s.probes[0], raw_probes);
    EXPECT_EQ(s.l.current(), E::tls);
    // The firewall is gone: the next round moves straight to ESP in UDP.
    s.open[0] = s.open[1] = true;
    s.run(PathLadder::kUpwardEveryMs + 2000);
    EXPECT_EQ(s.l.current(), E::udp);
    EXPECT_EQ(s.l.state(), S::carrying);
    EXPECT_NE(s.l.reason().find("carries again"), std::string::npos) << s.l.reason();
}

TEST(PathLadder, UpwardRoundOnlyProbesBetterAllowedSteps) {
    Sim s;
    s.open[1] = false;
    s.start(E::udp, kPathUdp | kPathTls);   // behind a NAT: no raw ESP
    s.sending = true;
    s.run(PathLadder::kDeadAfterMs + 1000);
    ASSERT_EQ(s.l.current(), E::tls);
    s.run(3 * PathLadder::kUpwardEveryMs);
    EXPECT_EQ(s.probes[0], 0);
    EXPECT_GT(s.probes[1], 4);
}

TEST(PathLadder, PinnedStepIsReportedDeadNotLeft) {
    Sim s;
    s.open[0] = false;
    s.start(E::raw, kPathRaw);
    s.run(PathLadder::kDeadAfterMs + 500);
    EXPECT_EQ(s.l.current(), E::raw);
    EXPECT_EQ(s.l.state(), S::dead);
    EXPECT_EQ(s.moves, 0);
    EXPECT_NE(s.l.reason().find("no authenticated ESP"), std::string::npos);
    // It keeps probing and recovers when the path comes back.
    s.open[0] = true;
    s.run(1500);
    EXPECT_EQ(s.l.state(), S::carrying);
    EXPECT_TRUE(s.l.reason().empty());
}

TEST(PathLadder, CountersFromBeforeTheSessionAreNoEvidence) {
    Sim s;
    s.rx[0] = 500;   // a previous session's traffic
    s.open[0] = false;
    s.start(E::raw, kPathRaw);
    s.run(PathLadder::kDeadAfterMs + 500);
    EXPECT_EQ(s.l.state(), S::dead);
    EXPECT_FALSE(s.l.proven_once());
}

TEST(PathLadder, Words) {
    EXPECT_STREQ(to_string(S::carrying), "carrying");
    EXPECT_STREQ(encap_words(E::tls), "ESP in TLS");
    EXPECT_STREQ(encap_words(E::raw), "raw ESP");
}

}  // namespace
}  // namespace lm
