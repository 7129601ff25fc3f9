// SPDX-License-Identifier: MIT
#include "mesh/probe.h"

#include <openssl/crypto.h>
#include <openssl/hmac.h>

#include <cstring>

#include "common/bytes.h"

namespace lm {

static constexpr uint8_t kMagic[4] = {'L', 'M', 'P', '1'};

static void mac(const uint8_t *p, const uint8_t key[32], uint8_t out[16]) {
    uint8_t full[32];
    unsigned len = sizeof full;
    HMAC(EVP_sha256(), key, 32, p + 4, kProbeLen - 4 - 16, full, &len);
    std::memcpy(out, full, 16);
}

void probe_encode(const Probe &p, const uint8_t key[32], uint8_t out[kProbeLen]) {
    std::memset(out, 0, 4);
    std::memcpy(out + 4, kMagic, 4);
    out[8] = uint8_t(p.type);
    store_be32(out + 9, p.spi);
    store_be64(out + 13, p.nonce);
    mac(out, key, out + 21);
}

bool probe_parse(const uint8_t *p, size_t len, Probe *out) {
    if (len != kProbeLen || load_be32(p) != 0 || std::memcmp(p + 4, kMagic, 4) != 0) return false;
    if (p[8] != uint8_t(ProbeType::probe) && p[8] != uint8_t(ProbeType::reply)) return false;
    out->type = ProbeType(p[8]);
    out->spi = load_be32(p + 9);
    out->nonce = load_be64(p + 13);
    return true;
}

bool probe_verify(const uint8_t *p, size_t len, const uint8_t key[32]) {
    if (len != kProbeLen) return false;
    uint8_t want[16];
    mac(p, key, want);
    return CRYPTO_memcmp(want, p + 21, 16) == 0;
}

}  // namespace lm
