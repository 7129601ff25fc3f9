// SPDX-License-Identifier: MIT
#include "net/netlink.h"

#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/errno.h>
#include <netlink/handlers.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/inet6.h>
#include <linux/if_link.h>
#include <netlink/route/route.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "common/log.h"
#include "common/might_block.h"

namespace lm {

namespace {

// Owning pointers for libnl's reference-counted objects.
struct NlAddrPut { void operator()(nl_addr *p) const { nl_addr_put(p); } };
struct RtnlAddrPut { void operator()(rtnl_addr *p) const { rtnl_addr_put(p); } };
struct RtnlLinkPut { void operator()(rtnl_link *p) const { rtnl_link_put(p); } };
struct RtnlRoutePut { void operator()(rtnl_route *p) const { rtnl_route_put(p); } };
using NlAddrPtr = std::unique_ptr<nl_addr, NlAddrPut>;
using RtnlAddrPtr = std::unique_ptr<rtnl_addr, RtnlAddrPut>;
using RtnlLinkPtr = std::unique_ptr<rtnl_link, RtnlLinkPut>;
using RtnlRoutePtr = std::unique_ptr<rtnl_route, RtnlRoutePut>;

NlAddrPtr to_nl(const IpAddr &a, int prefixlen) {
    NlAddrPtr p(nl_addr_build(a.family, a.b, a.len()));
    if (p) nl_addr_set_prefixlen(p.get(), prefixlen);
    return p;
}

// libnl folds kernel errnos into its own NLE_* codes and loses detail on the
// way (ENETUNREACH becomes "Unspecific failure").  This error handler sees the
// raw NLMSG_ERROR first and keeps its errno; returning NL_STOP makes libnl
// carry on exactly as without a handler.
int record_errno(sockaddr_nl *, nlmsgerr *e, void *arg) {
    *static_cast<int *>(arg) = -e->error;
    return NL_STOP;
}

// "Already gone" answers during cleanup: the device vanished with its fd
// (ENODEV), the address was removed (EADDRNOTAVAIL), or the route was
// removed, possibly by the kernel together with its address (ESRCH/ENOENT).
bool is_gone(int e) { return e == ENODEV || e == EADDRNOTAVAIL || e == ESRCH || e == ENOENT; }

// The same change spelled as ip(8) would, for log lines and error messages.
std::string describe_addr(const std::string &dev, const IpAddr &local, int prefixlen,
                          const IpAddr *peer) {
    if (peer && peer->is_set())
        return "local " + local.str() + " peer " + peer->str() + "/" + std::to_string(prefixlen) +
               " dev " + dev;
    return local.str() + "/" + std::to_string(prefixlen) + " dev " + dev;
}

std::string describe_route(const std::string &dev, const Prefix &dst, const IpAddr *via, uint32_t table) {
    std::string s = dst.str();
    if (via && via->is_set()) s += " via " + via->str();
    s += " dev " + dev + " proto " + std::to_string(kRouteProto);
    if (table != kMainTable) s += " table " + std::to_string(table);
    return s;
}

}  // namespace

Netlink::Netlink() = default;

Netlink::~Netlink() {
    if (sk_) nl_socket_free(sk_);
}

bool Netlink::open(std::string *err) {
    might_block(BlockingCall::netlink, "netlink open");
    if (sk_) return true;
    nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);
    if (!cb) {
        *err = "netlink: out of memory";
        return false;
    }
    nl_cb_err(cb, NL_CB_CUSTOM, record_errno, &last_errno_);
    sk_ = nl_socket_alloc_cb(cb);
    nl_cb_put(cb);  // the socket holds its own reference
    if (!sk_) {
        *err = "netlink: out of memory";
        return false;
    }
    // nl_connect() creates the socket with SOCK_CLOEXEC.
    if (int rc = nl_connect(sk_, NETLINK_ROUTE); rc < 0) {
        *err = std::string("netlink: cannot connect: ") + nl_geterror(rc);
        nl_socket_free(sk_);
        sk_ = nullptr;
        return false;
    }
    return true;
}

std::string Netlink::error_text(int nlerr) const {
    // Prefer the kernel's errno so messages read like ip(8)'s
    // ("File exists", "Network is unreachable").
    if (last_errno_ > 0) return std::strerror(last_errno_);
    return nl_geterror(nlerr);
}

bool Netlink::ifindex(const std::string &dev, int *index, std::string *err) {
    might_block(BlockingCall::netlink, "netlink link get");
    if (!sk_) {
        *err = "netlink: not open";
        return false;
    }
    // Ask over the same socket rather than if_nametoindex(): the socket, not
    // the calling thread, decides which network namespace we configure.
    rtnl_link *raw = nullptr;
    last_errno_ = 0;
    if (int rc = rtnl_link_get_kernel(sk_, 0, dev.c_str(), &raw); rc < 0) {
        *err = "cannot find device " + dev + ": " + error_text(rc);
        return false;
    }
    RtnlLinkPtr link(raw);
    *index = rtnl_link_get_ifindex(link.get());
    return true;
}

bool Netlink::link_up(const std::string &dev, int mtu, std::string *err) {
    might_block(BlockingCall::netlink, "netlink link set");
    if (!sk_) {
        *err = "netlink: not open";
        return false;
    }
    std::string what = "link set dev " + dev + " up";
    if (mtu > 0) what += " mtu " + std::to_string(mtu);

    rtnl_link *raw = nullptr;
    last_errno_ = 0;
    if (int rc = rtnl_link_get_kernel(sk_, 0, dev.c_str(), &raw); rc < 0) {
        *err = what + ": " + error_text(rc);
        return false;
    }
    RtnlLinkPtr link(raw);
    RtnlLinkPtr change(rtnl_link_alloc());
    if (!change) {
        *err = what + ": out of memory";
        return false;
    }
    // No IPv6 link-local address: a layer-3 tunnel has no neighbours to
    // discover, and router solicitations from fe80:: would only be dropped
    // at the far end as foreign inner sources.  This must reach the kernel
    // before the device goes up, when the address would be generated.
    {
        RtnlLinkPtr gen(rtnl_link_alloc());
        if (gen && rtnl_link_inet6_set_addr_gen_mode(gen.get(), IN6_ADDR_GEN_MODE_NONE) == 0 &&
            rtnl_link_change(sk_, link.get(), gen.get(), 0) < 0)
            LM_DEBUG("cannot turn off IPv6 link-local addresses on %s", dev.c_str());
    }
    if (mtu > 0) rtnl_link_set_mtu(change.get(), unsigned(mtu));
    rtnl_link_set_flags(change.get(), IFF_UP);
    last_errno_ = 0;
    if (int rc = rtnl_link_change(sk_, link.get(), change.get(), 0); rc < 0) {
        *err = what + ": " + error_text(rc);
        return false;
    }
    LM_INFO("ip %s", what.c_str());
    return true;
}

// Builds the RTM_NEWADDR / RTM_DELADDR for `a` and sends it.  Returns 0 or a
// negative libnl code; last_errno_ then holds the kernel's errno, if any.
int Netlink::addr_change(bool add, const Added &a) {
    might_block(BlockingCall::netlink, "netlink address change");
    RtnlAddrPtr obj(rtnl_addr_alloc());
    if (!obj) return -NLE_NOMEM;
    rtnl_addr_set_ifindex(obj.get(), a.ifindex);

    int rc;
    if (a.peer.is_set()) {
        // Order matters (docs/PROTOCOLS.md §7): libnl refuses a local address
        // with a prefix length once a peer is set, so local goes first as
        // a bare /32 and the peer then carries the prefix length.
        NlAddrPtr local = to_nl(a.local, 0);
        NlAddrPtr peer = to_nl(a.peer, a.prefixlen);
        if (!local || !peer) return -NLE_NOMEM;
        if ((rc = rtnl_addr_set_local(obj.get(), local.get())) < 0) return rc;
        if ((rc = rtnl_addr_set_peer(obj.get(), peer.get())) < 0) return rc;
    } else {
        NlAddrPtr local = to_nl(a.local, a.prefixlen);
        if (!local) return -NLE_NOMEM;
        if ((rc = rtnl_addr_set_local(obj.get(), local.get())) < 0) return rc;
        // OpenVPN (sitnl_addr_set) adds a broadcast for IPv4 prefixes up to
        // /30; /31 and /32 have no broadcast address.
        if (add && a.local.family == AF_INET && a.prefixlen <= 30) {
            uint32_t host = a.prefixlen == 0 ? ~0u : (1u << (32 - a.prefixlen)) - 1;
            NlAddrPtr bcast = to_nl(IpAddr::v4(a.local.v4_host() | host), 32);
            if (!bcast) return -NLE_NOMEM;
            if ((rc = rtnl_addr_set_broadcast(obj.get(), bcast.get())) < 0) return rc;
        }
    }
    last_errno_ = 0;
    return add ? rtnl_addr_add(sk_, obj.get(), 0) : rtnl_addr_delete(sk_, obj.get(), 0);
}

bool Netlink::addr_add(const std::string &dev, const IpAddr &local, int prefixlen,
                       const IpAddr *peer, std::string *err) {
    std::string what = "addr add " + describe_addr(dev, local, prefixlen, peer);
    int max = local.family == AF_INET ? 32 : 128;
    if (!local.is_set() || prefixlen < 0 || prefixlen > max) {
        *err = what + ": invalid address or prefix length";
        return false;
    }
    if (peer && peer->is_set()) {
        if (local.family != AF_INET || peer->family != AF_INET) {
            *err = what + ": a peer address is only supported for IPv4";
            return false;
        }
    }
    Added a;
    a.dev = dev;
    a.local = local;
    a.prefixlen = prefixlen;
    if (peer) a.peer = *peer;
    if (!ifindex(dev, &a.ifindex, err)) return false;
    if (int rc = addr_change(true, a); rc < 0) {
        *err = what + ": " + error_text(rc);
        return false;
    }
    LM_INFO("ip %s", what.c_str());
    added_.push_back(std::move(a));
    return true;
}

// Builds the RTM_NEWROUTE / RTM_DELROUTE for `r` and sends it.
int Netlink::route_change(bool add, const Added &r) {
    might_block(BlockingCall::netlink, "netlink route change");
    RtnlRoutePtr obj(rtnl_route_alloc());
    if (!obj) return -NLE_NOMEM;
    int family = r.dst.addr.family;
    rtnl_route_set_family(obj.get(), uint8_t(family));
    rtnl_route_set_table(obj.get(), r.table);
    rtnl_route_set_protocol(obj.get(), uint8_t(kRouteProto));
    rtnl_route_set_type(obj.get(), RTN_UNICAST);
    // Scope as ip(8) chooses it, set explicitly so add and delete agree (an
    // IPv4 delete only matches a route of the same scope): link for a
    // directly connected IPv4 route, universe otherwise.
    bool gw = r.via.is_set();
    rtnl_route_set_scope(obj.get(),
                         family == AF_INET && !gw ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE);

    NlAddrPtr dst = to_nl(r.dst.addr, r.dst.len);
    if (!dst) return -NLE_NOMEM;
    if (int rc = rtnl_route_set_dst(obj.get(), dst.get()); rc < 0) return rc;

    rtnl_nexthop *nh = rtnl_route_nh_alloc();
    if (!nh) return -NLE_NOMEM;
    rtnl_route_nh_set_ifindex(nh, r.ifindex);
    if (gw) {
        NlAddrPtr via = to_nl(r.via, r.via.family == AF_INET ? 32 : 128);
        if (!via) {
            rtnl_route_nh_free(nh);
            return -NLE_NOMEM;
        }
        rtnl_route_nh_set_gateway(nh, via.get());  // takes its own reference
    }
    rtnl_route_add_nexthop(obj.get(), nh);  // the route owns nh from here

    last_errno_ = 0;
    return add ? rtnl_route_add(sk_, obj.get(), NLM_F_EXCL)
               : rtnl_route_delete(sk_, obj.get(), 0);
}

bool Netlink::route_add(const std::string &dev, const Prefix &dst, const IpAddr *via,
                        std::string *err, uint32_t table) {
    std::string what = "route add " + describe_route(dev, dst, via, table);
    if (!dst.addr.is_set() || (via && via->is_set() && via->family != dst.addr.family)) {
        *err = what + ": gateway and destination differ in address family";
        return false;
    }
    Added r;
    r.is_route = true;
    r.dev = dev;
    r.dst = dst;
    r.table = table;
    if (via) r.via = *via;
    if (!ifindex(dev, &r.ifindex, err)) return false;
    if (int rc = route_change(true, r); rc < 0) {
        *err = what + ": " + error_text(rc);
        return false;
    }
    LM_INFO("ip %s", what.c_str());
    added_.push_back(std::move(r));
    return true;
}

bool Netlink::route_del(const std::string &dev, const Prefix &dst, const IpAddr *via,
                        std::string *err, uint32_t table) {
    std::string what = "route del " + describe_route(dev, dst, via, table);
    Added r;
    r.is_route = true;
    r.dev = dev;
    r.dst = dst;
    r.table = table;
    if (via) r.via = *via;
    if (!ifindex(dev, &r.ifindex, err)) return false;
    if (int rc = route_change(false, r); rc < 0) {
        *err = what + ": " + error_text(rc);
        return false;
    }
    LM_INFO("ip %s", what.c_str());
    // Forget it so cleanup() does not try again.  Newest match first, in the
    // unlikely case the same route was added, deleted and added again.
    for (auto it = added_.rbegin(); it != added_.rend(); ++it) {
        if (it->is_route && it->ifindex == r.ifindex && it->dst == r.dst && it->via == r.via &&
            it->table == r.table) {
            added_.erase(std::next(it).base());
            break;
        }
    }
    return true;
}

bool Netlink::route_del(const std::string &dev, const Prefix &dst, std::string *err) {
    for (auto it = added_.rbegin(); it != added_.rend(); ++it)
        if (it->is_route && it->dev == dev && it->dst == dst) {
            IpAddr via = it->via;
            return route_del(dev, dst, via.is_set() ? &via : nullptr, err, it->table);
        }
    return route_del(dev, dst, nullptr, err);
}

void Netlink::cleanup() {
    if (!sk_) {
        added_.clear();
        return;
    }
    // Reverse order: routes through an address go before the address, the
    // mirror image of how they were set up.
    for (auto it = added_.rbegin(); it != added_.rend(); ++it) {
        const Added &a = *it;
        std::string what = a.is_route
                               ? "route del " + describe_route(a.dev, a.dst, &a.via, a.table)
                               : "addr del " + describe_addr(a.dev, a.local, a.prefixlen, &a.peer);
        int rc = a.is_route ? route_change(false, a) : addr_change(false, a);
        if (rc == 0)
            LM_INFO("ip %s", what.c_str());
        else if (is_gone(last_errno_))
            LM_DEBUG("ip %s: already gone", what.c_str());
        else
            LM_WARN("ip %s: %s", what.c_str(), error_text(rc).c_str());
    }
    added_.clear();
}

}  // namespace lm
