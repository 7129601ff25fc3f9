// SPDX-License-Identifier: MIT
#include "data/sa.h"

#include <openssl/rand.h>

#include <algorithm>
#include <stdexcept>

namespace lm {

namespace {
int g_slots = 2;   // one worker and the control thread until Node says otherwise
}

int data_slots() { return g_slots; }
void set_data_slots(int n) { g_slots = n < 1 ? 1 : n; }

bool SaKeys::set(Cipher c, const KeyMaterial &km, bool encrypt) {
    cipher_ = c;
    encrypt_ = encrypt;
    km_ = km;
    for (int i = 0; i < ctx_.size(); i++) ctx_[i].ready = ctx_[i].failed = false;
    return make(0) != nullptr;
}

Aead *SaKeys::make(int slot) {
    Ctx &c = ctx_[slot];
    c.ready = c.aead.init(cipher_, km_, encrypt_);
    c.failed = !c.ready;
    return c.ready ? &c.aead : nullptr;
}

uint64_t InboundSa::packets() const {
    uint64_t n = 0;
    for (int i = 0; i < stats.size(); i++) n += stats[i].packets;
    return n;
}

uint64_t InboundSa::bytes() const {
    uint64_t n = 0;
    for (int i = 0; i < stats.size(); i++) n += stats[i].bytes;
    return n;
}

bool OutboundSa::take_seq(int slot, uint32_t *seq, bool fresh, bool *rekey_due) {
    Stats &s = stats[slot];
    if (fresh) {
        uint64_t n = handed_out_.fetch_add(1, std::memory_order_relaxed) + 1;
        if (n > UINT32_MAX) return false;
        s.next = s.end = 0;
        *seq = uint32_t(n);
    } else {
        // Reading the shared counter costs no cache-line transfer while
        // nobody takes a block; it moves once per kSeqBlock packets.
        uint64_t all = handed_out_.load(std::memory_order_relaxed);
        if (s.next == s.end || all > s.next + kSeqStale) {
            uint64_t first = handed_out_.fetch_add(kSeqBlock, std::memory_order_relaxed) + 1;
            if (first > UINT32_MAX) {
                s.next = s.end = 0;
                return false;
            }
            s.next = first;
            s.end = std::min<uint64_t>(first + kSeqBlock, uint64_t(UINT32_MAX) + 1);
        }
        *seq = uint32_t(s.next++);
    }
    if (*seq > s.last_seq) s.last_seq = *seq;
    // One compare per packet on a line this worker already writes.
    if (*seq >= rekey_at && !s.rekey_told) {
        s.rekey_told = true;
        rekey_due_.store(true, std::memory_order_relaxed);
        if (rekey_due) *rekey_due = true;
    }
    return true;
}

uint64_t OutboundSa::packets() const {
    uint64_t n = 0;
    for (int i = 0; i < stats.size(); i++) n += stats[i].packets;
    return n;
}

uint64_t OutboundSa::bytes() const {
    uint64_t n = 0;
    for (int i = 0; i < stats.size(); i++) n += stats[i].bytes;
    return n;
}

uint32_t OutboundSa::last_seq() const {
    uint32_t m = 0;
    for (int i = 0; i < stats.size(); i++) m = std::max(m, stats[i].last_seq);
    return m;
}

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
