// SPDX-License-Identifier: MIT
// Padded path-MTU probes (docs/PROTOCOLS.md §4, "Probing the path MTU"):
// what an ESP dummy packet (next header 59) carries when it is a probe.
// A client sends a probe padded so that its outer packet has the size it
// tries, with DF set; the server echoes it at the same size on the path it
// came by, so an echo proves that size both ways, whether or not ICMP
// "fragmentation needed" reaches anyone.  The client tells the server what
// it concluded in a small `result`.  Dummies without this header (the path
// ladder's) are empty and stay as they were.
//
//   magic "LMP1" (4) | kind (1) | zero (1) | id (2) | size (2) | zero (2) | zero padding
//
// size is the outer packet size probed (probe, echo) or concluded (result);
// all big-endian.  Pure functions, no allocation: they run in the data path.
#pragma once
#include <cstddef>
#include <cstdint>

namespace lm {

enum class MtuProbeKind : uint8_t { probe = 1, echo = 2, result = 3 };

struct MtuProbe {
    MtuProbeKind kind = MtuProbeKind::probe;
    uint16_t id = 0;
    uint16_t size = 0;
};

inline constexpr size_t kMtuProbeHeader = 12;
// Sizes probed: IPv6's minimum up to a jumbo frame.
inline constexpr unsigned kMtuProbeMin = 576, kMtuProbeMax = 9000;

// Writes the header at out[0..12) and zeroes out[12..len).  len >= 12.
void mtu_probe_write(const MtuProbe &p, uint8_t *out, size_t len);
// Reads a dummy's payload; false unless it is a well-formed probe header
// of a known kind whose size is in range.
bool mtu_probe_read(const uint8_t *p, size_t len, MtuProbe *out);
// Turns a received probe into its echo, in place.
void mtu_probe_make_echo(uint8_t *p);

// id and size as one word, for a per-worker counter the control thread reads.
inline uint32_t mtu_probe_word(uint16_t id, uint16_t size) { return uint32_t(id) << 16 | size; }

}  // namespace lm
