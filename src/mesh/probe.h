// SPDX-License-Identifier: MIT
// Hole-punch probes: non-ESP frames on the data socket (RFC 3948 §2.2 marker),
//   0x00000000 | "LMP1" | type(1: probe, 2: reply) | receiver's pair SPI(4) |
//   nonce(8) | HMAC-SHA256(probe key, "LMP1".."nonce") truncated to 16
// The SPI lets the receiver find the pair without any other state; the MAC,
// keyed per pair and epoch, makes forged probes cheap to reject; replies echo
// the nonce, which is used once, so a replayed reply confirms nothing.
#pragma once
#include <cstddef>
#include <cstdint>

namespace lm {

constexpr size_t kProbeLen = 4 + 4 + 1 + 4 + 8 + 16;
enum class ProbeType : uint8_t { probe = 1, reply = 2 };

struct Probe {
    ProbeType type = ProbeType::probe;
    uint32_t spi = 0;
    uint64_t nonce = 0;
};

// Writes kProbeLen bytes.
void probe_encode(const Probe &p, const uint8_t key[32], uint8_t out[kProbeLen]);
// Parses without checking the MAC (the key depends on the SPI inside).
bool probe_parse(const uint8_t *p, size_t len, Probe *out);
bool probe_verify(const uint8_t *p, size_t len, const uint8_t key[32]);

}  // namespace lm
