// One non-blocking TLS 1.3 connection carrying framed control messages.
// The owner calls on_io() when epoll says the socket is ready and
// wants_write() to decide whether to poll for EPOLLOUT.
#pragma once
#include <openssl/ssl.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "control/frame.h"

namespace lm {

class TlsConn {
public:
    enum class State { handshake, established, closed };
    // Called for each complete frame; return false to stop reading (the
    // connection was closed by the handler).
    using FrameHandler = std::function<bool(MsgType, const std::vector<uint8_t> &)>;

    TlsConn(SSL_CTX *ctx, int fd, bool is_server);
    ~TlsConn();
    TlsConn(const TlsConn &) = delete;
    TlsConn &operator=(const TlsConn &) = delete;

    // Drives the handshake, reads and writes.  Returns false when the
    // connection is finished (peer closed, protocol error or TLS failure);
    // error() then says why in one line.
    bool on_io(const FrameHandler &on_frame);
    // A handshake step is the control thread's longest computation (a key
    // exchange and a signature, about a millisecond) and touches nothing of
    // the data plane: the node lets its workers run meanwhile by setting
    // these (`before` resumes them, `after` pauses them again).
    static void set_handshake_hooks(std::function<void()> before, std::function<void()> after);
    void send(MsgType type, const std::vector<uint8_t> &payload);
    bool flush();
    bool wants_write() const { return !out_.empty(); }
    State state() const { return state_; }
    bool just_established() { bool j = fresh_; fresh_ = false; return j; }
    const std::string &error() const { return error_; }
    SSL *ssl() const { return ssl_; }
    int fd() const { return fd_; }
    uint64_t frames_in() const { return frames_in_; }

private:
    bool fail(std::string why);

    SSL *ssl_ = nullptr;
    int fd_;
    bool is_server_;
    State state_ = State::handshake;
    bool fresh_ = false;
    FrameReader reader_;
    std::vector<uint8_t> out_;
    size_t inflight_ = 0;        // length of a write OpenSSL asked us to repeat
    std::string error_;
    uint64_t frames_in_ = 0;
};

}  // namespace lm
