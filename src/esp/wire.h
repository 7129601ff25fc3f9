// SPDX-License-Identifier: MIT
// The sizes and ports of lanmesh's packets on the wire, in one place
// (docs/PROTOCOLS.md §1-3).  Everything that sizes a buffer, checks a length
// or subtracts an overhead uses these names; the static_asserts pin them to
// the numbers the RFCs and the protocol notes give.
//
//   [outer IP 20|40] [UDP 8, ESP-in-UDP only] SPI(4) seq(4) IV(8) inner pad(0-3) padlen(1) nh(1) ICV(16)
#pragma once
#include <cstddef>
#include <cstdint>
#include <sys/socket.h>

#include "crypto/aead.h"

namespace lm {

// The TLS control channel (TCP) and ESP-in-UDP (RFC 3948) share IKE's NAT-T
// port by default; raw ESP is IP protocol 50.
constexpr uint16_t kDefaultPort = 4500;
constexpr uint8_t kIpProtoEsp = 50;

// ESP (RFC 4303 §2) with a counter-IV AEAD (RFC 4106, RFC 7634).
constexpr size_t kEspSpiLen = 4;
constexpr size_t kEspSeqLen = 4;
constexpr size_t kEspHeaderLen = kEspSpiLen + kEspSeqLen;
constexpr size_t kEspIcvLen = kAeadTagLen;
constexpr size_t kEspPayloadOff = kEspHeaderLen + kEspIvLen;   // the inner packet starts here
constexpr size_t kEspTrailerLen = 2;                           // pad length, next header
constexpr size_t kEspMaxPad = 3;                               // pads to a multiple of 4
constexpr size_t kEspOverheadMax = kEspPayloadOff + kEspMaxPad + kEspTrailerLen + kEspIcvLen;
// Smallest well-formed packet: an empty inner packet, padded with 2 bytes
// so that the 2-byte trailer ends on a multiple of 4.
constexpr size_t kEspMinLen = kEspPayloadOff + 2 + kEspTrailerLen + kEspIcvLen;

// Outer headers around ESP.
constexpr size_t kIpv4HeaderLen = 20, kIpv6HeaderLen = 40, kUdpHeaderLen = 8;

// Everything a tunnelled packet gains at most on a path of this address
// family: outer IP, the UDP header when encapsulated, and ESP.
constexpr size_t esp_path_overhead(int family, bool udp) {
    return (family == AF_INET ? kIpv4HeaderLen : kIpv6HeaderLen) + (udp ? kUdpHeaderLen : 0) + kEspOverheadMax;
}

static_assert(kEspHeaderLen == 8, "RFC 4303 §2: SPI and sequence number, 32 bits each");
static_assert(kEspIvLen == 8, "RFC 4106 §3, RFC 7634 §2: 8-byte explicit IV");
static_assert(kEspIcvLen == 16, "RFC 4106 §4, RFC 7634 §2: 16-byte ICV");
static_assert(kEspPayloadOff == 16, "docs/PROTOCOLS.md §1: inner packet at offset 16");
static_assert(kEspOverheadMax == 37, "header 8, IV 8, pad up to 3, trailer 2, ICV 16");
static_assert(kEspMinLen == 36, "header 8, IV 8, pad 2, trailer 2, ICV 16");
static_assert((kEspMinLen - kEspPayloadOff - kEspIcvLen) % 4 == 0, "the smallest plaintext is 4-byte aligned");
static_assert(esp_path_overhead(AF_INET, true) == 65 && esp_path_overhead(AF_INET6, false) == 77,
              "outer IPv4 + UDP + ESP, outer IPv6 + ESP");

}  // namespace lm
