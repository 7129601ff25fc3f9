// SPDX-License-Identifier: MIT
#include "registry/http.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/addr.h"

namespace lm {

namespace {

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); i++) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = char(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = char(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool parse_decimal(std::string_view s, uint64_t max, uint64_t *out) {
    if (s.empty() || s.size() > 19) return false;
    uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + uint64_t(c - '0');
    }
    if (v > max) return false;
    *out = v;
    return true;
}

}  // namespace

HttpResponseParser::State HttpResponseParser::fail(std::string why) {
    err_ = std::move(why);
    return state_ = State::error;
}

bool HttpResponseParser::parse_head(std::string_view head) {
    size_t eol = head.find("\r\n");
    std::string_view status_line = head.substr(0, eol);
    // "HTTP/1.1 200 OK": a version, a three-digit status, a reason.
    if (status_line.size() < 12 || (status_line.substr(0, 9) != "HTTP/1.1 " && status_line.substr(0, 9) != "HTTP/1.0 ")) {
        fail("not an HTTP/1.x response");
        return false;
    }
    uint64_t status = 0;
    if (!parse_decimal(status_line.substr(9, 3), 999, &status) || status < 100 ||
        (status_line.size() > 12 && status_line[12] != ' ')) {
        fail("malformed status line");
        return false;
    }
    resp_.status = int(status);
    bool have_length = false;
    uint64_t length = 0;
    bool chunked = false;
    std::string_view rest = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 2);
    while (!rest.empty()) {
        size_t e = rest.find("\r\n");
        std::string_view line = rest.substr(0, e);
        rest = e == std::string_view::npos ? std::string_view() : rest.substr(e + 2);
        if (line.empty()) continue;
        size_t colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) {
            fail("malformed header line");
            return false;
        }
        std::string_view name = line.substr(0, colon), value = trim(line.substr(colon + 1));
        if (iequals(name, "Content-Length")) {
            uint64_t v = 0;
            if (!parse_decimal(value, kMaxBody, &v) || (have_length && v != length)) {
                fail("bad or too large Content-Length");
                return false;
            }
            have_length = true;
            length = v;
        } else if (iequals(name, "Transfer-Encoding")) {
            if (!iequals(value, "chunked")) {
                fail("unsupported Transfer-Encoding");
                return false;
            }
            chunked = true;
        }
    }
    if (chunked) {
        body_ = Body::chunked;           // RFC 9112 §6.3: chunked wins over a length
    } else if (have_length) {
        body_ = length ? Body::length : Body::none;
        remaining_ = size_t(length);
    } else if (resp_.status == 204 || resp_.status == 304 || resp_.status < 200) {
        body_ = Body::none;
    } else {
        body_ = Body::until_close;
    }
    return true;
}

HttpResponseParser::State HttpResponseParser::feed(const char *p, size_t n) {
    if (state_ != State::more) return state_;
    buf_.append(p, n);
    return parse();
}

HttpResponseParser::State HttpResponseParser::parse() {
    if (!head_done_) {
        size_t end = buf_.find("\r\n\r\n");
        if (end == std::string::npos) {
            if (buf_.size() > kMaxHead) return fail("response head larger than 16 KiB");
            return State::more;
        }
        if (end > kMaxHead) return fail("response head larger than 16 KiB");
        if (!parse_head(std::string_view(buf_).substr(0, end + 2))) return state_;
        buf_.erase(0, end + 4);
        head_done_ = true;
        if (body_ == Body::none) return state_ = State::done;
    }
    switch (body_) {
    case Body::none:
        return state_ = State::done;
    case Body::until_close:
        resp_.body += buf_;
        buf_.clear();
        if (resp_.body.size() > kMaxBody) return fail("response body larger than 4 MiB");
        return State::more;
    case Body::length: {
        size_t take = std::min(remaining_, buf_.size());
        resp_.body.append(buf_, 0, take);
        buf_.erase(0, take);
        remaining_ -= take;
        return remaining_ ? State::more : (state_ = State::done);
    }
    case Body::chunked:
        for (;;) {
            if (in_chunk_data_) {
                // remaining_ counts the chunk's data and its closing CRLF.
                if (remaining_ > 2) {
                    size_t take = std::min(remaining_ - 2, buf_.size());
                    resp_.body.append(buf_, 0, take);
                    buf_.erase(0, take);
                    remaining_ -= take;
                    if (remaining_ > 2) return State::more;
                }
                if (buf_.size() < 2) return State::more;
                if (buf_.compare(0, 2, "\r\n") != 0) return fail("chunk not followed by CRLF");
                buf_.erase(0, 2);
                in_chunk_data_ = false;
                if (first_chunk_only_) return state_ = State::done;
                continue;
            }
            // The same limit whether the line came in one read or in many
            // (found by tests/fuzz/http_response.cc).
            size_t eol = buf_.find("\r\n");
            if (eol == std::string::npos ? buf_.size() > 64 : eol > 64) return fail("chunk size line too long");
            if (eol == std::string::npos) return State::more;
            std::string_view line(buf_.data(), eol);
            size_t semi = line.find(';');     // chunk extensions are ignored
            std::string_view hex = trim(line.substr(0, semi));
            if (hex.empty() || hex.size() > 8) return fail("bad chunk size");
            uint64_t size = 0;
            for (char c : hex) {
                int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                                                            : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
                if (d < 0) return fail("bad chunk size");
                size = size * 16 + uint64_t(d);
            }
            buf_.erase(0, eol + 2);
            if (size == 0) return state_ = State::done;   // trailers, if any, are not read
            if (resp_.body.size() + size > kMaxBody) return fail("response body larger than 4 MiB");
            remaining_ = size_t(size) + 2;
            in_chunk_data_ = true;
        }
    }
    return fail("internal: unknown body kind");
}

HttpResponseParser::State HttpResponseParser::eof() {
    if (state_ != State::more) return state_;
    if (head_done_ && body_ == Body::until_close) return state_ = State::done;
    return fail(head_done_ ? "connection closed in the middle of the body" : "connection closed before a response");
}

namespace {

using Clock = std::chrono::steady_clock;

int ms_left(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left > 0 ? int(left) : 0;
}

// Waits until fd is ready for `events` or the deadline passes.
bool wait_fd(int fd, short events, Clock::time_point deadline) {
    for (;;) {
        int left = ms_left(deadline);
        if (left == 0) return false;
        pollfd p{fd, events, 0};
        int r = poll(&p, 1, left);
        if (r > 0) return true;
        if (r < 0 && errno != EINTR) return false;
    }
}

std::string ssl_error_text() {
    unsigned long e = ERR_get_error();
    ERR_clear_error();
    if (!e) return "TLS failed";
    char b[256];
    ERR_error_string_n(e, b, sizeof b);
    return b;
}

// One TCP (or TLS) connection, closed on destruction.
class Conn {
public:
    ~Conn() {
        if (ssl_) SSL_free(ssl_);
        if (fd_ >= 0) close(fd_);
    }
    bool open(const HttpUrl &url, const HttpClientTls &tls, Clock::time_point deadline, std::string *err);
    bool write_all(std::string_view data, Clock::time_point deadline, std::string *err);
    // >0 bytes read, 0 at end of stream, -1 on error or timeout.
    ssize_t read_some(char *b, size_t n, Clock::time_point deadline, std::string *err);

private:
    bool connect_one(const addrinfo *ai, Clock::time_point deadline, std::string *err);
    bool tls_handshake(const HttpUrl &url, const HttpClientTls &tls, Clock::time_point deadline, std::string *err);
    int fd_ = -1;
    SSL *ssl_ = nullptr;
};

bool Conn::connect_one(const addrinfo *ai, Clock::time_point deadline, std::string *err) {
    fd_ = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd_ < 0) {
        *err = std::string("socket: ") + strerror(errno);
        return false;
    }
    if (::connect(fd_, ai->ai_addr, ai->ai_addrlen) == 0) return true;
    if (errno != EINPROGRESS) {
        *err = strerror(errno);
    } else if (!wait_fd(fd_, POLLOUT, deadline)) {
        *err = "connect timed out";
    } else {
        int soerr = 0;
        socklen_t len = sizeof soerr;
        getsockopt(fd_, SOL_SOCKET, SO_ERROR, &soerr, &len);
        if (soerr == 0) return true;
        *err = strerror(soerr);
    }
    close(fd_);
    fd_ = -1;
    return false;
}

bool Conn::tls_handshake(const HttpUrl &url, const HttpClientTls &tls, Clock::time_point deadline, std::string *err) {
    ssl_ = SSL_new(tls.ctx);
    if (!ssl_ || !SSL_set_fd(ssl_, fd_)) {
        *err = ssl_error_text();
        return false;
    }
    // The certificate must name the host we dialled: its address or its name.
    if (IpAddr::parse(url.host)) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), url.host.c_str());
    } else {
        SSL_set_tlsext_host_name(ssl_, url.host.c_str());
        SSL_set1_host(ssl_, url.host.c_str());
    }
    SSL_set_verify(ssl_, SSL_VERIFY_PEER, nullptr);
    for (;;) {
        int r = SSL_connect(ssl_);
        if (r == 1) return true;
        int e = SSL_get_error(ssl_, r);
        short ev = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
        if (!ev) {
            long v = SSL_get_verify_result(ssl_);
            *err = v != X509_V_OK ? std::string("certificate: ") + X509_verify_cert_error_string(v) : ssl_error_text();
            return false;
        }
        if (!wait_fd(fd_, ev, deadline)) {
            *err = "TLS handshake timed out";
            return false;
        }
    }
}

bool Conn::open(const HttpUrl &url, const HttpClientTls &tls, Clock::time_point deadline, std::string *err) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
    addrinfo *res = nullptr;
    std::string port = std::to_string(url.port);
    int r = getaddrinfo(url.host.c_str(), port.c_str(), &hints, &res);
    if (r != 0) {
        *err = std::string("cannot resolve: ") + gai_strerror(r);
        return false;
    }
    std::string last = "no address";
    bool ok = false;
    for (addrinfo *ai = res; ai && !ok; ai = ai->ai_next) ok = connect_one(ai, deadline, &last);
    freeaddrinfo(res);
    if (!ok) {
        *err = last;
        return false;
    }
    if (url.tls) {
        if (!tls.ctx) {
            *err = "https:// needs the registry's CA";
            return false;
        }
        return tls_handshake(url, tls, deadline, err);
    }
    return true;
}

bool Conn::write_all(std::string_view data, Clock::time_point deadline, std::string *err) {
    while (!data.empty()) {
        ssize_t n;
        short ev = POLLOUT;
        if (ssl_) {
            int r = SSL_write(ssl_, data.data(), int(data.size()));
            if (r > 0) {
                n = r;
            } else {
                int e = SSL_get_error(ssl_, r);
                if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                    *err = ssl_error_text();
                    return false;
                }
                ev = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
                n = 0;
            }
        } else {
            n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
            if (n < 0) {
                if (errno != EAGAIN && errno != EINTR) {
                    *err = std::string("send: ") + strerror(errno);
                    return false;
                }
                n = 0;
            }
        }
        data.remove_prefix(size_t(n));
        if (!data.empty() && n == 0 && !wait_fd(fd_, ev, deadline)) {
            *err = "timed out sending the request";
            return false;
        }
    }
    return true;
}

ssize_t Conn::read_some(char *b, size_t n, Clock::time_point deadline, std::string *err) {
    for (;;) {
        short ev = POLLIN;
        if (ssl_) {
            int r = SSL_read(ssl_, b, int(n));
            if (r > 0) return r;
            int e = SSL_get_error(ssl_, r);
            if (e == SSL_ERROR_ZERO_RETURN) return 0;
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                // A peer that closes without close_notify ends the stream too.
                if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) return 0;
                *err = ssl_error_text();
                return -1;
            }
            ev = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
        } else {
            ssize_t r = recv(fd_, b, n, 0);
            if (r >= 0) return r;
            if (errno != EAGAIN && errno != EINTR) {
                *err = std::string("recv: ") + strerror(errno);
                return -1;
            }
        }
        if (!wait_fd(fd_, ev, deadline)) {
            *err = "timed out waiting for the response";
            return -1;
        }
    }
}

}  // namespace

bool http_post(const HttpUrl &url, std::string_view path, std::string_view body, int timeout_ms,
               const HttpClientTls &tls, bool stop_after_first_chunk, HttpResponse *resp, std::string *err) {
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    Conn c;
    std::string why;
    auto failed = [&](const std::string &what) {
        *err = url.str() + ": " + what;
        return false;
    };
    if (!c.open(url, tls, deadline, &why)) return failed(why);
    std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
    std::string req = "POST " + std::string(path) + " HTTP/1.1\r\nHost: " + host + ":" + std::to_string(url.port) +
                      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                      "\r\nConnection: close\r\n\r\n";
    req.append(body);
    if (!c.write_all(req, deadline, &why)) return failed(why);
    HttpResponseParser parser(stop_after_first_chunk);
    char buf[16384];
    for (;;) {
        ssize_t n = c.read_some(buf, sizeof buf, deadline, &why);
        if (n < 0) return failed(why);
        auto st = n == 0 ? parser.eof() : parser.feed(buf, size_t(n));
        if (st == HttpResponseParser::State::error) return failed(parser.error());
        if (st == HttpResponseParser::State::done) break;
    }
    *resp = parser.response();
    return true;
}

}  // namespace lm
