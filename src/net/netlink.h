// SPDX-License-Identifier: MIT
// Interface configuration over rtnetlink (libnl-route-3), docs/PROTOCOLS.md §7:
// bring the TUN device up, add addresses and routes, and take back exactly
// what was added when the daemon stops.
//
// Control path only; one Netlink object is not safe to share between threads.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/addr.h"

struct nl_sock;  // libnl; kept out of this header so users need no libnl includes

namespace lm {

// Routes we add carry this rtm_protocol so `ip route show proto 250` (or
// `proto lanmesh` with a line "250 lanmesh" in /etc/iproute2/rt_protos.d/) lists
// exactly ours, and a crashed daemon's leftovers can be flushed by protocol.
// 250 is unassigned in iproute2's rt_protos and far from the well-known
// routing daemons (bird 12, babel 42, bgp 186, ...).
inline constexpr int kRouteProto = 250;
inline constexpr uint32_t kMainTable = 254;   // RT_TABLE_MAIN

class Netlink {
  public:
    Netlink();
    // Frees the socket only.  Deliberately does not remove anything: a
    // daemon that exits through an error path should not half-tear-down state
    // behind the caller's back.  Call cleanup() for that.
    ~Netlink();
    Netlink(const Netlink &) = delete;
    Netlink &operator=(const Netlink &) = delete;

    // Connects the NETLINK_ROUTE socket (close-on-exec).  The socket belongs to
    // the network namespace the caller is in at this moment.
    bool open(std::string *err);

    // `ip link set dev DEV up mtu MTU`; mtu <= 0 leaves the MTU alone.  Not
    // undone by cleanup(): a TUN device disappears with its last fd anyway.
    bool link_up(const std::string &dev, int mtu, std::string *err);

    // IPv4 with peer: `ip addr add dev DEV local LOCAL peer PEER/PREFIXLEN`
    // (net30/p2p).  IPv4 without peer: `LOCAL/PREFIXLEN`, plus the broadcast
    // address for prefixes up to /30 as OpenVPN does.  IPv6: `LOCAL/PREFIXLEN`
    // only; a peer is rejected (libnl cannot send one, and no topology needs it).
    bool addr_add(const std::string &dev, const IpAddr &local, int prefixlen,
                  const IpAddr *peer, std::string *err);

    // `ip route add DST [via VIA] dev DEV proto 250 [table TABLE]`, table
    // main unless given (kMainTable); a full tunnel's routes go in a table
    // of their own (net/policy_rules.h).  Exclusive:
    // an existing identical route fails with "...: File exists" and is not
    // recorded, so cleanup() never removes a route someone else owns.
    // Add gateway routes after link_up() (the kernel wants the device up).
    bool route_add(const std::string &dev, const Prefix &dst, const IpAddr *via,
                   std::string *err, uint32_t table = kMainTable);
    // Deletes a route (only one with protocol kRouteProto) and forgets it.
    bool route_del(const std::string &dev, const Prefix &dst, const IpAddr *via,
                   std::string *err, uint32_t table = kMainTable);
    // The same for a route this object added to `dst` on `dev`, with the
    // gateway and table it was added with (none, main if it was not added here).
    bool route_del(const std::string &dev, const Prefix &dst, std::string *err);

    // Removes every address and route this object added, newest first.
    // Entries that are already gone (device closed, removed by hand) are
    // skipped quietly; other failures are logged.  Afterwards nothing is
    // remembered, so calling it twice is harmless.
    void cleanup();

  private:
    // One undo-journal entry: what was added, in the form needed to delete it.
    struct Added {
        bool is_route = false;
        std::string dev;      // for messages only; deletion goes by ifindex
        int ifindex = 0;
        IpAddr local;         // address entries
        int prefixlen = 0;
        IpAddr peer;
        Prefix dst;           // route entries
        IpAddr via;
        uint32_t table = kMainTable;
    };

    bool ifindex(const std::string &dev, int *index, std::string *err);
    int addr_change(bool add, const Added &a);
    int route_change(bool add, const Added &r);
    std::string error_text(int nlerr) const;

    nl_sock *sk_ = nullptr;
    int last_errno_ = 0;      // errno from the kernel's last NLMSG_ERROR, see .cc
    std::vector<Added> added_;
};

}  // namespace lm
