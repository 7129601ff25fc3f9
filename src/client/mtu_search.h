// SPDX-License-Identifier: MIT
// The client's search for the largest outer packet that makes the round trip
// to the server (data/mtu_probe.h, docs/PROTOCOLS.md §4): one probe in
// flight at a time, the largest candidate first (the usual answer: nothing
// in the way is smaller than our own link), then the smallest, then halves
// in between.  A probe without an echo within kWaitMs is sent once more
// before its size counts as lost: a lost packet is not a black hole.
// Pure logic over times the caller gives; unit-tested on its own.
#pragma once
#include <cstdint>

namespace lm {

class MtuSearch {
public:
    static constexpr int64_t kWaitMs = 1000;     // for an echo
    static constexpr int64_t kSpacingMs = 500;   // between probes: the server answers 4 a second
    static constexpr int kTries = 2;             // sends of one size before it counts as lost
    static constexpr unsigned kStep = 8;         // the search ends this close to the limit

    // A search between lo and hi outer bytes (lo <= hi).
    void start(unsigned lo, unsigned hi, int64_t now_ms);
    // The probe to send now, if one is due: its size; *id is its number.
    // Each call that returns a size counts as a send.
    unsigned due(int64_t now_ms, uint16_t *id);
    // An echo of probe `id` came back.
    void answered(uint16_t id);
    // The kernel now knows the path takes at most `max` (ICMP reached it):
    // larger sizes count as lost at once, the one in flight too.
    void limit(unsigned max);

    bool running() const { return running_; }
    // Once finished: the largest size answered, 0 if none (not even lo).
    unsigned result() const { return good_; }

private:
    unsigned next() const;   // the size to try next, 0 when finished

    unsigned lo_ = 0, hi_ = 0;
    unsigned good_ = 0;      // largest size echoed
    unsigned bad_ = 0;       // smallest size lost
    unsigned cur_ = 0;       // size in flight, 0 = none
    uint16_t id_ = 0, next_id_ = 1;
    int tries_ = 0;
    int64_t sent_ms_ = 0;
    bool running_ = false;
};

}  // namespace lm
