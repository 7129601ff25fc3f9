// SPDX-License-Identifier: MIT
// Address arithmetic for the three topologies (docs/DESIGN.md §3, docs/PROTOCOLS.md §7):
// which addresses the pool hands out, and what the server and each client
// configure on their TUN devices.  The layout is exactly OpenVPN's
// (src/openvpn/helper.c helper_client_server, src/openvpn/pool.c), so a
// sysadmin who knows one knows the other.  Pure computation, no I/O.
//
// Example, pool 198.18.0.0/24:
//   net30   server local .1 peer .2, route pool via .2; client i in the /30
//           block b = .4 + 4i: local b+2 peer b+1 (.6/.5, .10/.9, ...), 62 clients
//   p2p     server as net30; clients .4 ... .251 with peer .1, 248 clients
//   subnet  server .1/24; clients .2/24 ... .254/24, 253 clients
//   IPv6    (any topology) server ::1/len; client i gets ::1000+i/len
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/addr.h"
#include "common/enums.h"

namespace lm {

// One client's addresses (server/leases.h keeps them by name).
struct Lease {
    std::string name;
    IpAddr addr4;
    IpAddr addr6;  // unset if the plan has no IPv6 pool
};

// Pool bounds, the one rule the parser and the plan share.  The arithmetic is
// OpenVPN's, but the IPv4 limits are wider: our leases live in a map, not in
// OpenVPN's fixed array of at most 65536 slots (pool.h
// IFCONFIG_POOL_MIN_NETBITS 16), so any pool from /8 is fine.  At the small
// end a point-to-point topology needs /29 (OpenVPN's limit for TUN,
// helper.c); subnet works down to /30, one client.  IPv6 pools are /64 (so a
// client slot always fits in the low 64 bits) to /124, OpenVPN's bounds for
// --server-ipv6: a /124 holds 14 clients (from ::2), and as in OpenVPN the
// smaller of the two pools bounds the number of clients.
constexpr int kMinPoolLen = 8;
constexpr int kMaxPoolLenP2p = 29;
constexpr int kMaxPoolLenSubnet = 30;
constexpr int kMinPool6Len = 64;
constexpr int kMaxPool6Len = 124;
int max_pool_len(Topology t);   // kMaxPoolLenSubnet or kMaxPoolLenP2p

// What one side of the tunnel puts on its TUN device.
struct IfaceLayout {
    IpAddr local4;
    int prefix4 = 0;
    IpAddr peer4;              // point-to-point peer; unset for subnet
    IpAddr local6;             // unset when there is no IPv6 pool
    int prefix6 = 0;           // 0 when local6 is unset
    // Routes to add on the TUN device: destination via gateway.  An unset
    // gateway means a plain device route (see client_layout()).
    std::vector<std::pair<Prefix, IpAddr>> routes;
};

class TopologyPlan {
  public:
    // `pool` must be IPv4 and `pool6` IPv6; check them first with validate().
    // An invalid plan has capacity() 0 but is otherwise harmless.
    TopologyPlan(Topology t, Prefix pool, std::optional<Prefix> pool6);

    // IPv4 pool /8 ... /29 (/30 for subnet), IPv6 pool /64 ... /124.  On
    // failure *err says what is wrong.
    static bool validate(Topology t, const Prefix &pool, const std::optional<Prefix> &pool6,
                         std::string *err);

    // net30/p2p: local .1 peer .2 (/32), route pool via .2.
    // subnet:    .1/len, no routes (the kernel adds the connected route).
    // IPv6:      ::1/len6.
    IfaceLayout server_layout() const;

    // The layout a client with lease `l` configures.  `c2c` is true unless
    // client-to-client is off: then the client routes the whole pool via its
    // gateway (net30, p2p).  Without it a net30 client routes only the
    // server's .1 via its gateway; a p2p client needs nothing, because .1 is
    // its point-to-point peer already (OpenVPN pushes nothing there either,
    // and a /32 route to .1 would collide with the kernel's peer route).
    // subnet has the connected route to the whole pool in every case.
    // `pushed` routes (from the server config) go via the gateway; IPv6 ones
    // via the server's ::1, or as device routes when there is no IPv6 pool.
    // Pushed routes that duplicate one already in the layout are dropped.
    IfaceLayout client_layout(const Lease &l, bool c2c, const std::vector<Prefix> &pushed) const;

    // The client's IPv4 next hop towards the server: b+1 of its /30 (net30),
    // the server's .1 (p2p, subnet).
    IpAddr client_gateway(const Lease &l) const;

    // The server's gateway for a network behind a client whose IPv4 address
    // is `client4` (unset when not known yet).  Only a label on a TUN device,
    // but the kernel wants it on-link: the client's own address in a subnet,
    // the server's point-to-point peer otherwise.  Unset for an IPv6 network
    // (a device route) and for a subnet client without an address.
    IpAddr network_gateway(const Prefix &net, const IpAddr &client4) const;

    // Client address candidates in pool order; index i is the same client
    // slot in IPv4 and IPv6 (as OpenVPN's unified pool).  capacity() is the
    // smaller of the two pools.
    size_t capacity() const { return capacity_; }
    IpAddr nth_client_addr4(size_t i) const;        // unset if i >= capacity()
    IpAddr nth_client_addr6(size_t i) const;        // unset if no pool6 or i >= capacity()
    // Slot of a client address of either family; nullopt for anything else
    // (server addresses, net30 b+1/b+3, outside the pool).
    std::optional<size_t> index_of(const IpAddr &a) const;

    Topology topology() const { return topology_; }
    const Prefix &pool() const { return pool_; }
    const std::optional<Prefix> &pool6() const { return pool6_; }
    IpAddr server_addr4() const;                     // network + 1
    std::optional<IpAddr> server_addr6() const;      // network6 + 1

  private:
    size_t capacity4() const;
    size_t capacity6() const;
    uint64_t offset6() const;  // first client address minus the network6

    Topology topology_;
    Prefix pool_;
    std::optional<Prefix> pool6_;
    bool valid_ = false;
    size_t capacity_ = 0;
    uint32_t net_ = 0;         // pool network, host order
    uint32_t bcast_ = 0;       // pool broadcast, host order
};

}  // namespace lm
