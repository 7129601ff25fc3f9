// SPDX-License-Identifier: MIT
// Padded path-MTU probes: the header in a dummy's payload
// (data/mtu_probe.h) and the client's search (client/mtu_search.h).
#include <gtest/gtest.h>

#include <vector>

#include "client/mtu_search.h"
#include "data/mtu_probe.h"

namespace lm {
namespace {

TEST(MtuProbe, WriteReadEcho) {
    std::vector<uint8_t> buf(1400, 0xaa);
    mtu_probe_write({MtuProbeKind::probe, 0x1234, 1480}, buf.data(), buf.size());
    EXPECT_EQ(buf[0], 'L');
    EXPECT_EQ(buf[1399], 0);   // padding is zeroes
    MtuProbe p;
    ASSERT_TRUE(mtu_probe_read(buf.data(), buf.size(), &p));
    EXPECT_EQ(p.kind, MtuProbeKind::probe);
    EXPECT_EQ(p.id, 0x1234);
    EXPECT_EQ(p.size, 1480);
    mtu_probe_make_echo(buf.data());
    ASSERT_TRUE(mtu_probe_read(buf.data(), buf.size(), &p));
    EXPECT_EQ(p.kind, MtuProbeKind::echo);
    EXPECT_EQ(mtu_probe_word(0x1234, 1480), 0x123405c8u);
}

TEST(MtuProbe, RefusesWhatIsNotAProbe) {
    std::vector<uint8_t> buf(64);
    MtuProbe p;
    EXPECT_FALSE(mtu_probe_read(buf.data(), buf.size(), &p));      // zeroes: a plain dummy
    mtu_probe_write({MtuProbeKind::result, 1, 1280}, buf.data(), buf.size());
    EXPECT_FALSE(mtu_probe_read(buf.data(), 11, &p));               // shorter than the header
    ASSERT_TRUE(mtu_probe_read(buf.data(), 12, &p));
    buf[4] = 4;                                                      // unknown kind
    EXPECT_FALSE(mtu_probe_read(buf.data(), buf.size(), &p));
    buf[4] = 0;
    EXPECT_FALSE(mtu_probe_read(buf.data(), buf.size(), &p));
    mtu_probe_write({MtuProbeKind::probe, 1, 575}, buf.data(), buf.size());   // sizes out of range
    EXPECT_FALSE(mtu_probe_read(buf.data(), buf.size(), &p));
    mtu_probe_write({MtuProbeKind::probe, 1, 9001}, buf.data(), buf.size());
    EXPECT_FALSE(mtu_probe_read(buf.data(), buf.size(), &p));
    mtu_probe_write({MtuProbeKind::probe, 1, 9000}, buf.data(), buf.size());
    buf[5] = 1;                                                      // reserved byte set
    EXPECT_FALSE(mtu_probe_read(buf.data(), buf.size(), &p));
}

// A path that carries up to `limit` bytes, losing nothing else; the search
// driven by a 250 ms tick as the client's.  Returns the result and the time.
struct SearchRun {
    unsigned result;
    int64_t ms;
    int sent;
};
SearchRun search(unsigned lo, unsigned hi, unsigned limit, int lose_first = 0) {
    MtuSearch s;
    s.start(lo, hi, 0);
    int64_t t = 0;
    int sent = 0;
    while (s.running() && t < 120000) {
        uint16_t id;
        if (unsigned size = s.due(t, &id)) {
            sent++;
            if (size <= limit && sent > lose_first) s.answered(id);
        }
        t += 250;
    }
    return {s.result(), t, sent};
}

TEST(MtuSearch, NothingSmallerInTheWay) {
    SearchRun r = search(1280, 1500, 1500);
    EXPECT_EQ(r.result, 1500u);
    EXPECT_EQ(r.sent, 1);
}

TEST(MtuSearch, BlackHoleBelowOurLink) {
    SearchRun r = search(1280, 1500, 1280);
    EXPECT_EQ(r.result, 1280u) << "sizes above 1280 are never echoed";
    SearchRun r2 = search(1280, 1500, 1400);
    EXPECT_LE(r2.result, 1400u);
    EXPECT_GT(r2.result, 1400u - MtuSearch::kStep);
    EXPECT_LT(r2.ms, 30000);
}

TEST(MtuSearch, NothingAnswered) {
    SearchRun r = search(1280, 1500, 1000);
    EXPECT_EQ(r.result, 0u);
    EXPECT_EQ(r.sent, 2 * MtuSearch::kTries);   // hi twice, lo twice
}

TEST(MtuSearch, OneLossIsNotABlackHole) {
    SearchRun r = search(1280, 1500, 1500, 1);
    EXPECT_EQ(r.result, 1500u);
    EXPECT_EQ(r.sent, 2);
}

TEST(MtuSearch, OnlyTheProbeInFlightCounts) {
    MtuSearch s;
    s.start(1280, 1500, 0);
    uint16_t id = 0;
    ASSERT_EQ(s.due(0, &id), 1500u);
    s.answered(uint16_t(id + 1));   // a late echo of something else
    EXPECT_EQ(s.due(500, &id), 0u);  // still waiting
    uint16_t again;
    ASSERT_EQ(s.due(1000, &again), 1500u);   // sent once more, with a new id
    EXPECT_NE(again, id);
    s.answered(id);                 // the first one's echo, late: not counted
    EXPECT_TRUE(s.running());
    s.answered(again);
    EXPECT_EQ(s.due(1500, &id), 0u);
    EXPECT_FALSE(s.running());
    EXPECT_EQ(s.result(), 1500u);
}

// ICMP told the kernel: sizes above are lost without waiting for them.
TEST(MtuSearch, KernelLimitCutsTheSearchShort) {
    MtuSearch s;
    s.start(1280, 1500, 0);
    uint16_t id = 0;
    ASSERT_EQ(s.due(0, &id), 1500u);
    s.limit(1280);
    ASSERT_EQ(s.due(0, &id), 1280u);   // at once, not after kWaitMs
    s.answered(id);
    EXPECT_EQ(s.due(500, &id), 0u);
    EXPECT_FALSE(s.running());
    EXPECT_EQ(s.result(), 1280u);
}

TEST(MtuSearch, LoEqualsHi) {
    SearchRun r = search(1280, 1280, 1280);
    EXPECT_EQ(r.result, 1280u);
    EXPECT_EQ(r.sent, 1);
}

}  // namespace
}  // namespace lm
