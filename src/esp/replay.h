// ESP anti-replay window (RFC 4303 §3.4.3) kept as a ring of 64-bit words
// (RFC 6479): sliding forward clears only the words passed over, never shifts.
// 32-bit sequence numbers, no ESN: the sender rekeys before wrapping, so
// 0xFFFFFFFF is the last number an SA can ever see and 0 is never valid.
//
// Use: check() before decrypting (cheap, no state change), update() only
// after the ICV verified, so forged packets cannot move the window.  Not
// thread-safe: one window belongs to one inbound SA on one worker.
#pragma once
#include <cstdint>

namespace lm {

class ReplayWindow {
public:
    static constexpr uint32_t kWords = 64;  // 64 * 64 bits
    // One word is always the one being refilled, so (kWords - 1) * 64 bits
    // are guaranteed: seq is in the window while top - seq < kWindow.
    static constexpr uint32_t kWindow = (kWords - 1) * 64;  // 4032 usable

    // False if seq == 0, too old (seq + kWindow <= top) or already seen.
    bool check(uint32_t seq) const;
    // Marks seq as seen, sliding the window when seq > top.  False, with no
    // change, for 0, too old, or already seen (two copies in flight at once).
    bool update(uint32_t seq);
    // Highest sequence number accepted so far; 0 before the first.
    uint32_t top() const { return top_; }
    void reset();

private:
    static_assert((kWords & (kWords - 1)) == 0, "ring index uses a mask");
    static uint32_t word_of(uint32_t seq) { return (seq >> 6) & (kWords - 1); }
    static uint64_t bit_of(uint32_t seq) { return uint64_t(1) << (seq & 63); }

    uint64_t bits_[kWords] = {};
    uint32_t top_ = 0;
};

}  // namespace lm
