// SPDX-License-Identifier: MIT
#include "data/mtu_probe.h"

#include <cstring>

#include "common/bytes.h"

namespace lm {

namespace {
constexpr uint8_t kMagic[4] = {'L', 'M', 'P', '1'};
}

void mtu_probe_write(const MtuProbe &p, uint8_t *out, size_t len) {
    std::memset(out, 0, len);
    std::memcpy(out, kMagic, 4);
    out[4] = uint8_t(p.kind);
    store_be16(out + 6, p.id);
    store_be16(out + 8, p.size);
}

bool mtu_probe_read(const uint8_t *p, size_t len, MtuProbe *out) {
    if (len < kMtuProbeHeader || std::memcmp(p, kMagic, 4) != 0 || p[5] != 0) return false;
    if (p[4] < uint8_t(MtuProbeKind::probe) || p[4] > uint8_t(MtuProbeKind::result)) return false;
    uint16_t size = load_be16(p + 8);
    if (size < kMtuProbeMin || size > kMtuProbeMax) return false;
    out->kind = MtuProbeKind(p[4]);
    out->id = load_be16(p + 6);
    out->size = size;
    return true;
}

void mtu_probe_make_echo(uint8_t *p) { p[4] = uint8_t(MtuProbeKind::echo); }

}  // namespace lm
