// SPDX-License-Identifier: MIT
// Userspace segmentation offload (data/offload.h): checksums against a plain
// RFC 1071 reference, TSO/USO splitting of crafted super-packets, UDP_GRO
// splitting, and TCP GRO coalescing for the TUN write.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "common/bytes.h"
#include "data/offload.h"

namespace lm {
namespace {

using Bytes = std::vector<uint8_t>;

// The reference: 16-bit big-endian words, end-around carry, one at a time.
uint32_t ref_sum(const uint8_t *p, size_t len, uint32_t sum = 0) {
    for (size_t i = 0; i < len; i += 2) {
        uint32_t w = uint32_t(p[i]) << 8;
        if (i + 1 < len) w |= p[i + 1];
        sum += w;
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return sum;
}

// True if the IPv4 header checksum verifies (sums to 0xffff).
bool ipv4_ok(const uint8_t *ip) { return ref_sum(ip, size_t(ip[0] & 0x0f) * 4) == 0xffff; }

// True if the TCP/UDP checksum of `l4` (l4_len bytes) verifies for `ip`.
bool l4_ok(const uint8_t *ip, const uint8_t *l4, size_t l4_len, uint8_t proto) {
    uint32_t sum;
    Bytes ph;
    if ((ip[0] >> 4) == 4) {
        ph.assign(ip + 12, ip + 20);
        ph.push_back(0);
        ph.push_back(proto);
        ph.push_back(uint8_t(l4_len >> 8));
        ph.push_back(uint8_t(l4_len));
    } else {
        ph.assign(ip + 8, ip + 40);
        ph.push_back(uint8_t(l4_len >> 24));
        ph.push_back(uint8_t(l4_len >> 16));
        ph.push_back(uint8_t(l4_len >> 8));
        ph.push_back(uint8_t(l4_len));
        ph.push_back(0);
        ph.push_back(0);
        ph.push_back(0);
        ph.push_back(proto);
    }
    sum = ref_sum(ph.data(), ph.size());
    sum = ref_sum(l4, l4_len, sum);
    return sum == 0xffff;
}

constexpr uint8_t kAck = 0x10, kPsh = 0x08, kFin = 0x01, kCwr = 0x80;

// An IPv4 or IPv6 TCP packet: 12 bytes of options (NOP NOP timestamp),
// payload bytes (i * 7 + seed) & 0xff.  Checksums are left zero.
Bytes tcp_packet(int version, size_t payload, uint32_t seq, uint8_t flags, uint8_t seed = 1,
                 uint16_t sport = 40000) {
    size_t l3 = version == 4 ? 20 : 40, th = 32;
    Bytes p(l3 + th + payload, 0);
    if (version == 4) {
        p[0] = 0x45;
        store_be16(&p[2], uint16_t(p.size()));
        store_be16(&p[4], 0x1234);
        p[6] = 0x40;   // DF
        p[8] = 64;
        p[9] = 6;
        const uint8_t src[4] = {198, 18, 0, 2}, dst[4] = {198, 18, 0, 1};
        std::memcpy(&p[12], src, 4);
        std::memcpy(&p[16], dst, 4);
    } else {
        p[0] = 0x60;
        store_be16(&p[4], uint16_t(p.size() - 40));
        p[6] = 6;
        p[7] = 64;
        const uint8_t src[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
        const uint8_t dst[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        std::memcpy(&p[8], src, 16);
        std::memcpy(&p[24], dst, 16);
    }
    uint8_t *t = &p[l3];
    store_be16(t, sport);
    store_be16(t + 2, 5201);
    store_be32(t + 4, seq);
    store_be32(t + 8, 0xabcdef01);
    t[12] = uint8_t((th / 4) << 4);
    t[13] = flags;
    store_be16(t + 14, 501);
    t[20] = 1;
    t[21] = 1;
    t[22] = 8;
    t[23] = 10;
    store_be32(t + 24, 777);
    store_be32(t + 28, 888);
    for (size_t i = 0; i < payload; i++) p[l3 + th + i] = uint8_t(i * 7 + seed);
    return p;
}

// Fills in correct checksums (IPv4 header and TCP) the reference way.
void finish_tcp(Bytes &p) {
    int version = p[0] >> 4;
    size_t l3 = version == 4 ? 20 : 40;
    if (version == 4) {
        store_be16(&p[10], 0);
        store_be16(&p[10], uint16_t(~ref_sum(p.data(), 20)));
    }
    store_be16(&p[l3 + 16], 0);
    // Sum with the field zero, then store the complement.
    uint32_t s;
    {
        Bytes ph;
        size_t l4 = p.size() - l3;
        if (version == 4) {
            ph.assign(&p[12], &p[20]);
            ph.insert(ph.end(), {0, 6, uint8_t(l4 >> 8), uint8_t(l4)});
        } else {
            ph.assign(&p[8], &p[40]);
            ph.insert(ph.end(), {uint8_t(l4 >> 24), uint8_t(l4 >> 16), uint8_t(l4 >> 8), uint8_t(l4), 0, 0, 0, 6});
        }
        s = ref_sum(ph.data(), ph.size());
        s = ref_sum(&p[l3], l4, s);
    }
    store_be16(&p[l3 + 16], uint16_t(~s));
}

TEST(Checksum, MatchesReferenceAtEveryLengthAndAlignment) {
    Bytes buf(300);
    for (size_t i = 0; i < buf.size(); i++) buf[i] = uint8_t(i * 37 + 11);
    for (size_t off = 0; off < 4; off++)
        for (size_t len = 0; len < 200; len++) {
            uint16_t ours = csum_fold(csum_add(0, &buf[off], len));
            uint16_t ref = uint16_t(ref_sum(&buf[off], len));
            // 0 and 0xffff are the same ones' complement number.
            if (ref == 0xffff) ref = 0;
            if (ours == 0xffff) ours = 0;
            ASSERT_EQ(ours, ref) << "off " << off << " len " << len;
        }
    // Pieces add up when every piece but the last has an even length.
    uint64_t s = csum_add(0, &buf[0], 64);
    s = csum_add(s, &buf[64], 101);
    EXPECT_EQ(csum_fold(s) % 0xffff, ref_sum(&buf[0], 165) % 0xffff);
}

TEST(Checksum, Ipv4HeaderCsumVerifies) {
    Bytes p = tcp_packet(4, 100, 1, kAck);
    store_be16(&p[10], 0xdead);   // ignored by the computation
    store_be16(&p[10], ipv4_header_csum(p.data()));
    EXPECT_TRUE(ipv4_ok(p.data()));
}

TEST(Checksum, CompletesPartialTcpAndUdp) {
    for (int version : {4, 6}) {
        Bytes p = tcp_packet(version, 333, 99, kAck | kPsh);
        size_t l3 = version == 4 ? 20 : 40;
        // What the kernel hands over with NEEDS_CSUM: the pseudo-header sum.
        store_be16(&p[l3 + 16], csum_fold(csum_pseudo(p.data(), version, 6, p.size() - l3)));
        ASSERT_TRUE(csum_complete_partial(p.data(), p.size(), l3, 16));
        EXPECT_TRUE(l4_ok(p.data(), &p[l3], p.size() - l3, 6)) << "v" << version;
    }
    // UDP over IPv4: 8-byte header, odd payload length.
    Bytes u(20 + 8 + 101, 0);
    u[0] = 0x45;
    store_be16(&u[2], uint16_t(u.size()));
    u[8] = 64;
    u[9] = 17;
    u[12] = 192, u[13] = 0, u[14] = 2, u[15] = 11;
    u[16] = 192, u[17] = 0, u[18] = 2, u[19] = 1;
    store_be16(&u[20], 1234);
    store_be16(&u[22], 5678);
    store_be16(&u[24], uint16_t(u.size() - 20));
    for (size_t i = 28; i < u.size(); i++) u[i] = uint8_t(i);
    store_be16(&u[26], csum_fold(csum_pseudo(u.data(), 4, 17, u.size() - 20)));
    ASSERT_TRUE(csum_complete_partial(u.data(), u.size(), 20, 6));
    EXPECT_TRUE(l4_ok(u.data(), &u[20], u.size() - 20, 17));
    // Offsets outside the packet are refused.
    EXPECT_FALSE(csum_complete_partial(u.data(), u.size(), 20, u.size()));
    EXPECT_FALSE(csum_complete_partial(u.data(), u.size(), u.size() + 1, 0));
}

TEST(Vnet, LoadStoreRoundTrip) {
    VnetHdr h;
    h.flags = kVnetNeedsCsum;
    h.gso_type = kGsoTcp6;
    h.hdr_len = 72;
    h.gso_size = 1348;
    h.csum_start = 40;
    h.csum_offset = 16;
    uint8_t b[kVnetHdrLen];
    vnet_store(b, h);
    EXPECT_EQ(b[0], 1);
    EXPECT_EQ(b[1], 4);
    EXPECT_EQ(b[4], 1348 & 0xff);   // host (little-endian) order
    VnetHdr g = vnet_load(b);
    EXPECT_EQ(g.hdr_len, 72);
    EXPECT_EQ(g.gso_size, 1348);
    EXPECT_EQ(g.csum_start, 40);
    EXPECT_EQ(g.csum_offset, 16);
}

VnetHdr tso_hdr(int version, size_t gso_size) {
    VnetHdr h;
    h.flags = kVnetNeedsCsum;
    h.gso_type = version == 4 ? kGsoTcp4 : kGsoTcp6;
    h.hdr_len = uint16_t((version == 4 ? 20 : 40) + 32);
    h.gso_size = uint16_t(gso_size);
    h.csum_start = version == 4 ? 20 : 40;
    h.csum_offset = 16;
    return h;
}

class TsoSplit : public ::testing::TestWithParam<int> {};

TEST_P(TsoSplit, EverySegmentHasCorrectHeadersAndChecksums) {
    int version = GetParam();
    size_t l3 = version == 4 ? 20 : 40, hdr = l3 + 32;
    const size_t payload = 5000, mss = 1448;
    const uint32_t seq0 = 0xfffff000;   // wraps during the split
    Bytes sp = tcp_packet(version, payload, seq0, kAck | kPsh | kFin | kCwr);
    // The kernel leaves the pseudo-header sum in the field; garbage must not matter.
    store_be16(&sp[l3 + 16], 0x5555);
    GsoPlan plan;
    ASSERT_TRUE(gso_plan(sp.data(), sp.size(), tso_hdr(version, mss), &plan));
    EXPECT_EQ(plan.count, 4);
    EXPECT_EQ(plan.hdr_len, hdr);
    EXPECT_EQ(plan.payload, payload);
    Bytes joined;
    for (int i = 0; i < plan.count; i++) {
        uint8_t out[2000];
        size_t n = gso_segment(sp.data(), plan, i, out);
        size_t want = i < 3 ? mss : payload - 3 * mss;
        ASSERT_EQ(n, hdr + want);
        if (version == 4) {
            EXPECT_EQ(load_be16(out + 2), n);
            EXPECT_EQ(load_be16(out + 4), 0x1234 + i) << "IP ID increments per segment";
            EXPECT_EQ(out[6], 0x40);
            EXPECT_TRUE(ipv4_ok(out)) << "segment " << i;
        } else {
            EXPECT_EQ(load_be16(out + 4), n - 40);
        }
        const uint8_t *t = out + l3;
        EXPECT_EQ(load_be32(t + 4), uint32_t(seq0 + i * mss));
        EXPECT_EQ(load_be32(t + 8), 0xabcdef01u);
        uint8_t f = t[13];
        EXPECT_TRUE(f & kAck);
        EXPECT_EQ(bool(f & kCwr), i == 0) << "CWR only on the first";
        EXPECT_EQ(bool(f & kPsh), i == 3) << "PSH only on the last";
        EXPECT_EQ(bool(f & kFin), i == 3) << "FIN only on the last";
        EXPECT_EQ(std::memcmp(t + 20, &sp[l3 + 20], 12), 0) << "options copied";
        EXPECT_TRUE(l4_ok(out, t, n - l3, 6)) << "TCP checksum of segment " << i;
        joined.insert(joined.end(), out + hdr, out + n);
    }
    EXPECT_EQ(joined, Bytes(sp.begin() + long(hdr), sp.end()));
}

INSTANTIATE_TEST_SUITE_P(V4V6, TsoSplit, ::testing::Values(4, 6));

TEST(UsoSplit, UdpSegmentsHaveLengthAndChecksum) {
    const size_t payload = 2500, seg = 1000;
    Bytes u(20 + 8 + payload, 0);
    u[0] = 0x45;
    store_be16(&u[2], uint16_t(u.size()));
    store_be16(&u[4], 7);
    u[8] = 64;
    u[9] = 17;
    u[12] = 198, u[13] = 18, u[14] = 0, u[15] = 2;
    u[16] = 198, u[17] = 18, u[18] = 0, u[19] = 1;
    store_be16(&u[20], 5000);
    store_be16(&u[22], 6000);
    store_be16(&u[24], uint16_t(8 + payload));
    for (size_t i = 28; i < u.size(); i++) u[i] = uint8_t(i * 3);
    VnetHdr h;
    h.flags = kVnetNeedsCsum;
    h.gso_type = kGsoUdpL4;
    h.gso_size = uint16_t(seg);
    h.csum_start = 20;
    h.csum_offset = 6;
    GsoPlan plan;
    ASSERT_TRUE(gso_plan(u.data(), u.size(), h, &plan));
    ASSERT_EQ(plan.count, 3);
    for (int i = 0; i < 3; i++) {
        uint8_t out[1100];
        size_t n = gso_segment(u.data(), plan, i, out);
        size_t want = i < 2 ? seg : payload - 2 * seg;
        ASSERT_EQ(n, 28 + want);
        EXPECT_EQ(load_be16(out + 2), n);
        EXPECT_EQ(load_be16(out + 4), 7 + i);
        EXPECT_TRUE(ipv4_ok(out));
        EXPECT_EQ(load_be16(out + 24), 8 + want);
        EXPECT_NE(load_be16(out + 26), 0);
        EXPECT_TRUE(l4_ok(out, out + 20, n - 20, 17)) << "UDP checksum of segment " << i;
        EXPECT_EQ(std::memcmp(out + 28, &u[28 + i * seg], want), 0);
    }
}

TEST(GsoPlan, RefusesInconsistentPackets) {
    Bytes p4 = tcp_packet(4, 3000, 1, kAck);
    Bytes p6 = tcp_packet(6, 3000, 1, kAck);
    GsoPlan plan;
    EXPECT_FALSE(gso_plan(p6.data(), p6.size(), tso_hdr(4, 1000), &plan)) << "TCPv4 type on IPv6";
    EXPECT_FALSE(gso_plan(p4.data(), p4.size(), tso_hdr(6, 1000), &plan)) << "TCPv6 type on IPv4";
    VnetHdr h = tso_hdr(4, 1000);
    h.csum_start = 24;
    EXPECT_FALSE(gso_plan(p4.data(), p4.size(), h, &plan)) << "csum_start not at the TCP header";
    EXPECT_FALSE(gso_plan(p4.data(), 100, tso_hdr(4, 1000), &plan)) << "truncated read";
    EXPECT_FALSE(gso_plan(p4.data(), p4.size(), tso_hdr(4, 0), &plan)) << "gso_size 0";
    h = tso_hdr(4, 1000);
    h.gso_type = kGsoUdpL4;
    EXPECT_FALSE(gso_plan(p4.data(), p4.size(), h, &plan)) << "UDP type on a TCP packet";
    Bytes bad = p4;
    bad[20 + 12] = 0x30;   // data offset 12 bytes
    EXPECT_FALSE(gso_plan(bad.data(), bad.size(), tso_hdr(4, 1000), &plan));
    // One segment's worth still plans (count 1), with ECN flag ignored.
    Bytes small = tcp_packet(4, 500, 1, kAck);
    h = tso_hdr(4, 1000);
    h.gso_type |= kGsoEcn;
    ASSERT_TRUE(gso_plan(small.data(), small.size(), h, &plan));
    EXPECT_EQ(plan.count, 1);
}

TEST(GroSplit, CoalescedUdpReadIntoDatagrams) {
    std::vector<std::pair<size_t, size_t>> got;
    auto rec = [&](size_t off, size_t len) { got.push_back({off, len}); };
    gro_split(3 * 1436 + 700, 1436, rec);
    ASSERT_EQ(got.size(), 4u);
    EXPECT_EQ(got[0], std::make_pair(size_t(0), size_t(1436)));
    EXPECT_EQ(got[2], std::make_pair(size_t(2872), size_t(1436)));
    EXPECT_EQ(got[3], std::make_pair(size_t(4308), size_t(700)));
    got.clear();
    gro_split(4 * 1436, 1436, rec);
    ASSERT_EQ(got.size(), 4u);
    EXPECT_EQ(got[3].second, 1436u);
    got.clear();
    gro_split(900, 0, rec);   // no cmsg
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].second, 900u);
    got.clear();
    gro_split(900, 1436, rec);   // segment size above the length
    ASSERT_EQ(got.size(), 1u);
    got.clear();
    gro_split(0, 1436, rec);   // an empty datagram is still one
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].second, 0u);
}

// Each packet gets kVnetHdrLen bytes of headroom, as after decryption.
struct Held {
    Bytes buf;
    uint8_t *p() { return buf.data() + kVnetHdrLen; }
    size_t len() const { return buf.size() - kVnetHdrLen; }
};
Held hold(const Bytes &pkt) {
    Held h;
    h.buf.assign(kVnetHdrLen, 0xee);
    h.buf.insert(h.buf.end(), pkt.begin(), pkt.end());
    return h;
}

Bytes flatten(TcpGro &g, int item, int *packets) {
    iovec iov[TcpGro::kMaxSegs];
    int n = g.item_iov(item, iov, packets);
    Bytes out;
    for (int i = 0; i < n; i++) {
        auto *b = static_cast<uint8_t *>(iov[i].iov_base);
        out.insert(out.end(), b, b + iov[i].iov_len);
    }
    return out;
}

class Gro : public ::testing::TestWithParam<int> {};

TEST_P(Gro, SplitThenCoalesceGivesTheSuperPacketBack) {
    int version = GetParam();
    size_t l3 = version == 4 ? 20 : 40, hdr = l3 + 32;
    const size_t payload = 6000, mss = 1348;
    Bytes sp = tcp_packet(version, payload, 1000, kAck | kPsh);
    GsoPlan plan;
    ASSERT_TRUE(gso_plan(sp.data(), sp.size(), tso_hdr(version, mss), &plan));
    std::vector<Held> segs;
    for (int i = 0; i < plan.count; i++) {
        Bytes s(hdr + mss);
        s.resize(gso_segment(sp.data(), plan, i, s.data()));
        segs.push_back(hold(s));
    }
    TcpGro g;
    for (auto &s : segs) g.add(s.p(), s.len());
    ASSERT_EQ(g.items(), 1);
    int packets = 0;
    Bytes w = flatten(g, 0, &packets);
    EXPECT_EQ(packets, plan.count);
    ASSERT_EQ(w.size(), kVnetHdrLen + sp.size());
    VnetHdr v = vnet_load(w.data());
    EXPECT_EQ(v.flags, kVnetNeedsCsum);
    EXPECT_EQ(v.gso_type, version == 4 ? kGsoTcp4 : kGsoTcp6);
    EXPECT_EQ(v.gso_size, mss);
    EXPECT_EQ(v.hdr_len, hdr);
    EXPECT_EQ(v.csum_start, l3);
    EXPECT_EQ(v.csum_offset, 16);
    uint8_t *ip = w.data() + kVnetHdrLen;
    size_t iplen = w.size() - kVnetHdrLen;
    if (version == 4) {
        EXPECT_EQ(load_be16(ip + 2), iplen);
        EXPECT_TRUE(ipv4_ok(ip));
    } else {
        EXPECT_EQ(load_be16(ip + 4), iplen - 40);
    }
    EXPECT_TRUE(ip[l3 + 13] & kPsh) << "the last segment's PSH is kept";
    EXPECT_EQ(load_be32(ip + l3 + 4), 1000u);
    // What the kernel does with NEEDS_CSUM must give a valid checksum.
    ASSERT_TRUE(csum_complete_partial(ip, iplen, v.csum_start, v.csum_offset));
    EXPECT_TRUE(l4_ok(ip, ip + l3, iplen - l3, 6));
    EXPECT_EQ(std::memcmp(ip + hdr, sp.data() + hdr, payload), 0);
}

INSTANTIATE_TEST_SUITE_P(V4V6, Gro, ::testing::Values(4, 6));

TEST(Gro, LonePacketsGetAZeroHeaderAndStayAsTheyAre) {
    Bytes a = tcp_packet(4, 0, 5, kAck);   // pure ACK: never coalesced
    finish_tcp(a);
    Held h = hold(a);
    TcpGro g;
    g.add(h.p(), h.len());
    ASSERT_EQ(g.items(), 1);
    int packets = 0;
    Bytes w = flatten(g, 0, &packets);
    EXPECT_EQ(packets, 1);
    for (size_t i = 0; i < kVnetHdrLen; i++) EXPECT_EQ(w[i], 0);
    EXPECT_EQ(Bytes(w.begin() + kVnetHdrLen, w.end()), a);
}

TEST(Gro, KeepsFlowsApartAndOrderWithinAFlow) {
    TcpGro g;
    std::vector<Held> pk;
    // Flow A: 3 in-order segments; flow B interleaved: 2 segments; then a
    // gap in flow A (out of order) that must start a new item; then SYN.
    pk.push_back(hold(tcp_packet(4, 1000, 0, kAck, 1, 1111)));
    pk.push_back(hold(tcp_packet(4, 1000, 0, kAck, 2, 2222)));
    pk.push_back(hold(tcp_packet(4, 1000, 1000, kAck, 3, 1111)));
    pk.push_back(hold(tcp_packet(4, 1000, 1000, kAck, 4, 2222)));
    pk.push_back(hold(tcp_packet(4, 1000, 2000, kAck, 5, 1111)));
    pk.push_back(hold(tcp_packet(4, 1000, 9000, kAck, 6, 1111)));
    pk.push_back(hold(tcp_packet(4, 0, 0, 0x02, 7, 3333)));
    for (auto &h : pk) g.add(h.p(), h.len());
    ASSERT_EQ(g.items(), 4);
    int packets = 0;
    flatten(g, 0, &packets);
    EXPECT_EQ(packets, 3);
    flatten(g, 1, &packets);
    EXPECT_EQ(packets, 2);
    flatten(g, 2, &packets);
    EXPECT_EQ(packets, 1);
    flatten(g, 3, &packets);
    EXPECT_EQ(packets, 1);
    g.clear();
    EXPECT_EQ(g.items(), 0);
}

TEST(Gro, ShortSegmentOrPshEndsAnItemAndDifferentAckDoesNotJoin) {
    TcpGro g;
    std::vector<Held> pk;
    pk.push_back(hold(tcp_packet(6, 1000, 0, kAck)));
    pk.push_back(hold(tcp_packet(6, 400, 1000, kAck)));    // short: joins, then closes
    pk.push_back(hold(tcp_packet(6, 1000, 1400, kAck)));   // new item
    pk.push_back(hold(tcp_packet(6, 1000, 2400, kAck | kPsh)));   // joins, closes
    pk.push_back(hold(tcp_packet(6, 1000, 3400, kAck)));   // new item
    Bytes other_ack = tcp_packet(6, 1000, 4400, kAck);
    store_be32(&other_ack[40 + 8], 5);
    pk.push_back(hold(other_ack));                         // different ack: new item
    for (auto &h : pk) g.add(h.p(), h.len());
    ASSERT_EQ(g.items(), 4);
    int packets = 0;
    flatten(g, 0, &packets);
    EXPECT_EQ(packets, 2);
    flatten(g, 1, &packets);
    EXPECT_EQ(packets, 2);
    flatten(g, 2, &packets);
    EXPECT_EQ(packets, 1);
    flatten(g, 3, &packets);
    EXPECT_EQ(packets, 1);
}

Bytes udp_packet(int version, size_t payload, uint16_t sport, uint8_t seed) {
    size_t l3 = version == 4 ? 20 : 40;
    Bytes p(l3 + 8 + payload, 0);
    if (version == 4) {
        p[0] = 0x45;
        store_be16(&p[2], uint16_t(p.size()));
        p[8] = 64;
        p[9] = 17;
        p[12] = 198, p[13] = 18, p[14] = 0, p[15] = 2;
        p[16] = 198, p[17] = 18, p[18] = 0, p[19] = 1;
    } else {
        p[0] = 0x60;
        store_be16(&p[4], uint16_t(p.size() - 40));
        p[6] = 17;
        p[7] = 64;
        p[8] = 0x20, p[9] = 0x01, p[23] = 2;
        p[24] = 0x20, p[25] = 0x01, p[39] = 1;
    }
    store_be16(&p[l3], sport);
    store_be16(&p[l3 + 2], 9999);
    store_be16(&p[l3 + 4], uint16_t(8 + payload));
    for (size_t i = 0; i < payload; i++) p[l3 + 8 + i] = uint8_t(i * 5 + seed);
    return p;
}

class UdpGro : public ::testing::TestWithParam<int> {};

TEST_P(UdpGro, SameFlowDatagramsBecomeOneUsoWrite) {
    int version = GetParam();
    size_t l3 = version == 4 ? 20 : 40;
    std::vector<Held> pk;
    pk.push_back(hold(udp_packet(version, 1000, 5000, 1)));
    pk.push_back(hold(udp_packet(version, 1000, 6000, 2)));   // another flow
    pk.push_back(hold(udp_packet(version, 1000, 5000, 3)));
    pk.push_back(hold(udp_packet(version, 500, 5000, 4)));    // short: joins, closes
    pk.push_back(hold(udp_packet(version, 1000, 5000, 5)));   // new item
    TcpGro g;
    g.udp = true;
    for (auto &h : pk) g.add(h.p(), h.len());
    ASSERT_EQ(g.items(), 3);
    int packets = 0;
    Bytes w = flatten(g, 0, &packets);
    EXPECT_EQ(packets, 3);
    VnetHdr v = vnet_load(w.data());
    EXPECT_EQ(v.flags, kVnetNeedsCsum);
    EXPECT_EQ(v.gso_type, kGsoUdpL4);
    EXPECT_EQ(v.gso_size, 1000);
    EXPECT_EQ(v.hdr_len, l3 + 8);
    EXPECT_EQ(v.csum_start, l3);
    EXPECT_EQ(v.csum_offset, 6);
    uint8_t *ip = w.data() + kVnetHdrLen;
    size_t iplen = w.size() - kVnetHdrLen;
    ASSERT_EQ(iplen, l3 + 8 + 2500);
    if (version == 4) {
        EXPECT_EQ(load_be16(ip + 2), iplen);
        EXPECT_TRUE(ipv4_ok(ip));
    } else {
        EXPECT_EQ(load_be16(ip + 4), iplen - 40);
    }
    EXPECT_EQ(load_be16(ip + l3 + 4), iplen - l3);
    ASSERT_TRUE(csum_complete_partial(ip, iplen, v.csum_start, v.csum_offset));
    EXPECT_TRUE(l4_ok(ip, ip + l3, iplen - l3, 17));
    EXPECT_EQ(std::memcmp(ip + l3 + 8 + 1000, pk[2].p() + l3 + 8, 1000), 0);
    EXPECT_EQ(std::memcmp(ip + l3 + 8 + 2000, pk[3].p() + l3 + 8, 500), 0);
    flatten(g, 1, &packets);
    EXPECT_EQ(packets, 1);
    flatten(g, 2, &packets);
    EXPECT_EQ(packets, 1);
}

INSTANTIATE_TEST_SUITE_P(V4V6, UdpGro, ::testing::Values(4, 6));

TEST(Gro, UdpStaysAloneWithoutUso) {
    TcpGro g;   // udp = false: a TUN without USO
    Held a = hold(udp_packet(4, 1000, 5000, 1)), b = hold(udp_packet(4, 1000, 5000, 2));
    g.add(a.p(), a.len());
    g.add(b.p(), b.len());
    EXPECT_EQ(g.items(), 2);
}

TEST(Gro, DisabledWritesEveryPacketAlone) {
    TcpGro g;
    g.enabled = false;
    Held a = hold(tcp_packet(4, 1000, 0, kAck)), b = hold(tcp_packet(4, 1000, 1000, kAck));
    g.add(a.p(), a.len());
    g.add(b.p(), b.len());
    EXPECT_EQ(g.items(), 2);
}

}  // namespace
}  // namespace lm
