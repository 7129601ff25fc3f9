// SPDX-License-Identifier: MIT
#include "core/metrics_http.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace lm {

static std::string status_answer(const char *status, const std::string &body, bool with_body,
                                 const char *type = "text/plain; charset=utf-8") {
    std::string a = std::string("HTTP/1.0 ") + status + "\r\nContent-Type: " + type +
                    "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
    if (with_body) a += body;
    return a;
}

std::string metrics_http_answer(std::string_view head, const std::function<std::string()> &render) {
    size_t eol = head.find("\r\n");
    std::string_view line = head.substr(0, eol);
    size_t sp1 = line.find(' ');
    size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos || line.substr(sp2 + 1).rfind("HTTP/1.", 0) != 0)
        return status_answer("400 Bad Request", "bad request\n", true);
    std::string_view method = line.substr(0, sp1), target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    bool head_only = method == "HEAD";
    if (method != "GET" && !head_only) return status_answer("405 Method Not Allowed", "only GET\n", true);
    std::string_view path = target.substr(0, target.find('?'));
    if (path != "/metrics") return status_answer("404 Not Found", "try /metrics\n", !head_only);
    return status_answer("200 OK", render(), !head_only, "text/plain; version=0.0.4; charset=utf-8");
}

bool MetricsListener::open(EventLoop &loop, const Endpoint *tcp, const std::string &unix_path,
                           std::function<std::string()> render, std::string *err) {
    loop_ = &loop;
    render_ = std::move(render);
    sockaddr_storage ss{};
    socklen_t len;
    std::string where;
    if (tcp) {
        len = tcp->to_sockaddr(&ss);
        where = tcp->str();
    } else {
        auto *un = reinterpret_cast<sockaddr_un *>(&ss);
        if (unix_path.size() >= sizeof un->sun_path) {
            *err = "MetricsListen: socket path too long: " + unix_path;
            return false;
        }
        un->sun_family = AF_UNIX;
        std::memcpy(un->sun_path, unix_path.c_str(), unix_path.size() + 1);
        len = socklen_t(sizeof(sa_family_t) + unix_path.size() + 1);
        where = unix_path;
        // A socket file left by a daemon that died is replaced; a live one
        // (someone answers) is not.
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe >= 0 && connect(probe, reinterpret_cast<sockaddr *>(&ss), len) == 0) {
            ::close(probe);
            *err = "MetricsListen: " + unix_path + " is in use by another process";
            return false;
        }
        if (probe >= 0) ::close(probe);
        unlink(unix_path.c_str());
    }
    fd_ = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd_ >= 0 && tcp) setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr *>(&ss), len) != 0 || listen(fd_, 16) != 0) {
        *err = "MetricsListen " + where + ": " + std::strerror(errno);
        close();
        return false;
    }
    if (!tcp) {
        unix_path_ = unix_path;
        // What it serves is what 127.0.0.1 would serve to any local user.
        chmod(unix_path.c_str(), 0666);
    }
    loop_->add(fd_, EPOLLIN, [this](uint32_t) { on_accept(); });
    LM_INFO("metrics: serving Prometheus text on %s%s", where.c_str(), tcp ? "/metrics" : "");
    return true;
}

void MetricsListener::close() {
    for (auto it = conns_.begin(); it != conns_.end(); it = conns_.begin()) drop(it->first);
    if (fd_ >= 0) {
        if (loop_) loop_->remove(fd_);
        ::close(fd_);
        fd_ = -1;
    }
    if (!unix_path_.empty()) {
        unlink(unix_path_.c_str());
        unix_path_.clear();
    }
}

void MetricsListener::on_accept() {
    for (;;) {
        int c = accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0) return;
        if (conns_.size() >= kMaxConns) {
            refused_++;
            ::close(c);
            continue;
        }
        conns_[c].deadline_ms = EventLoop::now_ms() + kTimeoutMs;
        loop_->add(c, EPOLLIN, [this, c](uint32_t ev) { on_event(c, ev); });
    }
}

void MetricsListener::on_event(int fd, uint32_t events) {
    auto it = conns_.find(fd);
    if (it == conns_.end()) return;
    Conn &c = it->second;
    if (c.out.empty() && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
        char buf[1024];
        ssize_t n;
        while ((n = read(fd, buf, sizeof buf)) > 0) {
            c.in.append(buf, size_t(n));
            if (c.in.size() > kMaxRequest) return drop(fd);
        }
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return drop(fd);
        if (c.in.find("\r\n\r\n") == std::string::npos && c.in.find("\n\n") == std::string::npos) return;
        c.out = metrics_http_answer(c.in, render_);
        loop_->modify(fd, EPOLLOUT);
    }
    while (c.sent < c.out.size()) {
        ssize_t n = write(fd, c.out.data() + c.sent, c.out.size() - c.sent);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            return drop(fd);
        }
        c.sent += size_t(n);
    }
    if (!c.out.empty()) drop(fd);
}

void MetricsListener::drop(int fd) {
    loop_->remove(fd);
    ::close(fd);
    conns_.erase(fd);
}

void MetricsListener::tick(int64_t now_ms) {
    for (auto it = conns_.begin(); it != conns_.end();) {
        int fd = it->first;
        ++it;
        if (conns_[fd].deadline_ms <= now_ms) drop(fd);
    }
}

}  // namespace lm
