// SPDX-License-Identifier: MIT
// Round-trip time of a control connection, from its keepalive pings: a ping
// carries the sender's monotonic clock in microseconds as its nonce, the
// peer echoes it in the pong, and only the echo of the ping still
// outstanding counts, so a peer cannot feed us a made-up time.  Smoothed as
// TCP smooths its RTT (RFC 6298: 7/8 old, 1/8 new).  Shared by server and
// client; control thread only.
#pragma once
#include <cstdint>

namespace lm {

class RttMeter {
public:
    // The nonce for the next ping, sent at now_us.
    uint64_t ping(int64_t now_us) {
        outstanding_ = uint64_t(now_us > 0 ? now_us : 1);
        return outstanding_;
    }
    // A pong arrived at now_us carrying `nonce`.
    void pong(uint64_t nonce, int64_t now_us) {
        if (nonce == 0 || nonce != outstanding_ || now_us < int64_t(nonce)) return;
        outstanding_ = 0;
        int64_t sample = now_us - int64_t(nonce);
        srtt_us_ = srtt_us_ < 0 ? sample : (7 * srtt_us_ + sample) / 8;
    }
    int64_t srtt_us() const { return srtt_us_; }   // -1 until the first pong
    void reset() { outstanding_ = 0, srtt_us_ = -1; }

private:
    uint64_t outstanding_ = 0;
    int64_t srtt_us_ = -1;
};

}  // namespace lm
