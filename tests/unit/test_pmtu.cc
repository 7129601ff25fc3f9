// SPDX-License-Identifier: MIT
// MSS clamping and Packet Too Big construction (data/pmtu.h).
#include <gtest/gtest.h>

#include <vector>

#include "common/bytes.h"
#include "data/offload.h"
#include "data/pmtu.h"

namespace {

using namespace lm;

// The transport checksum of a whole packet verifies (sums to 0xffff).
bool l4_csum_ok(const std::vector<uint8_t> &p, uint8_t proto) {
    int v = p[0] >> 4;
    size_t l3 = v == 4 ? size_t(p[0] & 0x0f) * 4 : 40;
    size_t total = v == 4 ? load_be16(&p[2]) : 40 + load_be16(&p[4]);
    uint64_t sum = proto == 1 ? 0 : csum_pseudo(p.data(), v, proto, total - l3);
    return csum_fold(csum_add(sum, p.data() + l3, total - l3)) == 0xffff;
}

// A TCP SYN (or SYN-ACK) with `opts` as options, checksum set.
std::vector<uint8_t> tcp_syn(int v, std::vector<uint8_t> opts, uint8_t flags = 0x02, size_t payload = 0) {
    while (opts.size() % 4) opts.push_back(0);
    size_t l3 = v == 4 ? 20 : 40, l4 = 20 + opts.size();
    std::vector<uint8_t> p(l3 + l4 + payload, 0);
    if (v == 4) {
        p[0] = 0x45;
        store_be16(&p[2], uint16_t(p.size()));
        store_be16(&p[6], 0x4000);
        p[8] = 64;
        p[9] = 6;
        uint8_t a[8] = {198, 18, 0, 2, 203, 0, 113, 80};
        std::copy(a, a + 8, &p[12]);
        store_be16(&p[10], ipv4_header_csum(p.data()));
    } else {
        p[0] = 0x60;
        store_be16(&p[4], uint16_t(l4 + payload));
        p[6] = 6;
        p[7] = 64;
        p[8] = 0x20, p[9] = 0x01, p[10] = 0x0d, p[11] = 0xb8, p[23] = 2;
        p[24] = 0x20, p[25] = 0x01, p[26] = 0x0d, p[27] = 0xb8, p[39] = 0x80;
    }
    uint8_t *t = &p[l3];
    store_be16(t, 40000);
    store_be16(t + 2, 443);
    store_be32(t + 4, 0x12345678);
    t[12] = uint8_t((l4 / 4) << 4);
    t[13] = flags;
    store_be16(t + 14, 64240);
    std::copy(opts.begin(), opts.end(), t + 20);
    for (size_t i = 0; i < payload; i++) t[l4 + i] = uint8_t(i * 7 + 1);
    uint64_t sum = csum_pseudo(p.data(), v, 6, l4 + payload);
    store_be16(t + 16, uint16_t(~csum_fold(csum_add(sum, t, l4 + payload))));
    return p;
}

uint16_t mss_at(const std::vector<uint8_t> &p, size_t opt_off) {
    size_t l3 = (p[0] >> 4) == 4 ? 20 : 40;
    return load_be16(&p[l3 + 20 + opt_off + 2]);
}

TEST(ClampMss, Ipv4SynLowered) {
    auto p = tcp_syn(4, {2, 4, 0x05, 0xb4, 1, 1, 4, 2});   // MSS 1460, NOP NOP SACK-permitted
    ASSERT_TRUE(l4_csum_ok(p, 6));
    EXPECT_TRUE(clamp_mss(p.data(), p.size(), 1400));
    EXPECT_EQ(mss_at(p, 0), 1360);
    EXPECT_TRUE(l4_csum_ok(p, 6));
}

TEST(ClampMss, Ipv6SynAckLowered) {
    auto p = tcp_syn(6, {2, 4, 0x05, 0xa0}, 0x12);   // MSS 1440, SYN-ACK
    ASSERT_TRUE(l4_csum_ok(p, 6));
    EXPECT_TRUE(clamp_mss(p.data(), p.size(), 1400));
    EXPECT_EQ(mss_at(p, 0), 1340);
    EXPECT_TRUE(l4_csum_ok(p, 6));
}

TEST(ClampMss, OddOffsetAfterOtherOptions) {
    // Window scale (3 bytes), then MSS: its value sits at an odd offset.
    for (int v : {4, 6}) {
        auto p = tcp_syn(v, {3, 3, 7, 2, 4, 0x23, 0x28, 1, 4, 2}, 0x02, 0);   // MSS 9000
        ASSERT_TRUE(l4_csum_ok(p, 6));
        EXPECT_TRUE(clamp_mss(p.data(), p.size(), 1280));
        EXPECT_EQ(mss_at(p, 3), v == 4 ? 1240 : 1220);
        EXPECT_TRUE(l4_csum_ok(p, 6)) << "IPv" << v;
    }
    // And with data in the SYN (TCP Fast Open) and an odd total length.
    auto p = tcp_syn(4, {1, 2, 4, 0x05, 0xb4}, 0x02, 13);
    ASSERT_TRUE(l4_csum_ok(p, 6));
    EXPECT_TRUE(clamp_mss(p.data(), p.size(), 1400));
    EXPECT_TRUE(l4_csum_ok(p, 6));
}

TEST(ClampMss, LeftAlone) {
    auto small = tcp_syn(4, {2, 4, 0x04, 0x00});   // MSS 1024 fits already
    auto copy = small;
    EXPECT_FALSE(clamp_mss(small.data(), small.size(), 1400));
    EXPECT_EQ(small, copy);
    auto ack = tcp_syn(4, {2, 4, 0x05, 0xb4}, 0x10);   // no SYN
    EXPECT_FALSE(clamp_mss(ack.data(), ack.size(), 1400));
    auto frag = tcp_syn(4, {2, 4, 0x05, 0xb4});
    store_be16(&frag[6], 0x2000);   // MF: a fragment
    EXPECT_FALSE(clamp_mss(frag.data(), frag.size(), 1400));
    auto nomss = tcp_syn(6, {1, 1, 4, 2});
    EXPECT_FALSE(clamp_mss(nomss.data(), nomss.size(), 1400));
    // A bad option length stops the scan; nothing is read past the header.
    auto bad = tcp_syn(4, {3, 0, 2, 4, 0x05, 0xb4});
    EXPECT_FALSE(clamp_mss(bad.data(), bad.size(), 1400));
    auto overrun = tcp_syn(4, {1, 1, 1, 2, 9, 0x05, 0xb4});
    EXPECT_FALSE(clamp_mss(overrun.data(), overrun.size(), 1400));
    // Truncated packets: every prefix is safe.
    auto p = tcp_syn(6, {2, 4, 0x05, 0xb4});
    for (size_t n = 0; n < p.size(); n++) {
        auto q = std::vector<uint8_t>(p.begin(), p.begin() + long(n));
        EXPECT_FALSE(clamp_mss(q.data(), q.size(), 1400)) << n;
    }
}

TEST(BuildPtb, Ipv4FragmentationNeeded) {
    auto p = tcp_syn(4, {}, 0x10, 1400);
    uint8_t out[kPtbMax];
    size_t n = build_ptb(p.data(), p.size(), 1220, out, sizeof out);
    ASSERT_EQ(n, 576u);   // quotes up to 576 bytes in all
    std::vector<uint8_t> r(out, out + n);
    EXPECT_EQ(r[0], 0x45);
    EXPECT_EQ(load_be16(&r[2]), 576);
    EXPECT_EQ(r[9], 1);
    EXPECT_EQ(load_be16(&r[10]), ipv4_header_csum(r.data()));
    EXPECT_TRUE(std::equal(&r[12], &r[16], &p[16]));   // from the destination
    EXPECT_TRUE(std::equal(&r[16], &r[20], &p[12]));   // to the sender
    EXPECT_EQ(r[20], 3);
    EXPECT_EQ(r[21], 4);
    EXPECT_EQ(load_be16(&r[26]), 1220);
    EXPECT_TRUE(std::equal(&r[28], &r[576], p.begin()));
    EXPECT_TRUE(l4_csum_ok(r, 1));
    // A short packet is quoted whole.
    auto s = tcp_syn(4, {}, 0x10, 1);
    EXPECT_EQ(build_ptb(s.data(), s.size(), 1220, out, sizeof out), 28 + s.size());
}

TEST(BuildPtb, Ipv4NoneDue) {
    uint8_t out[kPtbMax];
    auto p = tcp_syn(4, {}, 0x10, 1400);
    store_be16(&p[6], 0);   // DF unset: the sender lets it be fragmented
    EXPECT_EQ(build_ptb(p.data(), p.size(), 1220, out, sizeof out), 0u);
    auto icmp_err = tcp_syn(4, {}, 0x10, 1400);
    icmp_err[9] = 1;
    icmp_err[20] = 3;   // destination unreachable: an error about an error
    EXPECT_EQ(build_ptb(icmp_err.data(), icmp_err.size(), 1220, out, sizeof out), 0u);
    icmp_err[20] = 8;   // echo request: due
    EXPECT_GT(build_ptb(icmp_err.data(), icmp_err.size(), 1220, out, sizeof out), 0u);
    auto mcast = tcp_syn(4, {}, 0x10, 100);
    mcast[12] = 224;
    EXPECT_EQ(build_ptb(mcast.data(), mcast.size(), 1220, out, sizeof out), 0u);
    EXPECT_EQ(build_ptb(p.data(), 10, 1220, out, sizeof out), 0u);
    EXPECT_EQ(build_ptb(p.data(), p.size(), 1220, out, 100), 0u);   // no room
}

TEST(BuildPtb, Ipv6PacketTooBig) {
    auto p = tcp_syn(6, {}, 0x10, 1400);
    uint8_t out[kPtbMax];
    size_t n = build_ptb(p.data(), p.size(), 1300, out, sizeof out);
    ASSERT_EQ(n, 1280u);
    std::vector<uint8_t> r(out, out + n);
    EXPECT_EQ(r[0] >> 4, 6);
    EXPECT_EQ(load_be16(&r[4]), 1240);
    EXPECT_EQ(r[6], 58);
    EXPECT_TRUE(std::equal(&r[8], &r[24], &p[24]));
    EXPECT_TRUE(std::equal(&r[24], &r[40], &p[8]));
    EXPECT_EQ(r[40], 2);
    EXPECT_EQ(r[41], 0);
    EXPECT_EQ(load_be32(&r[44]), 1300u);
    EXPECT_TRUE(std::equal(&r[48], &r[1280], p.begin()));
    EXPECT_TRUE(l4_csum_ok(r, 58));
    // Below IPv6's minimum MTU the error still says 1280.
    ASSERT_GT(build_ptb(p.data(), p.size(), 1200, out, sizeof out), 0u);
    EXPECT_EQ(load_be32(out + 44), 1280u);
    // No error about an ICMPv6 error, nor to an unspecified source.
    auto e = p;
    e[6] = 58;
    e[40] = 1;
    EXPECT_EQ(build_ptb(e.data(), e.size(), 1300, out, sizeof out), 0u);
    e[40] = 128;   // echo request
    EXPECT_GT(build_ptb(e.data(), e.size(), 1300, out, sizeof out), 0u);
    auto u = p;
    std::fill(&u[8], &u[24], 0);
    EXPECT_EQ(build_ptb(u.data(), u.size(), 1300, out, sizeof out), 0u);
}

}  // namespace

namespace {

// The inner limit fills the outer path exactly, padding included.
TEST(InnerMtuForPath, FillsThePath) {
    for (bool v6 : {false, true})
        for (bool udp : {false, true})
            for (unsigned outer : {1280u, 1400u, 1500u, 9000u}) {
                unsigned inner = lm::inner_mtu_for_path(outer, v6, udp);
                unsigned esp = 16 + (inner + 2 + 3) / 4 * 4 + 16;
                unsigned total = (v6 ? 40 : 20) + (udp ? 8 : 0) + esp;
                EXPECT_LE(total, outer);
                EXPECT_GT(total + 4, outer) << "wasted room";
            }
    EXPECT_EQ(lm::inner_mtu_for_path(1280, false, false), 1226u);
    EXPECT_EQ(lm::inner_mtu_for_path(1280, false, true), 1218u);
    EXPECT_EQ(lm::inner_mtu_for_path(100, false, true), 68u);
}

}  // namespace
