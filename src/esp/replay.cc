// RFC 6479 ring-bitmap replay window.  Bit for seq: word (seq / 64) mod
// kWords, bit seq mod 64.  The words between the old and the new top word are
// cleared when top advances, so at any time the ring holds exactly the 64
// words ending at top's word, which covers every seq with top - seq < kWindow.
#include "esp/replay.h"

#include <cstring>

namespace lm {

bool ReplayWindow::check(uint32_t seq) const {
    if (seq == 0) return false;
    if (seq > top_) return true;
    if (top_ - seq >= kWindow) return false;  // written this way: seq + kWindow can overflow
    return (bits_[word_of(seq)] & bit_of(seq)) == 0;
}

bool ReplayWindow::update(uint32_t seq) {
    if (!check(seq)) return false;
    if (seq > top_) {
        // Clear the words top moves over; a jump of a whole ring or more
        // clears every word once.  Word numbers stay below 2^26, no overflow.
        uint32_t old_word = top_ >> 6, new_word = seq >> 6;
        uint32_t steps = new_word - old_word;
        if (steps > kWords) steps = kWords;
        for (uint32_t i = 1; i <= steps; i++) bits_[(old_word + i) & (kWords - 1)] = 0;
        top_ = seq;
    }
    bits_[word_of(seq)] |= bit_of(seq);
    return true;
}

void ReplayWindow::reset() {
    std::memset(bits_, 0, sizeof bits_);
    top_ = 0;
}

}  // namespace lm
