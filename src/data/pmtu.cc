// SPDX-License-Identifier: MIT
#include "data/pmtu.h"

#include <cstring>

#include "common/bytes.h"
#include "data/offload.h"

namespace lm {

namespace {

constexpr uint8_t kTcp = 6, kIcmp = 1, kIcmp6 = 58;
constexpr uint8_t kTcpSyn = 0x02;
constexpr uint8_t kOptEnd = 0, kOptNop = 1, kOptMss = 2;

// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for one 16-bit word.
uint16_t csum_replace(uint16_t hc, uint16_t old_word, uint16_t new_word) {
    uint32_t sum = uint32_t(uint16_t(~hc)) + uint16_t(~old_word) + new_word;
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return uint16_t(~sum);
}

// Where the TCP header starts, or 0 if this is no unfragmented TCP packet.
size_t tcp_offset(const uint8_t *p, size_t len, size_t *end) {
    if (len < 1) return 0;
    int v = p[0] >> 4;
    if (v == 4) {
        if (len < 20) return 0;
        size_t ihl = size_t(p[0] & 0x0f) * 4;
        size_t total = load_be16(p + 2);
        if (ihl < 20 || total < ihl || total > len || p[9] != kTcp) return 0;
        if (load_be16(p + 6) & 0x3fff) return 0;   // a fragment (MF or an offset)
        *end = total;
        return ihl;
    }
    if (v == 6) {
        if (len < 40 || p[6] != kTcp) return 0;
        size_t total = 40 + size_t(load_be16(p + 4));
        if (total > len) return 0;
        *end = total;
        return 40;
    }
    return 0;
}

bool bad_source_v4(const uint8_t *a) {
    return (a[0] == 0 && a[1] == 0 && a[2] == 0 && a[3] == 0) || a[0] >= 224;   // unspecified, multicast, class E, broadcast
}

}  // namespace

bool clamp_mss(uint8_t *pkt, size_t len, unsigned mtu) {
    size_t end = 0;
    size_t l4 = tcp_offset(pkt, len, &end);
    if (!l4 || end - l4 < 20) return false;
    uint8_t *tcp = pkt + l4;
    if (!(tcp[13] & kTcpSyn)) return false;
    size_t doff = size_t(tcp[12] >> 4) * 4;
    if (doff < 20 || doff > end - l4) return false;
    unsigned max = mss_for_mtu(pkt[0] >> 4, mtu);
    if (max == 0) return false;
    for (size_t i = 20; i < doff;) {
        uint8_t kind = tcp[i];
        if (kind == kOptEnd) break;
        if (kind == kOptNop) {
            i++;
            continue;
        }
        if (i + 1 >= doff) break;
        size_t olen = tcp[i + 1];
        if (olen < 2 || i + olen > doff) break;   // malformed: leave it to the receiver
        if (kind == kOptMss && olen == 4) {
            uint16_t mss = load_be16(tcp + i + 2);
            if (mss <= max) return false;
            // The checksum sums 16-bit words aligned to the TCP header; a
            // value at an odd offset straddles two of them, which sums the
            // same as its bytes swapped.
            bool odd = (i + 2) & 1;
            uint16_t old_w = odd ? uint16_t((mss >> 8) | (mss << 8)) : mss;
            uint16_t new_w = odd ? uint16_t((max >> 8) | (max << 8)) : uint16_t(max);
            store_be16(tcp + i + 2, uint16_t(max));
            store_be16(tcp + 16, csum_replace(load_be16(tcp + 16), old_w, new_w));
            return true;
        }
        i += olen;
    }
    return false;
}

size_t build_ptb(const uint8_t *pkt, size_t len, unsigned mtu, uint8_t *out, size_t cap) {
    if (cap < kPtbMax || len < 1) return 0;
    int v = pkt[0] >> 4;
    if (v == 4) {
        if (len < 20) return 0;
        size_t ihl = size_t(pkt[0] & 0x0f) * 4;
        if (ihl < 20 || ihl > len) return 0;
        uint16_t frag = load_be16(pkt + 6);
        if (!(frag & 0x4000) || (frag & 0x1fff)) return 0;   // DF unset, or not the first fragment
        if (bad_source_v4(pkt + 12)) return 0;
        if (pkt[9] == kIcmp) {
            // Never an error about an error (RFC 1122 3.2.2); queries are fine.
            if (len < ihl + 1) return 0;
            uint8_t t = pkt[ihl];
            if (t != 0 && t != 8 && t != 13 && t != 14) return 0;
        }
        size_t quote = len < 576 - 28 ? len : 576 - 28;
        size_t total = 28 + quote;
        std::memset(out, 0, 28);
        out[0] = 0x45;
        out[1] = 0xc0;   // internetwork control, as the kernel's ICMP
        store_be16(out + 2, uint16_t(total));
        out[8] = 64;
        out[9] = kIcmp;
        std::memcpy(out + 12, pkt + 16, 4);   // from the destination it could not reach
        std::memcpy(out + 16, pkt + 12, 4);   // to the sender
        store_be16(out + 10, ipv4_header_csum(out));
        uint8_t *icmp = out + 20;
        icmp[0] = 3;   // destination unreachable
        icmp[1] = 4;   // fragmentation needed and DF set
        store_be16(icmp + 6, uint16_t(mtu > 0xffff ? 0xffff : mtu));
        std::memcpy(icmp + 8, pkt, quote);
        store_be16(icmp + 2, uint16_t(~csum_fold(csum_add(0, icmp, 8 + quote))));
        return total;
    }
    if (v == 6) {
        if (len < 40) return 0;
        const uint8_t *src = pkt + 8;
        static const uint8_t zero[16] = {};
        if (std::memcmp(src, zero, 16) == 0 || src[0] == 0xff) return 0;
        if (pkt[6] == kIcmp6 && (len < 41 || pkt[40] < 128)) return 0;   // an ICMPv6 error
        size_t quote = len < kPtbMax - 48 ? len : kPtbMax - 48;
        size_t plen = 8 + quote;
        std::memset(out, 0, 48);
        out[0] = 0x60;
        store_be16(out + 4, uint16_t(plen));
        out[6] = kIcmp6;
        out[7] = 64;
        std::memcpy(out + 8, pkt + 24, 16);
        std::memcpy(out + 24, pkt + 8, 16);
        uint8_t *icmp = out + 40;
        icmp[0] = 2;   // packet too big
        store_be32(icmp + 4, mtu < kIpv6MinMtu ? kIpv6MinMtu : mtu);
        std::memcpy(icmp + 8, pkt, quote);
        uint64_t sum = csum_pseudo(out, 6, kIcmp6, plen);
        store_be16(icmp + 2, uint16_t(~csum_fold(csum_add(sum, icmp, plen))));
        return 40 + plen;
    }
    return 0;
}

}  // namespace lm
