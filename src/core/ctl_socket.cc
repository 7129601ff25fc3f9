// SPDX-License-Identifier: MIT
#include "core/ctl_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "common/json.h"
#include "common/log.h"

namespace lm {

static std::string error_line(const std::string &msg) {
    JsonWriter j;
    j.begin_object().kv("error", msg).end_object();
    return j.str() + "\n";
}

// True when a daemon listens on the socket file: then it is not stale.
// Non-blocking, so a daemon that is stopped with a full backlog (EAGAIN)
// counts as alive instead of hanging us.
static bool someone_listens(const sockaddr_un &sa) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    bool alive = connect(fd, reinterpret_cast<const sockaddr *>(&sa), sizeof sa) == 0 || errno == EAGAIN;
    ::close(fd);
    return alive;
}

bool CtlSocket::open(EventLoop &loop, const std::string &path, gid_t group, Handler h, std::string *err) {
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
    if (someone_listens(sa)) {
        *err = "control socket " + path + " is in use: another lanmeshd runs this network";
        ::close(fd_);
        fd_ = -1;
        return false;
    }
    unlink(path.c_str());   // a stale socket from a crashed run
    mode_t old = umask(0117);   // born 0660: never a moment of wider access
    int r = bind(fd_, reinterpret_cast<sockaddr *>(&sa), sizeof sa);
    umask(old);
    if (r < 0 || listen(fd_, 16) < 0) {
        *err = "control socket " + path + ": " + strerror(errno);
        ::close(fd_);
        fd_ = -1;
        return false;
    }
    path_ = path;
    if (group != gid_t(-1) && fchownat(AT_FDCWD, path.c_str(), 0, group, AT_SYMLINK_NOFOLLOW) < 0)
        LM_WARN("cannot give %s to group %u: %s", path.c_str(), unsigned(group), strerror(errno));
    loop.add(fd_, EPOLLIN, [this](uint32_t) { on_accept(); });
    return true;
}

void CtlSocket::close() {
    if (fd_ < 0) return;
    std::vector<int> fds;
    for (auto &[fd, _] : conns_) fds.push_back(fd);
    for (int fd : fds) drop(fd);
    loop_->remove(fd_);
    ::close(fd_);
    // After a privilege drop this fails when the directory is not ours; the
    // next start replaces the stale socket.
    unlink(path_.c_str());
    fd_ = -1;
}

void CtlSocket::on_accept() {
    for (;;) {
        int c = accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0) return;
        Conn conn;
        ucred cred{};
        socklen_t cl = sizeof cred;
        if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0) conn.uid = cred.uid;
        // A local flood must not exhaust us, nor lock root out.
        size_t limit = conn.uid == 0 ? kMaxCtlConnections : kMaxCtlConnections - kCtlRootSlots;
        if (conns_.size() >= limit) {
            refuse_busy(c);
            continue;
        }
        conn.deadline_ms = EventLoop::now_ms() + kCtlRequestTimeoutMs;
        conns_.emplace(c, std::move(conn));
        loop_->add(c, EPOLLIN, [this, c](uint32_t ev) { on_event(c, ev); });
    }
}

// One try to say why, without waiting: the fresh socket's buffer is empty.
void CtlSocket::refuse_busy(int fd) {
    // Read what already came, so the caller sees the answer and an end of
    // file rather than a reset.
    char tmp[kMaxCtlRequest];
    if (recv(fd, tmp, sizeof tmp, MSG_DONTWAIT) < 0) {
    }
    std::string line = error_line(kCtlBusy);
    if (send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
    }
    ::close(fd);
}

void CtlSocket::on_event(int fd, uint32_t events) {
    auto it = conns_.find(fd);
    if (it == conns_.end()) return;
    Conn &c = it->second;
    if (events & EPOLLERR) return drop(fd);
    if (!c.answered) {
        if ((events & (EPOLLIN | EPOLLHUP)) && !read_request(fd, c)) return;   // incomplete, or dropped
    } else if (c.subscribed && (events & (EPOLLIN | EPOLLHUP))) {
        // A monitor has nothing more to say: anything it sends is ignored,
        // and end of file means it is gone.
        char tmp[512];
        ssize_t n;
        while ((n = read(fd, tmp, sizeof tmp)) > 0) {
        }
        if (n == 0 || errno != EAGAIN) return drop(fd);
    } else if (events & EPOLLHUP) {
        return drop(fd);
    }
    if (!flush(fd, c)) return drop(fd);
    if (c.answered && !c.subscribed && c.out.empty()) drop(fd);
}

// True once the request is complete and answered; false while it is still
// arriving or when the connection was dropped.
bool CtlSocket::read_request(int fd, Conn &c) {
    char tmp[1024];
    for (;;) {
        ssize_t n = read(fd, tmp, sizeof tmp);
        if (n > 0) {
            c.in.append(tmp, size_t(n));
            if (c.in.size() > kMaxCtlRequest) {
                answer(fd, c, true);
                return true;
            }
            if (c.in.find('\n') != std::string::npos) break;
            continue;
        }
        if (n == 0 && !c.in.empty()) break;   // EOF without newline: take what we have
        if (n < 0 && errno == EAGAIN) return false;
        drop(fd);
        return false;
    }
    answer(fd, c, false);
    return true;
}

void CtlSocket::answer(int, Conn &c, bool bad) {
    c.answered = true;
    if (bad) {
        c.out += error_line("request too long (limit " + std::to_string(kMaxCtlRequest) + " bytes)");
        return;
    }
    std::string req = c.in.substr(0, c.in.find('\n'));
    if (!req.empty() && req.back() == '\r') req.pop_back();
    c.in.clear();
    CtlReply r = handler_(req, c.uid);
    if (r.subscribe) {
        size_t monitors = 0;
        for (auto &[_, other] : conns_) monitors += other.subscribed != 0;
        if (monitors >= kMaxCtlMonitors) {
            c.out += error_line("too many monitors (limit " + std::to_string(kMaxCtlMonitors) + ")");
            return;
        }
    }
    c.out += r.body;
    c.subscribed = r.subscribe;
}

bool CtlSocket::flush(int fd, Conn &c) {
    while (!c.out.empty()) {
        ssize_t n = send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            c.out.erase(0, size_t(n));
            continue;
        }
        if (n < 0 && errno == EAGAIN) break;
        return false;
    }
    // A one-shot connection that has its answer is not read any more: a
    // client that half-closed would otherwise wake us for its end of file
    // until the answer is out.
    uint32_t in = c.answered && !c.subscribed ? 0u : uint32_t(EPOLLIN);
    loop_->modify(fd, in | (c.out.empty() ? 0u : uint32_t(EPOLLOUT)));
    return true;
}

void CtlSocket::drop(int fd) {
    if (!conns_.erase(fd)) return;
    loop_->remove(fd);
    ::close(fd);
}

void CtlSocket::tick(int64_t now_ms) {
    std::vector<int> late;
    for (auto &[fd, c] : conns_)
        if (!c.answered && now_ms >= c.deadline_ms) late.push_back(fd);
    for (int fd : late) drop(fd);
}

bool CtlSocket::has_subscribers(unsigned kinds) const {
    for (auto &[_, c] : conns_)
        if (c.subscribed & kinds) return true;
    return false;
}

void CtlSocket::publish(unsigned kinds, const std::string &line) {
    std::vector<int> gone;
    for (auto &[fd, c] : conns_) {
        if (!(c.subscribed & kinds)) continue;
        if (c.out.size() + line.size() > kMaxCtlBacklog) {
            LM_WARN("a monitor on %s does not read its events; disconnected", path_.c_str());
            gone.push_back(fd);
            continue;
        }
        c.out += line;
        if (!flush(fd, c)) gone.push_back(fd);
    }
    for (int fd : gone) drop(fd);
}

}  // namespace lm
