#include "control/tls_conn.h"

#include <openssl/err.h>
#include <unistd.h>

#include "control/tls.h"

namespace lm {

namespace {
std::function<void()> g_before_handshake, g_after_handshake;
}

void TlsConn::set_handshake_hooks(std::function<void()> before, std::function<void()> after) {
    g_before_handshake = std::move(before);
    g_after_handshake = std::move(after);
}

TlsConn::TlsConn(SSL_CTX *ctx, int fd, bool is_server) : fd_(fd), is_server_(is_server) {
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

bool TlsConn::on_io(const FrameHandler &on_frame) {
    if (state_ == State::closed) return false;
    if (state_ == State::handshake) {
        ERR_clear_error();
        if (g_before_handshake) g_before_handshake();
        int r = SSL_do_handshake(ssl_);
        if (g_after_handshake) g_after_handshake();
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
    for (;;) {
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
                    return fail(std::string("bad control frame: ") + to_string(st));
                frames_in_++;
                if (!on_frame(MsgType(type), payload)) return state_ != State::closed;
            }
            continue;
        }
        int e = SSL_get_error(ssl_, r);
        if (e == SSL_ERROR_WANT_READ) break;
        if (e == SSL_ERROR_WANT_WRITE) break;
        if (e == SSL_ERROR_ZERO_RETURN) return fail("peer closed the connection");
        if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) return fail("connection lost");
        return fail(tls_failure_reason(ssl_, r));
    }
    return flush();
}

void TlsConn::send(MsgType type, const std::vector<uint8_t> &payload) {
    if (state_ == State::closed) return;
    frame_append(&out_, type, payload);
}

bool TlsConn::flush() {
    if (state_ != State::established) return state_ != State::closed;
    while (!out_.empty()) {
        size_t len = inflight_ ? inflight_ : out_.size();
        ERR_clear_error();
        int r = SSL_write(ssl_, out_.data(), int(len));
        if (r > 0) {
            out_.erase(out_.begin(), out_.begin() + r);
            inflight_ = 0;
            continue;
        }
        int e = SSL_get_error(ssl_, r);
        if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
            inflight_ = len;   // OpenSSL wants exactly this write again
            return true;
        }
        return fail(e == SSL_ERROR_SYSCALL ? "connection lost" : tls_failure_reason(ssl_, r));
    }
    return true;
}

}  // namespace lm
