// SPDX-License-Identifier: MIT
// Replay window: numbered edge cases, then a randomised comparison with a
// naive reference (a set of seen numbers plus the highest), the way
// WireGuard's selftest checks its counter.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <set>
#include <thread>
#include <vector>
#include <algorithm>
#include <atomic>

#include "esp/replay.h"

namespace lm {
namespace {

constexpr uint32_t W = ReplayWindow::kWindow;
constexpr uint32_t R = ReplayWindow::kSlots * ReplayWindow::kBlockBits;   // one lap of the ring

TEST(Replay, Constants) {
    EXPECT_EQ(W, 16352u);
    EXPECT_EQ(ReplayWindow::kSlots, 512u);
}

TEST(Replay, SeqZeroIsNeverValid) {
    ReplayWindow w;
    EXPECT_FALSE(w.check(0));
    EXPECT_FALSE(w.update(0));
    ASSERT_TRUE(w.update(5));
    EXPECT_FALSE(w.check(0));
    EXPECT_FALSE(w.update(0));
    EXPECT_EQ(w.top(), 5u);
}

TEST(Replay, InOrder) {
    ReplayWindow w;
    EXPECT_EQ(w.top(), 0u);
    for (uint32_t s = 1; s <= 10000; s++) {
        ASSERT_TRUE(w.check(s)) << s;
        ASSERT_TRUE(w.update(s)) << s;
        ASSERT_EQ(w.top(), s);
    }
    // Everything just accepted is now a duplicate or too old.
    for (uint32_t s = 1; s <= 10000; s++) ASSERT_FALSE(w.check(s)) << s;
}

TEST(Replay, CheckDoesNotMark) {
    ReplayWindow w;
    EXPECT_TRUE(w.check(7));
    EXPECT_TRUE(w.check(7));
    EXPECT_EQ(w.top(), 0u);
    EXPECT_TRUE(w.update(7));
    EXPECT_FALSE(w.check(7));
}

TEST(Replay, ReorderedWithinWindowAndDuplicates) {
    ReplayWindow w;
    ASSERT_TRUE(w.update(100));
    for (uint32_t s : {99u, 50u, 1u, 98u, 64u, 63u, 65u}) {
        EXPECT_TRUE(w.check(s)) << s;
        EXPECT_TRUE(w.update(s)) << s;
        EXPECT_FALSE(w.check(s)) << s;
        EXPECT_FALSE(w.update(s)) << s;  // duplicate
    }
    EXPECT_TRUE(w.check(2));
    EXPECT_TRUE(w.check(97));
    EXPECT_FALSE(w.update(100));
    EXPECT_EQ(w.top(), 100u);
}

TEST(Replay, TooOldAtExactEdge) {
    ReplayWindow w;
    const uint32_t top = W + 10000;
    ASSERT_TRUE(w.update(top));
    EXPECT_FALSE(w.check(top - W));      // seq + kWindow == top: too old
    EXPECT_FALSE(w.update(top - W));
    EXPECT_TRUE(w.check(top - W + 1));   // oldest acceptable
    EXPECT_TRUE(w.update(top - W + 1));
    EXPECT_FALSE(w.update(top - W + 1));
    EXPECT_FALSE(w.check(1));
    // One step forward pushes the oldest out.
    ASSERT_TRUE(w.update(top + 1));
    EXPECT_FALSE(w.check(top - W + 1));
    EXPECT_TRUE(w.check(top - W + 2));
}

// Update without a preceding check (the race the brief names: two copies of
// one packet both pass check() before either is marked).
TEST(Replay, UpdateWithoutCheck) {
    ReplayWindow w;
    EXPECT_TRUE(w.update(3));
    EXPECT_TRUE(w.update(1));
    EXPECT_FALSE(w.update(3));
    EXPECT_FALSE(w.update(1));
    EXPECT_TRUE(w.update(2));
    const uint32_t top = W + 1000;
    EXPECT_TRUE(w.update(top));
    EXPECT_FALSE(w.update(top - W));  // too old, window unchanged
    EXPECT_EQ(w.top(), top);
    EXPECT_TRUE(w.update(top - W + 1));
}

// A jump larger than the ring clears all of it: old bits must not be
// mistaken for new numbers that share their ring position.
TEST(Replay, BigJumpSlidesWholeWindow) {
    ReplayWindow w;
    for (uint32_t s = 1; s <= R; s++) ASSERT_TRUE(w.update(s));  // one full lap of the ring
    const uint32_t far = R * 100 + 2000;
    ASSERT_TRUE(w.update(far));
    EXPECT_EQ(w.top(), far);
    for (uint32_t s = far - W + 1; s < far; s++) ASSERT_TRUE(w.check(s)) << s;
    EXPECT_FALSE(w.check(far));
    EXPECT_FALSE(w.check(far - W));
    EXPECT_FALSE(w.check(R));
    // Ring aliases (same word index and bit, later lap) of every number
    // marked before the jump read as unseen when inside the window.
    int aliases = 0;
    for (uint32_t lap : {99u, 100u}) {
        for (uint32_t s = 1; s <= R; s++) {
            uint32_t alias = s + R * lap;
            if (alias > far - W && alias < far) {
                ASSERT_TRUE(w.check(alias)) << alias;
                aliases++;
            }
        }
    }
    EXPECT_EQ(aliases, int(W) - 1);
}

// Sliding by less than a ring: words passed over are cleared, the words still
// in the window keep their bits, including across the end of the array.
TEST(Replay, RingWrapPartialSlide) {
    ReplayWindow w;
    for (uint32_t s = 1; s <= 200; s++) ASSERT_TRUE(w.update(s));  // words 0..6
    const uint32_t top = R + 130;  // ring index 4, lap 1
    ASSERT_TRUE(w.update(top));
    // Ring index 2, where 69 lived a lap ago: must read unseen.
    EXPECT_TRUE(w.check(R + 64 + 5));
    EXPECT_TRUE(w.check(R + 5));        // ring index 0, lap 1
    EXPECT_TRUE(w.check(R + 129));      // ring index 4, below top
    // Words 5 and 6 are still inside the window with their old bits.
    EXPECT_EQ(top - 200, R - 70);
    EXPECT_FALSE(w.check(200));         // seen
    EXPECT_FALSE(w.check(top - W + 1)); // 163: seen, the oldest acceptable position
    EXPECT_FALSE(w.check(top - W));     // 162: too old
    EXPECT_TRUE(w.check(201));          // in window, never seen
    EXPECT_TRUE(w.update(201));
    EXPECT_FALSE(w.update(201));
}

// No ESN: the last numbers before 2^32 must work, and the ring index must
// wrap through the array correctly up there.
TEST(Replay, HighSequenceNumbers) {
    ReplayWindow w;
    const uint32_t max = 0xFFFFFFFF;
    // Strides of 3 from max - off land on max - 2 (off % 3 == 2) and cover
    // the whole window.
    constexpr uint32_t off = W + 1000 + (5 - (W + 1000) % 3) % 3;
    static_assert(off % 3 == 2 && off > W);
    ASSERT_TRUE(w.update(max - 2 * off));
    for (uint32_t s = max - off; s != 0 && s <= max; s += 3) ASSERT_TRUE(w.update(s)) << s;
    ASSERT_EQ(w.top(), max - 2);
    ASSERT_TRUE(w.update(max));
    EXPECT_EQ(w.top(), max);
    EXPECT_FALSE(w.check(max));
    EXPECT_FALSE(w.update(max));
    EXPECT_TRUE(w.check(max - 1));       // skipped by the stride
    EXPECT_FALSE(w.check(max - 2));      // seen
    // The oldest positions in the window: seen where the stride hit them.
    auto on_stride = [&](uint32_t s) { return (s - (max - off)) % 3 == 0; };
    for (uint32_t s = max - W + 1; s <= max - W + 3; s++) EXPECT_EQ(w.check(s), !on_stride(s)) << s;
    EXPECT_FALSE(w.check(max - W));      // too old, whether seen or not
    EXPECT_FALSE(w.check(max - W - 1));
    EXPECT_FALSE(w.check(max - 2 * off));
    EXPECT_TRUE(w.update(max - 1));
    EXPECT_FALSE(w.check(0));
    // First packet of an SA arriving with a huge number.
    ReplayWindow fresh;
    EXPECT_TRUE(fresh.update(max));
    EXPECT_TRUE(fresh.check(max - 1));
    EXPECT_FALSE(fresh.check(max - W));
    EXPECT_FALSE(fresh.check(1));
}

// Reference model: exact set of accepted numbers and the highest one.
struct Naive {
    std::set<uint32_t> seen;
    uint32_t top = 0;
    bool check(uint32_t s) const {
        if (s == 0) return false;
        if (s > top) return true;
        if (uint64_t(s) + W <= top) return false;
        return !seen.count(s);
    }
    bool update(uint32_t s) {
        if (!check(s)) return false;
        seen.insert(s);
        if (s > top) top = s;
        return true;
    }
};

uint32_t sat_add(uint32_t a, uint32_t b) { return b > 0xFFFFFFFF - a ? 0xFFFFFFFF : a + b; }
uint32_t sat_sub(uint32_t a, uint32_t b) { return b > a ? 0 : a - b; }

void fuzz_against_reference(uint32_t start, unsigned seed) {
    std::mt19937 rng(seed);
    ReplayWindow w;
    Naive ref;
    uint32_t base = start;
    for (int i = 0; i < 200000; i++) {
        // Mostly around the top, some behind the window edge, some jumps.
        uint32_t r = rng() % 100, s;
        if (r < 70)
            s = sat_add(sat_sub(base, 150), rng() % 300);
        else if (r < 85)
            s = sat_sub(base, rng() % (2 * W));
        else if (r < 97)
            s = sat_add(base, rng() % (3 * W));
        else
            s = sat_add(base, rng() % 300000);
        ASSERT_EQ(w.check(s), ref.check(s)) << "step " << i << " seq " << s;
        ASSERT_EQ(w.update(s), ref.update(s)) << "step " << i << " seq " << s;
        ASSERT_EQ(w.top(), ref.top);
        base = ref.top ? ref.top : start;
    }
}

TEST(Replay, MatchesReferenceFromOne) { fuzz_against_reference(1, 1); }
// Starts 3M below 2^32 - 1 and saturates there, so it ends at the very top.
TEST(Replay, MatchesReferenceNearTop) { fuzz_against_reference(0xFFFFFFFF - 3000000, 2); }

TEST(Replay, NewestSaysWhetherTopMoved) {
    ReplayWindow w;
    bool newest = false;
    ASSERT_TRUE(w.update(5, &newest));
    EXPECT_TRUE(newest);
    ASSERT_TRUE(w.update(3, &newest));
    EXPECT_FALSE(newest);
    EXPECT_FALSE(w.update(5, &newest));
    EXPECT_FALSE(newest);
    ASSERT_TRUE(w.update(6, &newest));
    EXPECT_TRUE(newest);
}

// Several receivers on one SA (two workers can get packets of one peer after
// its NAT moved it): every number that all threads try must be accepted
// exactly once, whoever wins, and nothing twice.
TEST(Replay, ThreadsAcceptEachNumberExactlyOnce) {
    constexpr uint32_t kN = 400000;
    constexpr int kThreads = 4;
    ReplayWindow w;
    std::vector<std::atomic<uint8_t>> wins(kN + 1);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; t++) {
        threads.emplace_back([&, t] {
            std::mt19937 rng(unsigned(t) + 7);
            // Each thread walks 1..kN in chunks of 64 shuffled locally, so
            // every thread stays well inside the window of its own progress.
            std::vector<uint32_t> chunk(64);
            for (uint32_t base = 1; base <= kN; base += 64) {
                uint32_t n = std::min<uint32_t>(64, kN - base + 1);
                for (uint32_t i = 0; i < n; i++) chunk[i] = base + i;
                std::shuffle(chunk.begin(), chunk.begin() + n, rng);
                for (uint32_t i = 0; i < n; i++)
                    if (w.check(chunk[i]) && w.update(chunk[i])) wins[chunk[i]].fetch_add(1);
            }
        });
    }
    for (auto &th : threads) th.join();
    uint32_t twice = 0, never = 0;
    for (uint32_t s = 1; s <= kN; s++) {
        if (wins[s] > 1) twice++;
        if (wins[s] == 0) never++;
    }
    EXPECT_EQ(twice, 0u);
    EXPECT_EQ(never, 0u);
    EXPECT_EQ(w.top(), kN);
}

}  // namespace
}  // namespace lm
