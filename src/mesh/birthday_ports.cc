// SPDX-License-Identifier: MIT
#include "mesh/birthday_ports.h"

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lm {

int BirthdayPorts::open(int family, int n, const std::function<void(int fd)> &prepare, std::string *err) {
    close_all();
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) {
        *err = std::string("epoll: ") + strerror(errno);
        return 0;
    }
    for (int i = 0; i < n; i++) {
        int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            if (fds_.empty()) *err = std::string("UDP socket: ") + strerror(errno);
            break;
        }
        if (prepare) prepare(fd);
        sockaddr_storage ss{};
        socklen_t sl;
        if (family == AF_INET6) {
            int one = 1;
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
            reinterpret_cast<sockaddr_in6 &>(ss).sin6_family = AF_INET6;
            sl = sizeof(sockaddr_in6);
        } else {
            reinterpret_cast<sockaddr_in &>(ss).sin_family = AF_INET;
            sl = sizeof(sockaddr_in);
        }
        // Bound now, not at the first send: the port is what we hand over.
        if (bind(fd, reinterpret_cast<sockaddr *>(&ss), sl) < 0 ||
            getsockname(fd, reinterpret_cast<sockaddr *>(&ss), &sl) < 0) {
            if (fds_.empty()) *err = std::string("UDP bind: ") + strerror(errno);
            close(fd);
            break;
        }
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = fds_.size();
        if (epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) < 0) {
            if (fds_.empty()) *err = std::string("epoll_ctl: ") + strerror(errno);
            close(fd);
            break;
        }
        fds_.push_back({fd, Endpoint::from_sockaddr(reinterpret_cast<sockaddr *>(&ss)).port});
    }
    if (fds_.empty()) close_all();
    return int(fds_.size());
}

int BirthdayPorts::send_all(const Endpoint &to, const uint8_t *p, size_t len, int ttl) {
    sockaddr_storage ss;
    socklen_t sl = to.to_sockaddr(&ss);
    int sent = 0;
    for (auto &s : fds_) {
        if (ttl > 0) {
            if (to.addr.family == AF_INET6)
                setsockopt(s.fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl);
            else
                setsockopt(s.fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
        }
        if (sendto(s.fd, p, len, 0, reinterpret_cast<sockaddr *>(&ss), sl) == ssize_t(len)) sent++;
    }
    return sent;
}

void BirthdayPorts::poll(int max, const OnDatagram &f) {
    if (ep_ < 0) return;
    epoll_event evs[32];
    int n = epoll_wait(ep_, evs, 32, 0);
    uint8_t buf[256];
    for (int i = 0; i < n && max > 0; i++) {
        size_t idx = evs[i].data.u64;
        if (idx >= fds_.size()) continue;
        // The callback may close every socket (a hit): copy what we need.
        int fd = fds_[idx].fd;
        uint16_t port = fds_[idx].port;
        while (max > 0) {
            sockaddr_storage from;
            socklen_t fl = sizeof from;
            ssize_t r = recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr *>(&from), &fl);
            if (r < 0) break;   // EAGAIN, or an ICMP error queued for the socket: nothing to read
            max--;
            f(buf, size_t(r), Endpoint::from_sockaddr(reinterpret_cast<sockaddr *>(&from)), port);
            if (!is_open()) return;
        }
    }
}

void BirthdayPorts::close_all() {
    for (auto &s : fds_) close(s.fd);
    fds_.clear();
    if (ep_ >= 0) close(ep_);
    ep_ = -1;
}

}  // namespace lm
