// SPDX-License-Identifier: MIT
// ESP packets in tunnel mode (RFC 4303) with an AEAD transform (RFC 4106,
// RFC 7634).  Pure functions over caller-owned buffers: no I/O, no
// allocation, no logging.  See docs/PROTOCOLS.md §1-2 for the layout:
//
//   SPI(4) | seq(4) | IV(8) | inner packet | pad 1,2,3.. | pad len(1) | next header(1) | ICV(16)
//                           \___________ AEAD plaintext ____________________________/
//
// No ESN: the AAD is SPI || seq (8 bytes) and the IV is the sequence number
// as a 64-bit big-endian counter, so (key, nonce) never repeats while the
// sender never reuses a sequence number on one SA (RFC 4106 §3).
#pragma once
#include <cstddef>
#include <cstdint>

#include "common/bytes.h"
#include "crypto/aead.h"
#include "esp/wire.h"

namespace lm {

constexpr uint8_t kNextHeaderIpv4 = 4, kNextHeaderIpv6 = 41, kNextHeaderDummy = 59;

// Builds a whole ESP packet for sequence number `seq` (>= 1; the caller owns
// the counter and must never reuse or wrap it).  Pads so that plaintext + 2
// is a multiple of 4, with pad bytes 1, 2, 3 (RFC 4303 §2.4).  `inner` may
// be a separate buffer or already sit at out + 16 (zero copy); other overlaps
// are handled too.  Returns the total length, or 0 if `out_cap` is too small
// or the AEAD fails (out is then garbage and must not be sent).
size_t esp_seal(Aead &aead, uint32_t spi, uint32_t seq, uint8_t next_header,
                const uint8_t *inner, size_t inner_len, uint8_t *out, size_t out_cap);

enum class EspOpen {
    ok,           // authenticated, trailer valid; inner packet returned
    too_short,    // shorter than kEspMinLen: not even looked at
    bad_icv,      // tag did not verify (forged, corrupted, wrong key)
    bad_padding,  // authenticated, but trailer malformed: a peer bug, not an attack
    dummy,        // authenticated with next header 59 (RFC 4303 §2.6): drop silently
};

// Decrypts an ESP packet in place; `pkt` points at the SPI.  The caller has
// already found the SA by SPI and done the replay pre-check, and marks the
// sequence number in the window only after ok or dummy.  On ok and dummy,
// *inner points into pkt and *inner_len and *next_header are set; the next
// header is not filtered (4 and 41 are what a tunnel expects).  Otherwise the
// outputs are untouched, and after bad_icv the packet bytes are destroyed.
// Strict: the plaintext must be 4-byte aligned and the pad bytes 1, 2, 3...
EspOpen esp_open(Aead &aead, uint8_t *pkt, size_t len, uint8_t **inner, size_t *inner_len,
                 uint8_t *next_header);

// Header fields, for the SA lookup and replay pre-check before esp_open.
// The caller guarantees at least kEspHeaderLen bytes.
inline uint32_t esp_spi(const uint8_t *p) { return load_be32(p); }
inline uint32_t esp_seq(const uint8_t *p) { return load_be32(p + 4); }

const char *to_string(EspOpen);

}  // namespace lm
