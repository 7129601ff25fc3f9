// SPDX-License-Identifier: MIT
// Segmentation offload in userspace (docs/PROTOCOLS.md §6): the pieces of the
// virtio-net header a TUN with IFF_VNET_HDR puts before every packet,
// Internet checksums, splitting a TCP or UDP super-packet read from the TUN
// into MTU-sized packets (GSO), coalescing consecutive TCP segments of one
// flow into a super-packet for the TUN write (GRO), and splitting a UDP_GRO
// read into its datagrams.
//
// Pure functions over caller-owned buffers: no I/O, no allocation, no
// logging, so the data path can call them per packet and the unit tests can
// feed them crafted packets.
#pragma once
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>

namespace lm {

// struct virtio_net_hdr, 10 bytes, host byte order.
constexpr size_t kVnetHdrLen = 10;
constexpr uint8_t kVnetNeedsCsum = 1, kVnetDataValid = 2;
constexpr uint8_t kGsoNone = 0, kGsoTcp4 = 1, kGsoTcp6 = 4, kGsoUdpL4 = 5, kGsoEcn = 0x80;

struct VnetHdr {
    uint8_t flags = 0;
    uint8_t gso_type = kGsoNone;
    uint16_t hdr_len = 0;
    uint16_t gso_size = 0;
    uint16_t csum_start = 0;
    uint16_t csum_offset = 0;
};

VnetHdr vnet_load(const uint8_t *p);
void vnet_store(uint8_t *p, const VnetHdr &h);

// ---- Internet checksum (RFC 1071) ----
// Adds `len` bytes, taken as big-endian 16-bit words (an odd last byte is
// padded with zero), to the running unfolded sum `sum`.  Sums of pieces can
// be added as long as every piece but the last has an even length.
uint64_t csum_add(uint64_t sum, const uint8_t *p, size_t len);
// Folds to 16 bits, not complemented.
uint16_t csum_fold(uint64_t sum);
// Pseudo-header sum for TCP/UDP over IPv4 (addresses at ip+12) or IPv6 (at
// ip+8): addresses, protocol and the transport length `l4_len`.
uint64_t csum_pseudo(const uint8_t *ip, int version, uint8_t proto, size_t l4_len);
// The IPv4 header checksum of `ip` (ihl*4 bytes), computed with the field
// itself taken as zero, ready to store.
uint16_t ipv4_header_csum(const uint8_t *ip);

// Finishes a partial checksum (VIRTIO_NET_HDR_F_NEEDS_CSUM): the field at
// start+offset holds the pseudo-header sum; the checksum covers [start, len).
// False when the offsets do not fit the packet.
bool csum_complete_partial(uint8_t *pkt, size_t len, size_t start, size_t offset);

// ---- GSO: one super-packet from the TUN into MTU-sized packets ----
struct GsoPlan {
    int version = 0;        // 4 or 6
    bool tcp = true;        // TCP (TSO) or UDP (USO)
    size_t l3_len = 0;      // IP header(s), up to the transport header (csum_start)
    size_t hdr_len = 0;     // l3_len + transport header
    size_t payload = 0;     // bytes after hdr_len in the super-packet
    size_t seg_payload = 0; // gso_size: payload bytes per segment (last may be less)
    int count = 0;          // number of segments
};

// Checks a super-packet (IP packet `pkt` of `len` bytes, read after `h`) and
// plans its split.  False when the header and packet do not agree or the
// packet is not one we can segment.  A packet that needs no split (payload
// fits one segment) still gets a plan with count 1.
bool gso_plan(const uint8_t *pkt, size_t len, const VnetHdr &h, GsoPlan *plan);
// Writes segment `i` of the plan to `out` (room for hdr_len + seg_payload):
// headers copied and fixed (IPv4 total length, id + i and header checksum;
// IPv6 payload length; TCP sequence number, FIN/PSH only on the last and CWR
// only on the first segment; UDP length), the transport checksum computed in
// full.  Returns the segment's length.
size_t gso_segment(const uint8_t *pkt, const GsoPlan &plan, int i, uint8_t *out);

// ---- UDP GRO on the socket: one coalesced read into datagrams ----
// Calls f(offset, length) for every datagram of a read of `len` bytes whose
// UDP_GRO cmsg said `seg` (0: no cmsg, one datagram).  All datagrams are
// `seg` bytes except the last, which may be shorter.  An empty read is one
// empty datagram.
template <class F>
void gro_split(size_t len, size_t seg, F &&f) {
    if (seg == 0 || seg >= len) {
        f(size_t(0), len);
        return;
    }
    for (size_t off = 0; off < len; off += seg) f(off, len - off < seg ? len - off : seg);
}

// ---- TCP (and UDP) GRO for the TUN write ----
// Collects decrypted packets of one receive batch (pointers into the
// caller's buffers, which must stay valid until the batch is written) and
// joins consecutive in-order TCP segments of one flow into one super-packet
// written with a GSO virtio header.  Every other packet is written as it is
// behind a zeroed header.  Order is kept within a flow; different flows may
// be reordered relative to each other.  Each packet must have kVnetHdrLen
// writable bytes before it (the header goes there for the first packet of
// every item).
class TcpGro {
public:
    static constexpr int kMaxItems = 256;      // super-packets (or lone packets) per flush
    static constexpr int kMaxPkts = 2048;      // packets per flush
    static constexpr int kMaxSegs = 64;        // segments per super-packet
    static constexpr int kSearch = 8;          // how many recent items a flow is looked for in

    // When full, the caller writes what is pending (flush) and adds again.
    bool full() const { return n_items_ == kMaxItems || n_pkts_ == kMaxPkts; }
    // `pkt` is one whole IP packet (its length fields already checked).
    void add(uint8_t *pkt, size_t len);
    int items() const { return n_items_; }
    // Item i as iovecs for writev (vnet header included in the first);
    // returns the iovec count (at most kMaxSegs) and its number of packets.
    int item_iov(int i, struct iovec *iov, int *packets);
    void clear() { n_items_ = n_pkts_ = 0; }
    // Turned off, every packet is its own item (for a TUN without offloads).
    bool enabled = true;
    // Also coalesce UDP datagrams of one flow (same size, the last may be
    // shorter) into a GSO_UDP_L4 write; only for a TUN that took USO.
    bool udp = false;

private:
    struct Pkt { uint8_t *p; size_t len; int next; };
    struct Item {
        uint8_t *head;          // first packet: its headers become the super-packet's
        size_t total;           // IP length of the super-packet so far
        size_t hdr_len;         // IP + TCP header length
        size_t seg;             // payload length of the first segment (gso_size)
        uint32_t next_seq;      // sequence number the next segment must have (TCP)
        int version;            // 0: matches no flow
        uint8_t proto;          // 6 or 17
        int first, last, count; // packet list
        bool closed;            // no more appends (short segment, PSH, or not TCP)
    };
    bool can_join(const Item &it, const uint8_t *p, size_t len, size_t *payload) const;
    void finish(Item &it);

    Item items_[kMaxItems];
    Pkt pkts_[kMaxPkts];
    int n_items_ = 0, n_pkts_ = 0;
};

}  // namespace lm
