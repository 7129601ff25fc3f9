// SPDX-License-Identifier: MIT
// Roaming: the client watches its own addresses and routes over rtnetlink
// (libmnl, docs/DESIGN.md §1) and learns at once when the underlay changes
// -- an address gone, a new default route -- instead of waiting for its
// keepalives to time out.  What changed is judged by the route to the
// server: the kernel is asked for it again after each burst of events.
//
// Control thread only.  Events on our own TUN device and routes into it
// are not underlay changes and are ignored.
#pragma once
#include <linux/netlink.h>

#include <functional>
#include <memory>
#include <string>

#include "common/addr.h"

struct mnl_socket;

namespace lm {

class EventLoop;

// The kernel's route to one address (`ip route get ADDR`).
struct UnderlayRoute {
    bool found = false;
    IpAddr src;        // RTA_PREFSRC: the source address our packets get
    IpAddr gateway;    // RTA_GATEWAY; unset on a directly connected network
    int oif = 0;       // RTA_OIF
    bool operator==(const UnderlayRoute &o) const {
        return found == o.found && src == o.src && gateway == o.gateway && oif == o.oif;
    }
    // "via 198.51.100.193 on dev wan (from 198.51.100.194)", "none".
    std::string str() const;
};

// Whether one rtnetlink notification can change our underlay: an address
// added or removed, or a route added or removed, on any device other than
// `tun_ifindex`.  Routes of the local table, cached clones and those of
// protocol `own_proto` (routes the daemon added itself) do not count.
// Pure: unit-tested with hand-built messages.
bool underlay_event_relevant(const nlmsghdr *nlh, int tun_ifindex, int own_proto);

// Reads an RTM_NEWROUTE answer to RTM_GETROUTE into *r.  Pure.
bool parse_route_answer(const nlmsghdr *nlh, UnderlayRoute *r);

// Asks the kernel for the route to `dst` in the caller's network
// namespace.  False with *err when it could not be asked; a destination
// with no route gives true and r->found == false.
bool underlay_route_to(const IpAddr &dst, UnderlayRoute *r, std::string *err);

class UnderlayWatch {
public:
    UnderlayWatch();
    ~UnderlayWatch();
    UnderlayWatch(const UnderlayWatch &) = delete;
    UnderlayWatch &operator=(const UnderlayWatch &) = delete;

    // Subscribes to address and route changes (IPv4 and IPv6) and registers
    // in `loop`.  `on_change` runs on the control thread once per burst of
    // relevant events, kDebounceMs after the first.
    bool start(EventLoop &loop, int tun_ifindex, int own_proto, std::function<void()> on_change,
               std::string *err);
    void stop();
    static constexpr int kDebounceMs = 100;
    // Notifications the kernel dropped for us (ENOBUFS): treated as a change.
    uint64_t overruns() const { return overruns_; }

private:
    void on_readable();
    void on_timer();
    void arm();

    EventLoop *loop_ = nullptr;
    mnl_socket *nl_ = nullptr;
    int timer_fd_ = -1;
    int tun_ifindex_ = 0, own_proto_ = 0;
    bool armed_ = false;
    uint64_t overruns_ = 0;
    std::function<void()> on_change_;
};

}  // namespace lm
