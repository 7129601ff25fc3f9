// SPDX-License-Identifier: MIT
// The queue that hands ESP for a TLS-carried path from a worker to the
// control thread (data/stream_queue.h): order kept, bounded, emptied by a
// drain, and a packet that does not fit is refused whole.
#include <gtest/gtest.h>

#include <vector>

#include "data/stream_queue.h"

namespace lm {
namespace {

TEST(StreamQueue, KeepsOrderTunnelAndBytes) {
    StreamQueue q;
    EXPECT_TRUE(q.empty());
    const Tunnel *a = reinterpret_cast<const Tunnel *>(0x1000), *b = reinterpret_cast<const Tunnel *>(0x2000);
    std::vector<uint8_t> p1(60, 1), p2(1500, 2), p3(1, 3);
    ASSERT_TRUE(q.push(a, p1.data(), p1.size()));
    ASSERT_TRUE(q.push(b, p2.data(), p2.size()));
    ASSERT_TRUE(q.push(a, p3.data(), p3.size()));
    EXPECT_FALSE(q.empty());
    std::vector<std::pair<const Tunnel *, std::vector<uint8_t>>> got;
    q.drain([&](const Tunnel *t, const uint8_t *p, size_t n) { got.push_back({t, std::vector<uint8_t>(p, p + n)}); });
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].first, a);
    EXPECT_EQ(got[0].second, p1);
    EXPECT_EQ(got[1].first, b);
    EXPECT_EQ(got[1].second, p2);
    EXPECT_EQ(got[2].second, p3);
    EXPECT_TRUE(q.empty());
    int calls = 0;
    q.drain([&](const Tunnel *, const uint8_t *, size_t) { calls++; });
    EXPECT_EQ(calls, 0);
}

TEST(StreamQueue, BoundedAndRefusesWhole) {
    StreamQueue q;
    std::vector<uint8_t> p(1400, 7);
    size_t pushed = 0;
    while (q.push(nullptr, p.data(), p.size())) pushed++;
    EXPECT_GT(pushed, 300u);
    EXPECT_LE(pushed * p.size(), StreamQueue::kBytes);
    std::vector<uint8_t> huge(70000);
    StreamQueue r;
    EXPECT_FALSE(r.push(nullptr, huge.data(), huge.size()));   // never more than a frame holds
    size_t seen = 0;
    q.drain([&](const Tunnel *, const uint8_t *d, size_t n) {
        EXPECT_EQ(n, 1400u);
        EXPECT_EQ(d[0], 7);
        EXPECT_EQ(d[n - 1], 7);
        seen++;
    });
    EXPECT_EQ(seen, pushed);
    EXPECT_TRUE(q.push(nullptr, p.data(), p.size()));   // room again after the drain
}

}  // namespace
}  // namespace lm
