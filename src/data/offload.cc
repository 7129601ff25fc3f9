// SPDX-License-Identifier: MIT
// Userspace GSO/GRO; see offload.h.
#include "data/offload.h"

#include <cstring>

#include "common/bytes.h"

namespace lm {

namespace {

constexpr uint8_t kProtoTcp = 6, kProtoUdp = 17;
constexpr uint8_t kTcpFin = 0x01, kTcpPsh = 0x08, kTcpAck = 0x10, kTcpCwr = 0x80;
constexpr size_t kMaxIpLen = 65535;

uint16_t load_le16(const uint8_t *p) { return uint16_t(p[0] | (p[1] << 8)); }
void store_le16(uint8_t *p, uint16_t v) {
    p[0] = uint8_t(v);
    p[1] = uint8_t(v >> 8);
}

}  // namespace

VnetHdr vnet_load(const uint8_t *p) {
    VnetHdr h;
    h.flags = p[0];
    h.gso_type = p[1];
    h.hdr_len = load_le16(p + 2);
    h.gso_size = load_le16(p + 4);
    h.csum_start = load_le16(p + 6);
    h.csum_offset = load_le16(p + 8);
    return h;
}

void vnet_store(uint8_t *p, const VnetHdr &h) {
    p[0] = h.flags;
    p[1] = h.gso_type;
    store_le16(p + 2, h.hdr_len);
    store_le16(p + 4, h.gso_size);
    store_le16(p + 6, h.csum_start);
    store_le16(p + 8, h.csum_offset);
}

// The sum is kept over native-order 32-bit loads; a ones' complement sum does
// not depend on byte order except for a final swap (RFC 1071 §2(B)), which
// csum_fold does.
uint64_t csum_add(uint64_t sum, const uint8_t *p, size_t len) {
    while (len >= 32) {
        uint32_t w[8];
        std::memcpy(w, p, 32);
        sum += uint64_t(w[0]) + w[1] + w[2] + w[3] + w[4] + w[5] + w[6] + w[7];
        p += 32;
        len -= 32;
    }
    while (len >= 4) {
        uint32_t w;
        std::memcpy(&w, p, 4);
        sum += w;
        p += 4;
        len -= 4;
    }
    if (len >= 2) {
        uint16_t w;
        std::memcpy(&w, p, 2);
        sum += w;
        p += 2;
        len -= 2;
    }
    if (len) {
        uint8_t last[2] = {p[0], 0};
        uint16_t w;
        std::memcpy(&w, last, 2);
        sum += w;
    }
    return sum;
}

uint16_t csum_fold(uint64_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    uint16_t v = uint16_t(sum);
    uint8_t b[2];
    std::memcpy(b, &v, 2);
    return load_be16(b);   // the native-order sum, read as the big-endian word it is
}

uint64_t csum_pseudo(const uint8_t *ip, int version, uint8_t proto, size_t l4_len) {
    uint64_t sum;
    if (version == 4) {
        sum = csum_add(0, ip + 12, 8);
        uint8_t tail[4] = {0, proto, uint8_t(l4_len >> 8), uint8_t(l4_len)};
        return csum_add(sum, tail, 4);
    }
    sum = csum_add(0, ip + 8, 32);
    uint8_t tail[8] = {uint8_t(l4_len >> 24), uint8_t(l4_len >> 16), uint8_t(l4_len >> 8), uint8_t(l4_len),
                       0, 0, 0, proto};
    return csum_add(sum, tail, 8);
}

uint16_t ipv4_header_csum(const uint8_t *ip) {
    size_t ihl = size_t(ip[0] & 0x0f) * 4;
    uint64_t sum = csum_add(0, ip, 10);              // up to the checksum field
    sum = csum_add(sum, ip + 12, ihl - 12);          // after it
    return uint16_t(~csum_fold(sum));
}

bool csum_complete_partial(uint8_t *pkt, size_t len, size_t start, size_t offset) {
    if (start > len || offset + 2 > len - start) return false;
    uint16_t c = uint16_t(~csum_fold(csum_add(0, pkt + start, len - start)));
    // 0 and 0xffff are the same number; UDP reserves 0 for "no checksum".
    store_be16(pkt + start + offset, c ? c : 0xffff);
    return true;
}

bool gso_plan(const uint8_t *pkt, size_t len, const VnetHdr &h, GsoPlan *plan) {
    uint8_t gso = h.gso_type & uint8_t(~kGsoEcn);
    if (len < 1) return false;
    int version = pkt[0] >> 4;
    size_t total;
    uint8_t proto = 0;
    if (version == 4) {
        if (len < 20) return false;
        size_t ihl = size_t(pkt[0] & 0x0f) * 4;
        total = load_be16(pkt + 2);
        if (ihl < 20 || total < ihl || total > len) return false;
        if (h.csum_start != ihl) return false;
        proto = pkt[9];
    } else if (version == 6) {
        if (len < 40) return false;
        total = 40 + size_t(load_be16(pkt + 4));
        if (total > len || h.csum_start < 40) return false;
        proto = h.csum_start == 40 ? pkt[6] : 0;   // behind extension headers: trust gso_type
    } else {
        return false;
    }
    bool tcp;
    if (gso == kGsoTcp4 && version == 4) {
        tcp = true;
    } else if (gso == kGsoTcp6 && version == 6) {
        tcp = true;
    } else if (gso == kGsoUdpL4) {
        tcp = false;
    } else {
        return false;
    }
    if (proto && proto != (tcp ? kProtoTcp : kProtoUdp)) return false;
    size_t l3 = h.csum_start, l4;
    if (tcp) {
        if (l3 + 20 > total) return false;
        l4 = size_t(pkt[l3 + 12] >> 4) * 4;
        if (l4 < 20 || l3 + l4 > total) return false;
    } else {
        l4 = 8;
        if (l3 + l4 > total) return false;
    }
    if (h.gso_size == 0) return false;
    plan->version = version;
    plan->tcp = tcp;
    plan->l3_len = l3;
    plan->hdr_len = l3 + l4;
    plan->payload = total - plan->hdr_len;
    plan->seg_payload = h.gso_size;
    plan->count = plan->payload ? int((plan->payload + h.gso_size - 1) / h.gso_size) : 1;
    return true;
}

size_t gso_segment(const uint8_t *pkt, const GsoPlan &plan, int i, uint8_t *out) {
    size_t off = size_t(i) * plan.seg_payload;
    size_t n = plan.payload - off < plan.seg_payload ? plan.payload - off : plan.seg_payload;
    std::memcpy(out, pkt, plan.hdr_len);
    std::memcpy(out + plan.hdr_len, pkt + plan.hdr_len + off, n);
    size_t seg_len = plan.hdr_len + n;
    size_t l3 = plan.l3_len;
    if (plan.version == 4) {
        store_be16(out + 2, uint16_t(seg_len));
        store_be16(out + 4, uint16_t(load_be16(pkt + 4) + i));
        store_be16(out + 10, ipv4_header_csum(out));
    } else {
        store_be16(out + 4, uint16_t(seg_len - 40));
    }
    uint8_t *l4 = out + l3;
    size_t csum_off;
    if (plan.tcp) {
        store_be32(l4 + 4, uint32_t(load_be32(pkt + l3 + 4) + off));
        if (i != plan.count - 1) l4[13] &= uint8_t(~(kTcpFin | kTcpPsh));
        if (i != 0) l4[13] &= uint8_t(~kTcpCwr);
        csum_off = 16;
    } else {
        store_be16(l4 + 4, uint16_t(seg_len - l3));
        csum_off = 6;
    }
    store_be16(l4 + csum_off, 0);
    uint64_t sum = csum_pseudo(out, plan.version, plan.tcp ? kProtoTcp : kProtoUdp, seg_len - l3);
    uint16_t c = uint16_t(~csum_fold(csum_add(sum, l4, seg_len - l3)));
    store_be16(l4 + csum_off, c == 0 && !plan.tcp ? 0xffff : c);
    return seg_len;
}

// ---- TcpGro ----

namespace {

// The IP header length of a plain IPv4 (no options, not a fragment) or IPv6
// (no extension headers) packet of protocol `proto`, or 0.
size_t plain_l3(const uint8_t *p, size_t len, uint8_t proto) {
    int version = p[0] >> 4;
    if (version == 4) {
        if (len < 28 || (p[0] & 0x0f) != 5 || p[9] != proto) return 0;
        if (load_be16(p + 6) & 0x3fff) return 0;   // MF or a fragment offset
        return 20;
    }
    if (version == 6) {
        if (len < 48 || p[6] != proto) return 0;
        return 40;
    }
    return 0;
}

// A TCP segment we may coalesce: ACK with or without PSH, some payload.
// Returns the IP + TCP header length, or 0.
size_t tcp_candidate(const uint8_t *p, size_t len) {
    size_t l3 = plain_l3(p, len, kProtoTcp);
    if (!l3 || l3 + 20 > len) return 0;
    size_t thl = size_t(p[l3 + 12] >> 4) * 4;
    if (thl < 20 || l3 + thl >= len) return 0;   // no payload: not coalesced
    if ((p[l3 + 13] & ~kTcpPsh) != kTcpAck) return 0;
    return l3 + thl;
}

// A UDP datagram we may coalesce: its length field agrees, some payload.
size_t udp_candidate(const uint8_t *p, size_t len) {
    size_t l3 = plain_l3(p, len, kProtoUdp);
    if (!l3 || l3 + 8 >= len || load_be16(p + l3 + 4) != len - l3) return 0;
    return l3 + 8;
}

// Same addresses, protocol and ports (plain headers, so ports sit at l3).
bool same_flow(const uint8_t *a, const uint8_t *b) {
    if ((a[0] >> 4) != (b[0] >> 4)) return false;
    if ((a[0] >> 4) == 4)
        return a[9] == b[9] && std::memcmp(a + 12, b + 12, 8) == 0 && std::memcmp(a + 20, b + 20, 4) == 0;
    return a[6] == b[6] && std::memcmp(a + 8, b + 8, 32) == 0 && std::memcmp(a + 40, b + 40, 4) == 0;
}

}  // namespace

bool TcpGro::can_join(const Item &it, const uint8_t *p, size_t len, size_t *payload) const {
    const uint8_t *h = it.head;
    size_t l3 = it.version == 4 ? 20 : 40;
    if (it.version == 4) {
        // TOS, DF and TTL as the first segment's.
        if (h[1] != p[1] || (h[6] & 0x40) != (p[6] & 0x40) || h[8] != p[8]) return false;
    } else {
        if (std::memcmp(h, p, 4) != 0 || h[7] != p[7]) return false;
    }
    size_t n = len - it.hdr_len;
    if (n > it.seg || it.total + n > kMaxIpLen || it.count == kMaxSegs) return false;
    if (it.proto == kProtoTcp) {
        // Same ack, data offset, window and options; the flags were checked.
        const uint8_t *th = h + l3, *tp = p + l3;
        if (std::memcmp(th + 8, tp + 8, 5) != 0 || std::memcmp(th + 14, tp + 14, 2) != 0) return false;
        if (std::memcmp(th + 20, tp + 20, it.hdr_len - l3 - 20) != 0) return false;
        if (load_be32(tp + 4) != it.next_seq) return false;
    }
    *payload = n;
    return true;
}

void TcpGro::add(uint8_t *pkt, size_t len) {
    uint8_t proto = kProtoTcp;
    size_t hdr = 0;
    if (enabled) {
        hdr = tcp_candidate(pkt, len);
        if (!hdr && udp && (hdr = udp_candidate(pkt, len)) != 0) proto = kProtoUdp;
    }
    if (hdr) {
        int stop = n_items_ > kSearch ? n_items_ - kSearch : 0;
        for (int i = n_items_ - 1; i >= stop; i--) {
            Item &it = items_[i];
            if (it.version == 0 || !same_flow(it.head, pkt)) continue;
            // The newest item of this flow: join it or start the next one.
            size_t n;
            if (it.closed || hdr != it.hdr_len || !can_join(it, pkt, len, &n)) break;
            pkts_[n_pkts_] = {pkt + hdr, n, -1};
            pkts_[it.last].next = n_pkts_;
            it.last = n_pkts_++;
            it.count++;
            it.total += n;
            if (n < it.seg) it.closed = true;
            if (proto == kProtoTcp) {
                it.next_seq += uint32_t(n);
                size_t l3 = it.version == 4 ? 20 : 40;
                if (pkt[l3 + 13] & kTcpPsh) {
                    it.head[l3 + 13] |= kTcpPsh;
                    it.closed = true;
                }
            }
            return;
        }
    }
    Item &it = items_[n_items_++];
    pkts_[n_pkts_] = {pkt, len, -1};
    it.head = pkt;
    it.total = len;
    it.first = it.last = n_pkts_++;
    it.count = 1;
    it.proto = proto;
    it.next_seq = 0;
    if (hdr) {
        size_t l3 = (pkt[0] >> 4) == 4 ? 20 : 40;
        it.version = pkt[0] >> 4;
        it.hdr_len = hdr;
        it.seg = len - hdr;
        it.closed = false;
        if (proto == kProtoTcp) {
            it.next_seq = load_be32(pkt + l3 + 4) + uint32_t(len - hdr);
            it.closed = (pkt[l3 + 13] & kTcpPsh) != 0;
        }
    } else {
        // Not one we coalesce, but it may still belong to a flow that has an
        // open item: keep its place in that flow's order.
        it.version = 0;
        it.hdr_len = 0;
        it.seg = 0;
        it.closed = true;
        if (enabled && (plain_l3(pkt, len, kProtoTcp) || plain_l3(pkt, len, kProtoUdp)))
            it.version = pkt[0] >> 4;   // matches by flow, never joinable
    }
}

void TcpGro::finish(Item &it) {
    uint8_t *h = it.head;
    VnetHdr v;
    if (it.count > 1) {
        size_t l3 = it.version == 4 ? 20 : 40;
        if (it.version == 4) {
            store_be16(h + 2, uint16_t(it.total));
            store_be16(h + 10, ipv4_header_csum(h));
        } else {
            store_be16(h + 4, uint16_t(it.total - 40));
        }
        // Partial checksum: the pseudo-header sum, which the kernel completes.
        size_t csum_off = it.proto == kProtoTcp ? 16 : 6;
        if (it.proto == kProtoUdp) store_be16(h + l3 + 4, uint16_t(it.total - l3));
        store_be16(h + l3 + csum_off, csum_fold(csum_pseudo(h, it.version, it.proto, it.total - l3)));
        v.flags = kVnetNeedsCsum;
        v.gso_type = it.proto == kProtoUdp ? kGsoUdpL4 : it.version == 4 ? kGsoTcp4 : kGsoTcp6;
        v.hdr_len = uint16_t(it.hdr_len);
        v.gso_size = uint16_t(it.seg);
        v.csum_start = uint16_t(l3);
        v.csum_offset = uint16_t(csum_off);
    }
    vnet_store(h - kVnetHdrLen, v);
}

int TcpGro::item_iov(int i, struct iovec *iov, int *packets) {
    Item &it = items_[i];
    finish(it);
    int n = 0;
    for (int k = it.first; k >= 0; k = pkts_[k].next) {
        if (n == 0)
            iov[n++] = {it.head - kVnetHdrLen, pkts_[k].len + kVnetHdrLen};
        else
            iov[n++] = {pkts_[k].p, pkts_[k].len};
    }
    *packets = it.count;
    return n;
}

}  // namespace lm
