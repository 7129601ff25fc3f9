// SPDX-License-Identifier: MIT
// ESP anti-replay window (RFC 4303 §3.4.3) as a ring of tagged bitmap words
// (after RFC 6479), safe for several receiving threads without a lock.
// 32-bit sequence numbers, no ESN: the sender rekeys before wrapping, so
// 0xFFFFFFFF is the last number an SA can ever see and 0 is never valid.
//
// Each ring slot is one 64-bit atomic: the block number (seq / 32) in the high
// half and that block's 32 seen-bits in the low half.  A sequence number is
// accepted only by the compare-and-swap that sets its bit in a slot tagged
// with its own block, and a slot's tag only ever grows, so two threads can
// never both accept one number, and a number whose slot has moved on is
// refused for good.  `top` (the highest number accepted) is advisory: it
// bounds the window and tells address learning what is newest.
//
// Use: check() before decrypting (cheap, no state change), update() only
// after the ICV verified, so forged packets cannot move the window.
#pragma once
#include <atomic>
#include <cstdint>

namespace lm {

class ReplayWindow {
public:
    // 512 * 32 bits, 4 KiB per inbound SA.  Packets of one SA leave from
    // several workers, each sealing a batch before it sends it, and reach the
    // receiver through per-CPU queues: a sender preempted (or a vCPU stolen)
    // between sealing and sending lets the others run ahead by the packets
    // they send meanwhile.  The window is sized for a pause of a few hundred
    // milliseconds at gigabit rates, not for the design spread alone
    // (OutboundSa in data/sa.h, docs/DESIGN.md §7); the ring costs no work
    // per packet whatever its length, only memory.
    static constexpr uint32_t kSlots = 512;
    static constexpr uint32_t kBlockBits = 32;
    // One block is always the one being refilled, so (kSlots - 1) * 32
    // numbers are guaranteed: seq is in the window while top - seq < kWindow.
    static constexpr uint32_t kWindow = (kSlots - 1) * kBlockBits;   // 16352

    // False if seq == 0, too old or already seen.
    bool check(uint32_t seq) const;
    // Marks seq as seen.  False, with no change, for 0, too old, or already
    // seen (two copies in flight at once).  *newest says whether seq became
    // the highest number accepted so far.
    bool update(uint32_t seq, bool *newest = nullptr);
    // Highest sequence number accepted so far; 0 before the first.
    uint32_t top() const { return top_.load(std::memory_order_relaxed); }

private:
    static_assert((kSlots & (kSlots - 1)) == 0, "ring index uses a mask");
    static uint32_t block_of(uint32_t seq) { return seq / kBlockBits; }
    static uint64_t bit_of(uint32_t seq) { return uint64_t(1) << (seq % kBlockBits); }
    bool too_old(uint32_t seq) const {
        uint32_t t = top();
        return seq <= t && t - seq >= kWindow;   // written so nothing overflows
    }

    alignas(64) std::atomic<uint64_t> slots_[kSlots] = {};
    std::atomic<uint32_t> top_{0};
};

}  // namespace lm
