// SPDX-License-Identifier: MIT
// One non-blocking TLS 1.3 connection carrying framed control messages.
// The owner calls on_io() when epoll says the socket is ready and
// wants_read()/wants_write() to decide what to poll for.
//
// The output queue is bounded (every input is hostile, docs/DESIGN.md §2): above
// kOutputHighWater the connection stops reading, so a peer that sends
// requests without reading the answers stops being served instead of
// filling our memory; the owner cuts a connection whose queue stays that
// full for kOutputFullCutMs; and a queue that would pass kOutputHardLimit
// (our own messages pile up unread) fails the connection at once.
#pragma once
#include <openssl/ssl.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "control/frame.h"
#include "control/proto_error.h"

namespace lm {

constexpr size_t kOutputHighWater = 256 * 1024;
constexpr size_t kOutputHardLimit = 4 * 1024 * 1024;
constexpr int64_t kOutputFullCutMs = 5000;
// TLS records read per on_io() call: one busy peer cannot hold the loop.
constexpr int kMaxRecordsPerIo = 64;

class TlsConn {
public:
    enum class State { handshake, established, closed };
    // Called for each complete frame; return false to stop reading (the
    // connection was closed by the handler).
    using FrameHandler = std::function<bool(MsgType, const std::vector<uint8_t> &)>;
    // Runs one handshake step.  A step is the control thread's longest
    // computation (a key exchange and a signature, about a millisecond) and
    // touches nothing of the data plane: the node's runner lets its workers
    // run meanwhile (EventLoop::unguarded).  Empty: the step runs in place.
    using StepRunner = std::function<void(const std::function<void()> &step)>;

    TlsConn(SSL_CTX *ctx, int fd, bool is_server, StepRunner handshake_runner = {});
    ~TlsConn();
    TlsConn(const TlsConn &) = delete;
    TlsConn &operator=(const TlsConn &) = delete;

    // Drives the handshake, reads and writes.  Returns false when the
    // connection is finished (peer closed, protocol error or TLS failure);
    // error() then says why in one line, and proto_error() which rule the
    // peer broke, if it broke one after the handshake.
    bool on_io(const FrameHandler &on_frame);
    void send(MsgType type, const std::vector<uint8_t> &payload);
    void send(MsgType type, const uint8_t *p, size_t n);
    bool flush();
    bool wants_write() const { return pending_out() > 0; }
    // False while the output queue is above kOutputHighWater (back-pressure).
    bool wants_read() const { return pending_out() < kOutputHighWater; }
    size_t pending_out() const { return out_.size() - out_head_; }
    // CLOCK_MONOTONIC ms since when the queue has been above
    // kOutputHighWater; 0 when it is not.
    int64_t full_since_ms() const { return full_since_ms_; }
    bool output_overflow() const { return overflow_; }
    std::optional<ProtoError> proto_error() const { return proto_error_; }
    // TLS still works: a bye can tell the peer why we close (not after a
    // TLS failure or a lost connection).
    bool can_send() const { return state_ == State::established; }
    State state() const { return state_; }
    bool just_established() { bool j = fresh_; fresh_ = false; return j; }
    const std::string &error() const { return error_; }
    SSL *ssl() const { return ssl_; }
    int fd() const { return fd_; }
    uint64_t frames_in() const { return frames_in_; }

private:
    bool fail(std::string why);
    // The peer broke the framing: no more reading, but TLS still works.
    bool fail_protocol(ProtoError e, std::string why);
    void note_output();

    SSL *ssl_ = nullptr;
    int fd_;
    bool is_server_;
    StepRunner handshake_runner_;
    State state_ = State::handshake;
    bool fresh_ = false;
    bool broken_ = false;            // input unusable (bad frame); output still works
    bool overflow_ = false;
    std::optional<ProtoError> proto_error_;
    FrameReader reader_;
    std::vector<uint8_t> out_;
    size_t out_head_ = 0;            // bytes of out_ already written
    size_t inflight_ = 0;            // length of a write OpenSSL asked us to repeat
    int64_t full_since_ms_ = 0;
    std::string error_;
    uint64_t frames_in_ = 0;
};

}  // namespace lm
