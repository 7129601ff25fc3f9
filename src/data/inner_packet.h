// SPDX-License-Identifier: MIT
// The IP packet inside ESP (after decryption) or read from the TUN: the
// checks the data plane makes before it looks at addresses.  Per packet, so
// inline and without allocation; a pure function of the bytes, which is what
// lets tests/fuzz/esp_open.cc run it on hostile input.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "common/addr.h"
#include "common/bytes.h"
#include "esp/esp.h"

namespace lm {

struct InnerInfo {
    IpAddr src, dst;
    size_t len;
};

// A decrypted or TUN-read packet must be one sane IP packet whose version
// agrees with the ESP next header.  Its own length field decides its size.
inline bool parse_inner(const uint8_t *p, size_t len, uint8_t next_header, InnerInfo *info) {
    if (len < 1) return false;
    int version = p[0] >> 4;
    if (version == 4 && next_header == kNextHeaderIpv4) {
        if (len < 20) return false;
        size_t ihl = size_t(p[0] & 0x0f) * 4;
        size_t total = load_be16(p + 2);
        if (ihl < 20 || total < ihl || total > len) return false;
        info->src.family = info->dst.family = AF_INET;
        std::memcpy(info->src.b, p + 12, 4);
        std::memcpy(info->dst.b, p + 16, 4);
        info->len = total;
        return true;
    }
    if (version == 6 && next_header == kNextHeaderIpv6) {
        if (len < 40) return false;
        size_t total = 40 + size_t(load_be16(p + 4));
        if (total > len) return false;
        info->src.family = info->dst.family = AF_INET6;
        std::memcpy(info->src.b, p + 8, 16);
        std::memcpy(info->dst.b, p + 24, 16);
        info->len = total;
        return true;
    }
    return false;
}

inline uint8_t next_header_for(const uint8_t *p, size_t len) {
    if (len < 1) return 0;
    return (p[0] >> 4) == 6 ? kNextHeaderIpv6 : kNextHeaderIpv4;
}

}  // namespace lm
