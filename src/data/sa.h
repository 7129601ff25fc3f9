// Security associations as the data plane sees them, and the table that finds
// an inbound SA by SPI.  The control plane creates and retires SAs; the data
// plane only reads them and bumps their counters.
#pragma once
#include <cstdint>
#include <ctime>
#include <memory>
#include <unordered_map>

#include "config/config.h"
#include "crypto/aead.h"
#include "esp/replay.h"

namespace lm {

struct Tunnel;

struct InboundSa {
    uint32_t spi = 0;
    uint32_t epoch = 0;
    Cipher cipher = Cipher::aes256gcm;
    Aead aead;
    ReplayWindow replay;
    Tunnel *tunnel = nullptr;      // the peer this SA belongs to
    time_t created = 0;
    uint64_t packets = 0, bytes = 0;
};

struct OutboundSa {
    uint32_t spi = 0;              // the peer's inbound SPI
    uint32_t epoch = 0;
    Cipher cipher = Cipher::aes256gcm;
    Aead aead;
    uint32_t seq = 0;              // last sequence number sent; never wraps (no ESN)
    time_t created = 0;
    uint64_t packets = 0, bytes = 0;
};

// SPI -> inbound SA.  SPIs are random, at least 256, unique among this host's
// inbound SAs, and not reused while a recently retired one could still be in
// flight (RFC 4303 §2.1).
class SaTable {
public:
    uint32_t allocate_spi();
    void insert(InboundSa *sa) { by_spi_[sa->spi] = sa; }
    void erase(uint32_t spi);
    InboundSa *find(uint32_t spi) const {
        auto it = by_spi_.find(spi);
        return it == by_spi_.end() ? nullptr : it->second;
    }
    size_t size() const { return by_spi_.size(); }

private:
    std::unordered_map<uint32_t, InboundSa *> by_spi_;
    std::unordered_map<uint32_t, time_t> retired_;   // spi -> when it was retired
};

}  // namespace lm
