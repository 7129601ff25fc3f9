// SPDX-License-Identifier: MIT
#include "client/mtu_search.h"

namespace lm {

void MtuSearch::start(unsigned lo, unsigned hi, int64_t now_ms) {
    lo_ = lo;
    hi_ = hi < lo ? lo : hi;
    good_ = 0;
    bad_ = hi_ + 1;
    cur_ = 0;
    tries_ = 0;
    sent_ms_ = now_ms - kSpacingMs;
    running_ = true;
}

unsigned MtuSearch::next() const {
    if (good_ >= hi_) return 0;
    if (good_ == 0) {
        if (bad_ > hi_) return hi_;
        return bad_ > lo_ ? lo_ : 0;
    }
    if (bad_ - good_ <= kStep) return 0;
    return good_ + (bad_ - good_) / 2;
}

unsigned MtuSearch::due(int64_t now_ms, uint16_t *id) {
    if (!running_) return 0;
    if (cur_) {
        if (now_ms - sent_ms_ < kWaitMs) return 0;
        if (++tries_ >= kTries) {
            bad_ = cur_;   // lost twice: too big for the path
            cur_ = 0;
        }
    } else if (now_ms - sent_ms_ < kSpacingMs) {
        return 0;
    }
    if (!cur_) {
        cur_ = next();
        tries_ = 0;
        if (!cur_) {
            running_ = false;
            return 0;
        }
    }
    id_ = next_id_++;
    if (next_id_ == 0) next_id_ = 1;
    sent_ms_ = now_ms;
    *id = id_;
    return cur_;
}

void MtuSearch::limit(unsigned max) {
    if (!running_ || max + 1 >= bad_) return;
    bad_ = max + 1;
    if (cur_ > max) {
        cur_ = 0;
        sent_ms_ -= kSpacingMs;   // no reason to wait: the next one may go now
    }
}

void MtuSearch::answered(uint16_t id) {
    if (!running_ || !cur_ || id != id_) return;
    if (cur_ > good_) good_ = cur_;
    cur_ = 0;
}

}  // namespace lm
