// SPDX-License-Identifier: MIT
#include "client/underlay_watch.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cstring>

#include "common/log.h"
#include "core/loop.h"
#include "net/mnl_request.h"

namespace lm {

namespace {

// An address attribute of `family`'s length, or false.
bool attr_addr(const nlattr *a, int family, IpAddr *out) {
    size_t want = family == AF_INET ? 4 : 16;
    if (mnl_attr_get_payload_len(a) != want) return false;
    IpAddr ip;
    ip.family = family;
    std::memcpy(ip.b, mnl_attr_get_payload(a), want);
    *out = ip;
    return true;
}

struct RouteAttrs {
    int family = 0;
    IpAddr src, gateway;
    int oif = 0;
    bool has_table = false;
    uint32_t table = 0;
};

int route_attr(const nlattr *a, void *data) {
    auto *r = static_cast<RouteAttrs *>(data);
    switch (mnl_attr_get_type(a)) {
    case RTA_PREFSRC: attr_addr(a, r->family, &r->src); break;
    case RTA_GATEWAY: attr_addr(a, r->family, &r->gateway); break;
    case RTA_OIF:
        if (mnl_attr_validate(a, MNL_TYPE_U32) == 0) r->oif = int(mnl_attr_get_u32(a));
        break;
    case RTA_TABLE:
        if (mnl_attr_validate(a, MNL_TYPE_U32) == 0) {
            r->has_table = true;
            r->table = mnl_attr_get_u32(a);
        }
        break;
    }
    return MNL_CB_OK;
}

// The rtmsg of a route message, with its attributes read; null if short.
const rtmsg *read_route(const nlmsghdr *nlh, RouteAttrs *ra) {
    if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(rtmsg))) return nullptr;
    auto *rtm = static_cast<const rtmsg *>(mnl_nlmsg_get_payload(nlh));
    if (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6) return nullptr;
    ra->family = rtm->rtm_family;
    if (mnl_attr_parse(nlh, sizeof(rtmsg), route_attr, ra) < 0) return nullptr;
    return rtm;
}

int on_route_answer(const nlmsghdr *nlh, void *data) {
    parse_route_answer(nlh, static_cast<UnderlayRoute *>(data));
    return MNL_CB_OK;
}

}  // namespace

std::string UnderlayRoute::str() const {
    if (!found) return "none";
    char dev[IF_NAMESIZE] = "";
    std::string s = gateway.is_set() ? "via " + gateway.str() : std::string("direct");
    s += " on dev ";
    s += if_indextoname(unsigned(oif), dev) ? dev : std::to_string(oif);
    if (src.is_set()) s += " (from " + src.str() + ")";
    return s;
}

bool underlay_event_relevant(const nlmsghdr *nlh, int tun_ifindex, int own_proto) {
    switch (nlh->nlmsg_type) {
    case RTM_NEWADDR:
    case RTM_DELADDR: {
        if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(ifaddrmsg))) return false;
        auto *ifa = static_cast<const ifaddrmsg *>(mnl_nlmsg_get_payload(nlh));
        if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6) return false;
        return int(ifa->ifa_index) != tun_ifindex;
    }
    case RTM_NEWROUTE:
    case RTM_DELROUTE: {
        RouteAttrs ra;
        const rtmsg *rtm = read_route(nlh, &ra);
        if (!rtm) return false;
        if (rtm->rtm_flags & RTM_F_CLONED) return false;
        uint32_t table = ra.has_table ? ra.table : rtm->rtm_table;
        // The local table follows the addresses, which are seen anyway.
        if (table == RT_TABLE_LOCAL) return false;
        if (rtm->rtm_protocol == own_proto) return false;
        switch (rtm->rtm_type) {
        case RTN_LOCAL:
        case RTN_BROADCAST:
        case RTN_ANYCAST:
        case RTN_MULTICAST: return false;
        }
        // A route into our own device is the overlay's, not the underlay's.
        return !(tun_ifindex > 0 && ra.oif == tun_ifindex);
    }
    }
    return false;
}

bool parse_route_answer(const nlmsghdr *nlh, UnderlayRoute *r) {
    if (nlh->nlmsg_type != RTM_NEWROUTE) return false;
    RouteAttrs ra;
    const rtmsg *rtm = read_route(nlh, &ra);
    if (!rtm) return false;
    r->found = rtm->rtm_type == RTN_UNICAST || rtm->rtm_type == RTN_LOCAL;
    r->src = ra.src;
    r->gateway = ra.gateway;
    r->oif = ra.oif;
    return true;
}

bool underlay_route_to(const IpAddr &dst, UnderlayRoute *r, std::string *err) {
    *r = UnderlayRoute{};
    char buf[MNL_SOCKET_BUFFER_SIZE];
    nlmsghdr *nlh = mnl_request_start(buf, RTM_GETROUTE);
    auto *rtm = static_cast<rtmsg *>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
    rtm->rtm_family = uint8_t(dst.family);
    rtm->rtm_dst_len = uint8_t(dst.len() * 8);
    mnl_attr_put(nlh, RTA_DST, dst.len(), dst.b);
    int rc = mnl_route_request(nlh, on_route_answer, r, err);
    if (rc <= 0) return rc == 0;
    // No route is an answer too.
    if (rc == ENETUNREACH || rc == EHOSTUNREACH || rc == ENETDOWN) {
        r->found = false;
        return true;
    }
    *err = std::string("netlink: ") + strerror(rc);
    return false;
}

UnderlayWatch::UnderlayWatch() = default;

UnderlayWatch::~UnderlayWatch() { stop(); }

bool UnderlayWatch::start(EventLoop &loop, int tun_ifindex, int own_proto, std::function<void()> on_change,
                          std::string *err) {
    stop();
    nl_ = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK);
    unsigned groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
    if (!nl_ || mnl_socket_bind(nl_, groups, MNL_SOCKET_AUTOPID) < 0) {
        *err = std::string("netlink (address and route changes): ") + strerror(errno);
        stop();
        return false;
    }
    timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (timer_fd_ < 0) {
        *err = std::string("timerfd: ") + strerror(errno);
        stop();
        return false;
    }
    loop_ = &loop;
    tun_ifindex_ = tun_ifindex;
    own_proto_ = own_proto;
    on_change_ = std::move(on_change);
    loop.add(mnl_socket_get_fd(nl_), EPOLLIN, [this](uint32_t) { on_readable(); });
    loop.add(timer_fd_, EPOLLIN, [this](uint32_t) { on_timer(); });
    return true;
}

void UnderlayWatch::stop() {
    if (nl_) {
        if (loop_) loop_->remove(mnl_socket_get_fd(nl_));
        mnl_socket_close(nl_);
        nl_ = nullptr;
    }
    if (timer_fd_ >= 0) {
        if (loop_) loop_->remove(timer_fd_);
        close(timer_fd_);
        timer_fd_ = -1;
    }
    armed_ = false;
}

void UnderlayWatch::arm() {
    if (armed_) return;
    itimerspec its{};
    its.it_value.tv_nsec = long(kDebounceMs) * 1000000;
    if (timerfd_settime(timer_fd_, 0, &its, nullptr) == 0) armed_ = true;
}

void UnderlayWatch::on_readable() {
    alignas(nlmsghdr) char buf[MNL_SOCKET_BUFFER_SIZE];
    // Bounded: at most 64 reads per event; the rest waits for the next round.
    for (int round = 0; round < 64; round++) {
        ssize_t n = mnl_socket_recvfrom(nl_, buf, sizeof buf);
        if (n < 0) {
            if (errno == ENOBUFS) {
                // The kernel dropped notifications: something changed.
                overruns_++;
                arm();
                continue;
            }
            return;   // EAGAIN, or nothing we can act on
        }
        int len = int(n);
        for (auto *nlh = reinterpret_cast<const nlmsghdr *>(buf); mnl_nlmsg_ok(nlh, len);
             nlh = mnl_nlmsg_next(nlh, &len)) {
            if (underlay_event_relevant(nlh, tun_ifindex_, own_proto_)) arm();
        }
    }
}

void UnderlayWatch::on_timer() {
    uint64_t expirations;
    if (read(timer_fd_, &expirations, sizeof expirations) < 0 && errno == EAGAIN) return;
    armed_ = false;
    if (on_change_) on_change_();
}

}  // namespace lm
