#include "data/sa.h"

#include <openssl/rand.h>

#include <stdexcept>

namespace lm {

// A retired SPI stays out of circulation this long, so a late packet for the
// old SA can never be taken for the new one.
static constexpr time_t kSpiQuarantine = 300;

uint32_t SaTable::allocate_spi() {
    time_t now = time(nullptr);
    if (retired_.size() > 4096) {
        for (auto it = retired_.begin(); it != retired_.end();)
            it = now - it->second > kSpiQuarantine ? retired_.erase(it) : std::next(it);
    }
    for (int tries = 0; tries < 1000; tries++) {
        uint32_t spi;
        if (RAND_bytes(reinterpret_cast<unsigned char *>(&spi), sizeof spi) != 1)
            throw std::runtime_error("RAND_bytes failed");
        if (spi < 256 || by_spi_.count(spi)) continue;
        auto r = retired_.find(spi);
        if (r != retired_.end() && now - r->second <= kSpiQuarantine) continue;
        return spi;
    }
    throw std::runtime_error("cannot find a free SPI");
}

void SaTable::erase(uint32_t spi) {
    if (by_spi_.erase(spi)) retired_[spi] = time(nullptr);
}

}  // namespace lm
