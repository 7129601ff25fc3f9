// SPDX-License-Identifier: MIT
#include "mesh/nat_depth.h"

#include <linux/errqueue.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "core/loop.h"

namespace lm {

int NatDepth::depth_from(int max_te, int min_unreach) {
    if (min_unreach > 0) {
        // A TTL that timed out must be shorter than one that arrived.
        if (max_te >= min_unreach) return 0;
        return min_unreach;
    }
    return max_te > 0 ? max_te + 1 : 0;
}

void NatDepth::close_socket() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
}

void NatDepth::start(const IpAddr &pub, int64_t now, int max_ttl) {
    close_socket();
    max_te_ = min_unreach_ = 0;
    if (pub.family != AF_INET) return;
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return;
    int on = 1;
    if (setsockopt(fd_, IPPROTO_IP, IP_RECVERR, &on, sizeof on) < 0) {
        close_socket();
        return;
    }
    started_ = now;
    pub_ = pub;
    for (int ttl = 1; ttl <= std::min<int>(max_ttl, kMaxHops); ttl++) {
        Endpoint to{pub, uint16_t(kBasePort + ttl)};
        sockaddr_storage ss;
        socklen_t sl = to.to_sockaddr(&ss);
        uint8_t b = uint8_t(ttl);
        setsockopt(fd_, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
        // An ICMP error already back is reported by the next send, which
        // then sends nothing: send again.
        for (int k = 0; k < 3; k++)
            if (sendto(fd_, &b, 1, 0, reinterpret_cast<sockaddr *>(&ss), sl) >= 0) break;
    }
}

void NatDepth::poll(int64_t now) {
    if (fd_ < 0) return;
    for (int i = 0; i < 4 * kMaxHops; i++) {
        uint8_t data[64];
        sockaddr_storage name;
        alignas(cmsghdr) uint8_t ctl[256];
        iovec iov{data, sizeof data};
        msghdr mh{};
        mh.msg_name = &name;
        mh.msg_namelen = sizeof name;
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        mh.msg_control = ctl;
        mh.msg_controllen = sizeof ctl;
        ssize_t n = recvmsg(fd_, &mh, MSG_ERRQUEUE | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            if (errno == EINTR) continue;
            break;
        }
        Endpoint dst = Endpoint::from_sockaddr(reinterpret_cast<sockaddr *>(&name));
        int ttl = int(dst.port) - int(kBasePort);
        if (ttl < 1 || ttl > kMaxHops) continue;
        for (cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
            if (cm->cmsg_level != IPPROTO_IP || cm->cmsg_type != IP_RECVERR) continue;
            sock_extended_err ee;
            sockaddr_in off{};
            if (cm->cmsg_len < CMSG_LEN(sizeof ee + sizeof off)) continue;
            std::memcpy(&ee, CMSG_DATA(cm), sizeof ee);
            std::memcpy(&off, CMSG_DATA(cm) + sizeof ee, sizeof off);   // SO_EE_OFFENDER
            if (ee.ee_origin != SO_EE_ORIGIN_ICMP) continue;
            Endpoint from = Endpoint::from_sockaddr(reinterpret_cast<sockaddr *>(&off));
            if (ee.ee_type == ICMP_TIME_EXCEEDED) {
                if (ttl > max_te_) max_te_ = ttl;
            } else if (ee.ee_type == ICMP_DEST_UNREACH && ee.ee_code == ICMP_PORT_UNREACH && from.addr == pub_) {
                // Only the owner of our public address counts as arrival.
                if (!min_unreach_ || ttl < min_unreach_) min_unreach_ = ttl;
            }
        }
    }
    // Every TTL answered once: no need to wait for the rest.
    if (now - started_ >= kWaitMs || (min_unreach_ && max_te_ == min_unreach_ - 1)) finish();
}

void NatDepth::await(int ttl, int max_ms) {
    int64_t t0 = EventLoop::now_ms();
    for (;;) {
        if (fd_ < 0 || (min_unreach_ && min_unreach_ <= ttl) || max_te_ >= ttl) return;
        int64_t left = max_ms - (EventLoop::now_ms() - t0);
        if (left <= 0) return;
        pollfd pf{fd_, 0, 0};   // errors (the ICMP answers) wake it without asking
        ::poll(&pf, 1, int(left));
        int64_t t = EventLoop::now_ms();
        // Not finishing on time here: the caller's next poll() does.
        if (t - started_ < kWaitMs) poll(t);
        else return;
    }
}

void NatDepth::finish() {
    close_socket();
    int d = depth_from(max_te_, min_unreach_);
    int ttl = ttl_for_depth(d);
    if (!quiet_ && (d != depth_ || ttl != ttl_))
        LM_INFO("NAT depth toward the internet: %s (time exceeded up to TTL %d, port unreachable from TTL %d); "
                "hole-punch openers leave with TTL %d",
                d ? (std::to_string(d) + (d == 1 ? " NAT" : " NATs")).c_str() : "unknown", max_te_, min_unreach_, ttl);
    depth_ = d;
    ttl_ = ttl;
}

}  // namespace lm
