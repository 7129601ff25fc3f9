// SPDX-License-Identifier: MIT
// ESP packets a data-plane engine sealed for a peer whose path is the TLS
// control connection (IP over TLS, the last step of client/path_ladder.h).
//
// Only the control thread may touch TLS, and a worker must never wait for
// it.  So a worker appends the sealed packet here and goes on; the control
// thread takes the whole queue when it next pauses the workers
// (DataWorkers::pause_all, which also delivers the mailbox) and writes each
// packet as an `esp` frame into that peer's TLS session.  The queue is
// touched only under the big-reader lock (the worker's own mutex for one
// batch, or all of them), so it needs no atomics; it is a flat buffer that
// is emptied at once, not a ring.  It is bounded: a full queue drops the
// packet (counted as stream_full), as a congested link would, and TCP inside
// the tunnel backs off.  Pointers to tunnels stay valid because a tunnel is
// deleted only while the workers are paused, after the queue was drained.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace lm {

struct Tunnel;

class StreamQueue {
public:
    static constexpr size_t kBytes = 512 * 1024;

    StreamQueue() : buf_(kBytes) {}
    // False (nothing queued) when the packet does not fit.
    bool push(const Tunnel *t, const uint8_t *p, size_t n) {
        if (n > 0xffff || used_ + kRecordHeader + n > buf_.size()) return false;
        uint8_t *d = buf_.data() + used_;
        std::memcpy(d, &t, sizeof t);
        uint16_t len = uint16_t(n);
        std::memcpy(d + sizeof t, &len, sizeof len);
        std::memcpy(d + kRecordHeader, p, n);
        used_ += kRecordHeader + n;
        return true;
    }
    bool empty() const { return used_ == 0; }
    // Calls f(const Tunnel *, const uint8_t *esp, size_t len) for each
    // packet in order, then empties the queue.
    template <class F>
    void drain(F &&f) {
        size_t off = 0;
        while (off < used_) {
            const Tunnel *t;
            uint16_t len;
            std::memcpy(&t, buf_.data() + off, sizeof t);
            std::memcpy(&len, buf_.data() + off + sizeof t, sizeof len);
            f(t, buf_.data() + off + kRecordHeader, size_t(len));
            off += kRecordHeader + len;
        }
        used_ = 0;
    }

private:
    static constexpr size_t kRecordHeader = sizeof(const Tunnel *) + sizeof(uint16_t);
    std::vector<uint8_t> buf_;
    size_t used_ = 0;
};

}  // namespace lm
