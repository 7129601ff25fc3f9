// SPDX-License-Identifier: MIT
// ESP seal and open (RFC 4303 §2-3, RFC 4106 §4-5, RFC 7634 §2).
#include "esp/esp.h"

#include <cstdint>
#include <cstring>

namespace lm {

namespace {

constexpr size_t kIvOff = kEspHeaderLen;            // IV follows SPI and seq
constexpr size_t kPayloadOff = kEspPayloadOff;      // AEAD plaintext starts here
constexpr size_t kTrailerLen = kEspTrailerLen;

}  // namespace

size_t esp_seal(Aead &aead, uint32_t spi, uint32_t seq, uint8_t next_header,
                const uint8_t *inner, size_t inner_len, uint8_t *out, size_t out_cap) {
    if (inner_len > out_cap) return 0;
    // Pad so the trailer ends on a 4-byte boundary (RFC 4303 §2.4).
    size_t pad = (4 - (inner_len + kTrailerLen) % 4) % 4;
    size_t overhead = kPayloadOff + pad + kTrailerLen + kAeadTagLen;
    if (out_cap - inner_len < overhead) return 0;
    size_t pt_len = inner_len + pad + kTrailerLen;

    // Move the inner packet first: it may overlap the header bytes.
    uint8_t *pt = out + kPayloadOff;
    if (inner_len && pt != inner) std::memmove(pt, inner, inner_len);
    for (size_t i = 0; i < pad; i++) pt[inner_len + i] = uint8_t(i + 1);
    pt[inner_len + pad] = uint8_t(pad);
    pt[inner_len + pad + 1] = next_header;

    store_be32(out, spi);
    store_be32(out + 4, seq);
    // Counter IV equal to the 64-bit sequence number (RFC 4106 §3; high half
    // zero without ESN).  Unique per SA because seq is.
    store_be64(out + kIvOff, seq);
    if (!aead.seal(out + kIvOff, out, kEspHeaderLen, pt, pt_len, pt, pt + pt_len)) return 0;
    return inner_len + overhead;
}

EspOpen esp_open(Aead &aead, uint8_t *pkt, size_t len, uint8_t **inner, size_t *inner_len,
                 uint8_t *next_header) {
    if (!pkt || len < kEspMinLen) return EspOpen::too_short;
    uint8_t *pt = pkt + kPayloadOff;
    size_t pt_len = len - kPayloadOff - kAeadTagLen;
    // The IV is read from the wire, not rebuilt from seq: the RFCs only ask
    // the sender for uniqueness, and other implementations may differ.
    if (!aead.open(pkt + kIvOff, pkt, kEspHeaderLen, pt, pt_len, pt, pt + pt_len))
        return EspOpen::bad_icv;

    // Everything below is authenticated, so a failure here is a peer bug.
    if (pt_len % 4 != 0) return EspOpen::bad_padding;
    size_t pad = pt[pt_len - 2];
    uint8_t nh = pt[pt_len - 1];
    if (pad > pt_len - kTrailerLen) return EspOpen::bad_padding;
    size_t body = pt_len - kTrailerLen - pad;
    for (size_t i = 0; i < pad; i++)
        if (pt[body + i] != uint8_t(i + 1)) return EspOpen::bad_padding;

    *inner = pt;
    *inner_len = body;
    *next_header = nh;
    return nh == kNextHeaderDummy ? EspOpen::dummy : EspOpen::ok;
}

const char *to_string(EspOpen r) {
    switch (r) {
    case EspOpen::ok: return "ok";
    case EspOpen::too_short: return "too_short";
    case EspOpen::bad_icv: return "bad_icv";
    case EspOpen::bad_padding: return "bad_padding";
    case EspOpen::dummy: return "dummy";
    }
    return "unknown";
}

}  // namespace lm
