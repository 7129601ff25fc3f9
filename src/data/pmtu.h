// SPDX-License-Identifier: MIT
// Path MTU inside the tunnel, done to packets as the kernel does for its own
// tunnels (ip_tunnel, xfrm): pure functions on one inner IP packet, no
// allocation, unit-tested on their own (tests/unit/test_pmtu.cc).
//
// - clamp_mss: a TCP SYN or SYN-ACK, either direction, gets its MSS option
//   lowered to what fits the tunnel (iptables' TCPMSS --clamp-mss-to-pmtu),
//   so hosts behind a node never try segments the tunnel cannot carry.
// - build_ptb: an inner packet too big for the path is answered with ICMP
//   "fragmentation needed" (RFC 792/1191, IPv4 with DF) or ICMPv6 "packet
//   too big" (RFC 4443/8201), written back into the TUN; the sender's stack
//   lowers its path MTU and resends smaller.
#pragma once
#include <cstddef>
#include <cstdint>

namespace lm {

// Largest ICMP error we build: IPv6's minimum MTU (RFC 4443 §2.4 (c)).
inline constexpr size_t kPtbMax = 1280;
// IPv6 links carry at least this; a path below it cannot be told to IPv6.
inline constexpr unsigned kIpv6MinMtu = 1280;

// The TCP MSS that fills an inner MTU: minus the IP and TCP headers
// without options (IPv4 20 + 20, IPv6 40 + 20).
inline unsigned mss_for_mtu(int ip_version, unsigned mtu) {
    unsigned hdr = ip_version == 6 ? 60 : 40;
    return mtu > hdr ? mtu - hdr : 0;
}

// The largest inner packet whose ESP fits an outer path MTU of `outer`
// bytes: outer IP header (20 or 40), UDP (8) when encapsulated, ESP header
// and IV (16), the payload and its 2-byte trailer padded to 4, ICV (16).
inline unsigned inner_mtu_for_path(unsigned outer, bool outer_v6, bool udp) {
    unsigned fixed = (outer_v6 ? 40 : 20) + (udp ? 8 : 0) + 16 + 16;
    if (outer < fixed + 4 + 68) return 68;   // IPv4's minimum MTU
    return (outer - fixed) / 4 * 4 - 2;
}

// If `pkt` (one whole IPv4 or IPv6 packet of `len` bytes) is a TCP segment
// with SYN set whose MSS option is above mss_for_mtu(version, mtu), lowers
// it and updates the TCP checksum incrementally (RFC 1624).  True if it
// changed the packet.  IPv4 fragments and IPv6 packets with extension
// headers before TCP are left alone.
bool clamp_mss(uint8_t *pkt, size_t len, unsigned mtu);

// Writes into `out` (room for `cap` >= kPtbMax bytes) the ICMP error that
// tells the sender of `pkt` the path takes only `mtu` bytes: its source is
// the packet's destination (the route to it leads into the TUN, so reverse
// path checks pass), its destination the packet's source, and it quotes
// as much of the packet as fits in 576 (IPv4) or 1280 (IPv6) bytes.
// Returns its length, or 0 when no error is due: IPv4 without DF (the
// sender allows fragmentation), an ICMP error itself, a source that is
// unspecified, multicast or broadcast, or a malformed packet.
size_t build_ptb(const uint8_t *pkt, size_t len, unsigned mtu, uint8_t *out, size_t cap);

}  // namespace lm
