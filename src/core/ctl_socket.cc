#include "core/ctl_socket.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

namespace lm {

static constexpr size_t kMaxRequest = 4096;

bool CtlSocket::open(EventLoop &loop, const std::string &path, Handler h, std::string *err) {
    loop_ = &loop;
    handler_ = std::move(h);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (path.size() >= sizeof sa.sun_path) {
        *err = "control socket path too long: " + path;
        return false;
    }
    std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
        *err = std::string("control socket: ") + strerror(errno);
        return false;
    }
    unlink(path.c_str());   // a stale socket from a crashed run
    mode_t old = umask(0117);
    int r = bind(fd_, reinterpret_cast<sockaddr *>(&sa), sizeof sa);
    umask(old);
    if (r < 0 || listen(fd_, 16) < 0) {
        *err = "control socket " + path + ": " + strerror(errno);
        ::close(fd_);
        fd_ = -1;
        return false;
    }
    path_ = path;
    loop.add(fd_, EPOLLIN, [this](uint32_t) { on_accept(); });
    return true;
}

void CtlSocket::close() {
    if (fd_ < 0) return;
    for (auto &[fd, _] : pending_) {
        loop_->remove(fd);
        ::close(fd);
    }
    pending_.clear();
    loop_->remove(fd_);
    ::close(fd_);
    unlink(path_.c_str());
    fd_ = -1;
}

void CtlSocket::on_accept() {
    for (;;) {
        int c = accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0) return;
        if (pending_.size() >= 64) {   // a local flood must not exhaust us
            ::close(c);
            continue;
        }
        pending_[c];
        loop_->add(c, EPOLLIN, [this, c](uint32_t) { on_client(c); });
    }
}

void CtlSocket::on_client(int fd) {
    auto &buf = pending_[fd];
    char tmp[1024];
    bool done = false, bad = false;
    for (;;) {
        ssize_t n = read(fd, tmp, sizeof tmp);
        if (n > 0) {
            buf.append(tmp, size_t(n));
            if (buf.size() > kMaxRequest) bad = done = true;
            if (buf.find('\n') != std::string::npos) done = true;
            if (done) break;
            continue;
        }
        if (n == 0) done = true;            // EOF without newline: take what we have
        else if (errno != EAGAIN) bad = done = true;
        break;
    }
    if (!done) return;
    std::string resp;
    if (bad) {
        resp = "{\"error\":\"request too long or unreadable\"}\n";
    } else {
        ucred cred{};
        socklen_t cl = sizeof cred;
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl);
        std::string req = buf.substr(0, buf.find('\n'));
        resp = handler_(req, cred.uid);
    }
    // Responses are small; a blocking-free best effort write is enough for
    // a local client that is waiting for them.
    size_t off = 0;
    int waits = 0;
    while (off < resp.size()) {
        ssize_t w = write(fd, resp.data() + off, resp.size() - off);
        if (w <= 0) {
            if (w < 0 && errno == EAGAIN && ++waits < 1000) {
                usleep(1000);
                continue;
            }
            break;
        }
        off += size_t(w);
    }
    loop_->remove(fd);
    ::close(fd);
    pending_.erase(fd);
}

}  // namespace lm
