// SPDX-License-Identifier: MIT
// Outbound sequence numbers handed out in blocks per worker: never twice,
// never far behind what other workers already sent.
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "data/per_worker.h"
#include "data/sa.h"

namespace lm {
namespace {

TEST(SeqBlocks, OneWorkerCountsFromOne) {
    OutboundSa sa;
    for (uint32_t want = 1; want <= 1000; want++) {
        uint32_t s = 0;
        ASSERT_TRUE(sa.take_seq(0, &s));
        ASSERT_EQ(s, want);
    }
    EXPECT_EQ(sa.last_seq(), 1000u);
}

TEST(SeqBlocks, WorkersGetDisjointBlocks) {
    ASSERT_GE(data_slots(), 2);
    OutboundSa sa;
    uint32_t a = 0, b = 0;
    ASSERT_TRUE(sa.take_seq(0, &a));
    ASSERT_TRUE(sa.take_seq(1, &b));
    EXPECT_EQ(a, 1u);
    EXPECT_EQ(b, 1u + uint32_t(OutboundSa::kSeqBlock));
    ASSERT_TRUE(sa.take_seq(0, &a));
    EXPECT_EQ(a, 2u);
}

// A worker that sent one packet while another sent thousands must not go on
// with its old block: the receiver's window would call it a replay.
TEST(SeqBlocks, StaleBlockIsAbandoned) {
    OutboundSa sa;
    uint32_t a = 0, b = 0;
    ASSERT_TRUE(sa.take_seq(0, &a));
    for (int i = 0; i < 5000; i++) ASSERT_TRUE(sa.take_seq(1, &b));
    ASSERT_TRUE(sa.take_seq(0, &a));
    EXPECT_GT(a, b);
    // The spread the receiver sees stays inside its replay window.
    EXPECT_LT(b - std::min(a, b), ReplayWindow::kWindow);
}

// Seen in 60-traffic on a loaded two-core host: one of alice's workers
// sealed a batch, was preempted, and the other sent on; the server took
// the late batch for replays.  A worker seals up to Dataplane::kTxSlots
// (256) packets before it sends them; here the other worker sends 12,000
// meanwhile (a third of a second at the 35,000 packets/s such a host moves,
// about 130 ms at 1 Gbit/s), the receiver sees all of those first, then
// the late batch: none of it may be a replay.
TEST(SeqBlocks, LateBatchFromAPausedWorkerIsNoReplay) {
    OutboundSa sa;
    ReplayWindow rx;
    std::vector<uint32_t> late;
    for (int i = 0; i < 256; i++) {
        uint32_t s;
        ASSERT_TRUE(sa.take_seq(0, &s));
        late.push_back(s);
    }
    for (int i = 0; i < 12000; i++) {
        uint32_t s;
        ASSERT_TRUE(sa.take_seq(1, &s));
        ASSERT_TRUE(rx.update(s)) << s;
    }
    for (uint32_t s : late) EXPECT_TRUE(rx.update(s)) << "seq " << s << " taken for a replay, top " << rx.top();
    // And a real replay still is one.
    EXPECT_FALSE(rx.update(late.front()));
}

TEST(SeqBlocks, ConcurrentWorkersNeverShareANumber) {
    constexpr int kPer = 300000;
    OutboundSa sa;
    std::vector<std::vector<uint32_t>> got(2);
    std::vector<std::thread> th;
    for (int w = 0; w < 2; w++)
        th.emplace_back([&, w] {
            got[size_t(w)].reserve(kPer);
            for (int i = 0; i < kPer; i++) {
                uint32_t s;
                if (!sa.take_seq(w, &s)) return;
                got[size_t(w)].push_back(s);
            }
        });
    for (auto &t : th) t.join();
    std::vector<uint32_t> all = got[0];
    all.insert(all.end(), got[1].begin(), got[1].end());
    ASSERT_EQ(all.size(), size_t(2 * kPer));
    std::sort(all.begin(), all.end());
    EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end()) << "a number was handed out twice";
    EXPECT_GE(all.front(), 1u);
    // Each worker's own numbers rise (one flow on one worker stays in order).
    for (auto &v : got) EXPECT_TRUE(std::is_sorted(v.begin(), v.end()));
}

}  // namespace
}  // namespace lm
