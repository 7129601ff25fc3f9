// SPDX-License-Identifier: MIT
// Slot for seq: block (seq / 32) mod kSlots.  A slot tagged with an older
// block is simply taken over by the first accepted number of a newer one: the
// older block lies a whole ring behind and so outside the window.
#include "esp/replay.h"

namespace lm {

bool ReplayWindow::check(uint32_t seq) const {
    if (seq == 0 || too_old(seq)) return false;
    uint64_t v = slots_[block_of(seq) % kSlots].load(std::memory_order_relaxed);
    uint32_t tag = uint32_t(v >> 32);
    if (tag != block_of(seq)) return tag < block_of(seq);   // newer tag: seq is behind the ring
    return (v & bit_of(seq)) == 0;
}

bool ReplayWindow::update(uint32_t seq, bool *newest) {
    if (newest) *newest = false;
    if (seq == 0 || too_old(seq)) return false;
    uint32_t block = block_of(seq);
    std::atomic<uint64_t> &slot = slots_[block % kSlots];
    uint64_t v = slot.load(std::memory_order_relaxed);
    for (;;) {
        uint32_t tag = uint32_t(v >> 32);
        uint64_t next;
        if (tag > block) return false;
        if (tag == block) {
            if (v & bit_of(seq)) return false;
            next = v | bit_of(seq);
        } else {
            next = (uint64_t(block) << 32) | bit_of(seq);
        }
        if (slot.compare_exchange_weak(v, next, std::memory_order_relaxed)) break;
    }
    uint32_t t = top_.load(std::memory_order_relaxed);
    while (seq > t) {
        if (top_.compare_exchange_weak(t, seq, std::memory_order_relaxed)) {
            if (newest) *newest = true;
            break;
        }
    }
    return true;
}

}  // namespace lm
