// SPDX-License-Identifier: MIT
#include "control/tls_conn.h"

#include <openssl/err.h>
#include <time.h>
#include <unistd.h>

#include "control/tls.h"

namespace lm {

namespace {
int64_t monotonic_ms() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// The peer closed with a TLS alert (refusing our certificate, say): a
// deliberate end, not a protocol error.
bool alert_received() {
    unsigned long code = ERR_peek_error();
    return ERR_GET_LIB(code) == ERR_LIB_SSL && ERR_GET_REASON(code) >= SSL_AD_REASON_OFFSET;
}

ProtoError frame_error(FrameReader::Status s) {
    switch (s) {
    case FrameReader::Status::bad_version: return ProtoError::bad_version;
    case FrameReader::Status::too_large: return ProtoError::bad_length;
    default: return ProtoError::unknown_type;
    }
}
}  // namespace

TlsConn::TlsConn(SSL_CTX *ctx, int fd, bool is_server, StepRunner handshake_runner)
    : fd_(fd), is_server_(is_server), handshake_runner_(std::move(handshake_runner)) {
    ssl_ = SSL_new(ctx);
    SSL_set_fd(ssl_, fd);
    // A retried write may come from a buffer that has since grown.
    SSL_set_mode(ssl_, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (is_server)
        SSL_set_accept_state(ssl_);
    else
        SSL_set_connect_state(ssl_);
}

TlsConn::~TlsConn() {
    if (ssl_) {
        if (state_ == State::established) SSL_shutdown(ssl_);
        SSL_free(ssl_);
    }
    close(fd_);
}

bool TlsConn::fail(std::string why) {
    state_ = State::closed;
    error_ = std::move(why);
    ERR_clear_error();
    return false;
}

bool TlsConn::fail_protocol(ProtoError e, std::string why) {
    broken_ = true;
    proto_error_ = e;
    error_ = std::move(why);
    ERR_clear_error();
    return false;
}

bool TlsConn::on_io(const FrameHandler &on_frame) {
    if (state_ == State::closed || broken_) return false;
    if (state_ == State::handshake) {
        ERR_clear_error();
        int r = 0;
        auto step = [&] { r = SSL_do_handshake(ssl_); };
        if (handshake_runner_)
            handshake_runner_(step);
        else
            step();
        if (r != 1) {
            int e = SSL_get_error(ssl_, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return true;
            return fail(tls_failure_reason(ssl_, r));
        }
        state_ = State::established;
        fresh_ = true;
    }
    if (!flush()) return false;
    uint8_t buf[16384];
    // While the output queue is full nothing is read: the peer's requests
    // wait in its socket until it reads our answers.
    for (int records = 0; records < kMaxRecordsPerIo && wants_read(); records++) {
        ERR_clear_error();
        int r = SSL_read(ssl_, buf, sizeof buf);
        if (r > 0) {
            reader_.feed(buf, size_t(r));
            for (;;) {
                uint8_t type;
                std::vector<uint8_t> payload;
                auto st = reader_.next(&type, &payload);
                if (st == FrameReader::Status::need_more) break;
                if (st != FrameReader::Status::ok)
                    return fail_protocol(frame_error(st), std::string("bad control frame: ") + to_string(st));
                frames_in_++;
                if (!on_frame(MsgType(type), payload)) return state_ != State::closed;
                if (state_ == State::closed) return false;   // a send overflowed
            }
            continue;
        }
        int e = SSL_get_error(ssl_, r);
        if (e == SSL_ERROR_WANT_READ) break;
        if (e == SSL_ERROR_WANT_WRITE) break;
        if (e == SSL_ERROR_ZERO_RETURN) return fail("peer closed the connection");
        if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) return fail("connection lost");
        if (!alert_received()) proto_error_ = ProtoError::tls_error;
        return fail(tls_failure_reason(ssl_, r));
    }
    return flush();
}

void TlsConn::send(MsgType type, const std::vector<uint8_t> &payload) { send(type, payload.data(), payload.size()); }

void TlsConn::send(MsgType type, const uint8_t *p, size_t n) {
    if (state_ == State::closed) return;
    if (pending_out() + kFrameHeader + n > kOutputHardLimit) {
        overflow_ = true;
        fail("output queue full (over " + std::to_string(kOutputHardLimit / 1024) + " KiB): the peer does not read");
        return;
    }
    frame_append(&out_, uint8_t(type), p, n);
    note_output();
}

// Keeps full_since_ms_ and gives memory back once a backlog has drained.
void TlsConn::note_output() {
    size_t pending = pending_out();
    if (pending >= kOutputHighWater) {
        if (!full_since_ms_) full_since_ms_ = monotonic_ms();
    } else {
        full_since_ms_ = 0;
    }
    if (pending == 0) {
        out_head_ = 0;
        if (out_.capacity() > 2 * kMaxFrame)
            std::vector<uint8_t>().swap(out_);
        else
            out_.clear();
    } else if (out_head_ >= kOutputHighWater / 4 && out_head_ >= pending) {
        // Written bytes are dropped in bulk, not one SSL_write at a time.
        out_.erase(out_.begin(), out_.begin() + ptrdiff_t(out_head_));
        out_head_ = 0;
    }
}

bool TlsConn::flush() {
    if (state_ != State::established) return state_ != State::closed;
    while (pending_out() > 0) {
        size_t len = inflight_ ? inflight_ : pending_out();
        ERR_clear_error();
        int r = SSL_write(ssl_, out_.data() + out_head_, int(len));
        if (r > 0) {
            out_head_ += size_t(r);
            inflight_ = 0;
            continue;
        }
        int e = SSL_get_error(ssl_, r);
        if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
            inflight_ = len;   // OpenSSL wants exactly this write again
            note_output();
            return true;
        }
        note_output();
        if (e == SSL_ERROR_SYSCALL) return fail("connection lost");
        proto_error_ = ProtoError::tls_error;
        return fail(tls_failure_reason(ssl_, r));
    }
    note_output();
    return true;
}

}  // namespace lm
