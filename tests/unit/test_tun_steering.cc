// SPDX-License-Identifier: MIT
// The TUN steering program (net/tun_steering.cc), run by the kernel on
// made-up packets with BPF_PROG_TEST_RUN: a flow keeps one queue, flows
// spread over the queues, fragments of a datagram stay together whatever
// their payload, and a short packet goes to queue 0.  Loading the program
// needs CAP_BPF or CAP_SYS_ADMIN: without them the test is skipped.
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "net/tun_steering.h"

namespace lm {
namespace {

using Bytes = std::vector<uint8_t>;

class Steering : public ::testing::Test {
protected:
    void SetUp() override {
        std::string err;
        fd_ = tun_steering_load(&err);
        if (fd_ < 0 && (errno == EPERM || errno == EACCES)) GTEST_SKIP() << err;
        ASSERT_GE(fd_, 0) << err;
    }
    void TearDown() override {
        if (fd_ >= 0) close(fd_);
    }

    // The program's return value for an IP packet.  The test run hands the
    // program an skb whose data starts after an Ethernet header, at the IP
    // header, as a TUN device's does.
    uint32_t hash(const Bytes &ip) {
        Bytes frame(14, 0);
        frame[12] = (ip[0] >> 4) == 6 ? 0x86 : 0x08;
        frame[13] = (ip[0] >> 4) == 6 ? 0xdd : 0x00;
        frame.insert(frame.end(), ip.begin(), ip.end());
        union bpf_attr attr;
        std::memset(&attr, 0, sizeof attr);
        attr.test.prog_fd = uint32_t(fd_);
        attr.test.data_in = uint64_t(uintptr_t(frame.data()));
        attr.test.data_size_in = uint32_t(frame.size());
        attr.test.repeat = 1;
        int rc = int(syscall(SYS_bpf, BPF_PROG_TEST_RUN, &attr, sizeof attr));
        EXPECT_EQ(rc, 0) << strerror(errno);
        return attr.test.retval;
    }

    int fd_ = -1;
};

// IPv4 with an 8-byte L4 header and payload; frag = the flags/offset field.
Bytes v4(uint8_t proto, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, uint16_t frag = 0,
         uint8_t fill = 0, uint16_t id = 1) {
    Bytes p(20 + 8 + 32, fill);
    p[0] = 0x45;
    p[2] = 0;
    p[3] = uint8_t(p.size());
    p[4] = uint8_t(id >> 8), p[5] = uint8_t(id);
    p[6] = uint8_t(frag >> 8), p[7] = uint8_t(frag);
    p[8] = 64;
    p[9] = proto;
    for (int i = 0; i < 4; i++) p[12 + i] = uint8_t(src >> (24 - 8 * i)), p[16 + i] = uint8_t(dst >> (24 - 8 * i));
    p[20] = uint8_t(sport >> 8), p[21] = uint8_t(sport), p[22] = uint8_t(dport >> 8), p[23] = uint8_t(dport);
    return p;
}

Bytes v6(uint8_t next, uint8_t src_last, uint16_t sport, uint16_t dport, uint8_t fill = 0) {
    Bytes p(40 + 8 + 32, fill);
    p[0] = 0x60;
    p[5] = 40;
    p[6] = next;
    p[7] = 64;
    const uint8_t pre[] = {0x20, 0x01, 0x0d, 0xb8};
    for (int i = 0; i < 4; i++) p[8 + i] = p[24 + i] = pre[i];
    p[23] = src_last;
    p[39] = 1;
    p[40] = uint8_t(sport >> 8), p[41] = uint8_t(sport), p[42] = uint8_t(dport >> 8), p[43] = uint8_t(dport);
    return p;
}

constexpr uint32_t kA = 0xc6120002, kB = 0xc6120003;   // 198.18.0.2, .3

TEST_F(Steering, OneFlowOneQueue) {
    // Payload, IP ID and TTL change from packet to packet; the queue must not.
    uint32_t h = hash(v4(6, kA, kB, 40000, 443));
    EXPECT_EQ(hash(v4(6, kA, kB, 40000, 443, 0, 0x5a, 77)), h);
    Bytes ttl = v4(6, kA, kB, 40000, 443);
    ttl[8] = 3;
    EXPECT_EQ(hash(ttl), h);
    uint32_t h6 = hash(v6(17, 2, 5000, 53));
    EXPECT_EQ(hash(v6(17, 2, 5000, 53, 0xee)), h6);
}

TEST_F(Steering, FlowsSpreadOverQueues) {
    // 256 TCP flows that differ only in the source port, then only in the
    // source address: over 4 and 8 queues no queue gets less than half or
    // more than twice its share.
    for (int which = 0; which < 3; which++) {
        for (unsigned queues : {4u, 8u}) {
            std::map<uint32_t, int> per_queue;
            for (uint32_t i = 0; i < 256; i++) {
                Bytes p = which == 0   ? v4(6, kA, kB, uint16_t(32768 + i), 443)
                          : which == 1 ? v4(17, kA + (i << 8), kB, 5000, 53)
                                       : v6(6, uint8_t(i), 40000, 443);
                per_queue[hash(p) % queues]++;
            }
            SCOPED_TRACE(std::to_string(which) + " over " + std::to_string(queues) + " queues");
            EXPECT_EQ(per_queue.size(), queues);
            for (auto [q, n] : per_queue) {
                EXPECT_GE(n, int(256 / queues / 2)) << "queue " << q;
                EXPECT_LE(n, int(256 / queues * 2)) << "queue " << q;
            }
        }
    }
}

TEST_F(Steering, PortsCountOnlyWhenPresent) {
    // Different ports: different flows (almost always different hashes).
    EXPECT_NE(hash(v4(6, kA, kB, 40000, 443)), hash(v4(6, kA, kB, 40001, 443)));
    EXPECT_NE(hash(v6(17, 2, 5000, 53)), hash(v6(17, 2, 5001, 53)));
    // Fragments: the first (MF, offset 0) and a later one (offset 185 * 8)
    // carry different bytes where the ports would be; all fragments of a
    // datagram take one queue, so the ports must not count.
    uint32_t first = hash(v4(17, kA, kB, 5000, 53, 0x2000, 0, 9));
    uint32_t later = hash(v4(17, kA, kB, 0x1111, 0x2222, 185, 0x33, 9));
    uint32_t last = hash(v4(17, kA, kB, 0xabcd, 0xef01, 370, 0x44, 9));
    EXPECT_EQ(first, later);
    EXPECT_EQ(first, last);
    // Protocols without ports: the bytes after the header do not count.
    EXPECT_EQ(hash(v4(1, kA, kB, 0x0800, 1)), hash(v4(1, kA, kB, 0x0000, 2)));
}

TEST_F(Steering, TruncatedPacketsGoToQueueZero) {
    // TCP whose ports are cut off: a load past the end ends the program with 0.
    Bytes p4 = v4(6, kA, kB, 40000, 443);
    p4.resize(20);
    EXPECT_EQ(hash(p4), 0u);
    Bytes p6 = v6(6, 2, 40000, 443);
    p6.resize(40);
    EXPECT_EQ(hash(p6), 0u);
}

}  // namespace
}  // namespace lm
