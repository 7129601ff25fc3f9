// SPDX-License-Identifier: MIT
// TopologyPlan against the OpenVPN layouts in docs/PROTOCOLS.md §7.
#include <gtest/gtest.h>

#include "server/leases.h"
#include "config/topology.h"

namespace lm {
namespace {

IpAddr A(const char *s) { return *IpAddr::parse(s); }
Prefix P(const char *s) { return *Prefix::parse(s); }
Lease L(const char *a4, const char *a6 = nullptr) {
    Lease l;
    l.name = "c";
    l.addr4 = A(a4);
    if (a6) l.addr6 = A(a6);
    return l;
}
using Routes = std::vector<std::pair<Prefix, IpAddr>>;

TEST(Topology, Net30ServerLayout) {
    TopologyPlan plan(Topology::net30, P("198.18.0.0/24"), std::nullopt);
    IfaceLayout s = plan.server_layout();
    EXPECT_EQ(s.local4, A("198.18.0.1"));
    EXPECT_EQ(s.prefix4, 32);
    EXPECT_EQ(s.peer4, A("198.18.0.2"));
    EXPECT_EQ(s.routes, (Routes{{P("198.18.0.0/24"), A("198.18.0.2")}}));
    EXPECT_FALSE(s.local6.is_set());
    EXPECT_EQ(s.prefix6, 0);
    EXPECT_EQ(plan.server_addr4(), A("198.18.0.1"));
    EXPECT_FALSE(plan.server_addr6());
}

TEST(Topology, Net30ClientAddresses) {
    TopologyPlan plan(Topology::net30, P("198.18.0.0/24"), std::nullopt);
    // /30 blocks from .4 up to .248-.251; .252-.255 is held back (OpenVPN).
    EXPECT_EQ(plan.capacity(), 62u);
    EXPECT_EQ(plan.nth_client_addr4(0), A("198.18.0.6"));
    EXPECT_EQ(plan.nth_client_addr4(1), A("198.18.0.10"));
    EXPECT_EQ(plan.nth_client_addr4(61), A("198.18.0.250"));
    EXPECT_FALSE(plan.nth_client_addr4(62).is_set());
    EXPECT_EQ(plan.index_of(A("198.18.0.6")), 0u);
    EXPECT_EQ(plan.index_of(A("198.18.0.10")), 1u);
    EXPECT_EQ(plan.index_of(A("198.18.0.250")), 61u);
    // Only b+2 of a block is a client address.
    for (const char *no : {"198.18.0.1", "198.18.0.2", "198.18.0.4", "198.18.0.5", "198.18.0.7",
                           "198.18.0.254", "198.18.1.6", "2001:db8::1"})
        EXPECT_FALSE(plan.index_of(A(no))) << no;
}

TEST(Topology, Net30ClientLayout) {
    TopologyPlan plan(Topology::net30, P("198.18.0.0/24"), std::nullopt);
    Lease first = L("198.18.0.6");
    EXPECT_EQ(plan.client_gateway(first), A("198.18.0.5"));
    IfaceLayout c = plan.client_layout(first, true, {});
    EXPECT_EQ(c.local4, A("198.18.0.6"));
    EXPECT_EQ(c.prefix4, 32);
    EXPECT_EQ(c.peer4, A("198.18.0.5"));
    EXPECT_EQ(c.routes, (Routes{{P("198.18.0.0/24"), A("198.18.0.5")}}));
    EXPECT_FALSE(c.local6.is_set());

    Lease second = L("198.18.0.10");
    c = plan.client_layout(second, false, {P("198.19.0.0/16")});
    EXPECT_EQ(c.local4, A("198.18.0.10"));
    EXPECT_EQ(c.peer4, A("198.18.0.9"));
    // Without client-to-client only the server's address, as OpenVPN's
    // push "route 10.8.0.1"; pushed routes go via the same gateway.
    EXPECT_EQ(c.routes, (Routes{{P("198.18.0.1/32"), A("198.18.0.9")},
                                {P("198.19.0.0/16"), A("198.18.0.9")}}));
}

TEST(Topology, P2pLayouts) {
    TopologyPlan plan(Topology::p2p, P("198.18.0.0/24"), std::nullopt);
    IfaceLayout s = plan.server_layout();
    EXPECT_EQ(s.local4, A("198.18.0.1"));
    EXPECT_EQ(s.prefix4, 32);
    EXPECT_EQ(s.peer4, A("198.18.0.2"));
    EXPECT_EQ(s.routes, (Routes{{P("198.18.0.0/24"), A("198.18.0.2")}}));

    EXPECT_EQ(plan.capacity(), 248u);  // .4 ... .251
    EXPECT_EQ(plan.nth_client_addr4(0), A("198.18.0.4"));
    EXPECT_EQ(plan.nth_client_addr4(247), A("198.18.0.251"));
    EXPECT_EQ(plan.index_of(A("198.18.0.5")), 1u);
    EXPECT_FALSE(plan.index_of(A("198.18.0.3")));
    EXPECT_FALSE(plan.index_of(A("198.18.0.252")));

    Lease first = L("198.18.0.4");
    EXPECT_EQ(plan.client_gateway(first), A("198.18.0.1"));
    IfaceLayout c = plan.client_layout(first, true, {});
    EXPECT_EQ(c.local4, A("198.18.0.4"));
    EXPECT_EQ(c.prefix4, 32);
    EXPECT_EQ(c.peer4, A("198.18.0.1"));
    EXPECT_EQ(c.routes, (Routes{{P("198.18.0.0/24"), A("198.18.0.1")}}));
    // .1 is the point-to-point peer already: no route needed (or possible).
    c = plan.client_layout(first, false, {P("198.19.0.0/16")});
    EXPECT_EQ(c.routes, (Routes{{P("198.19.0.0/16"), A("198.18.0.1")}}));
}

TEST(Topology, SubnetLayouts) {
    TopologyPlan plan(Topology::subnet, P("198.18.0.0/24"), std::nullopt);
    IfaceLayout s = plan.server_layout();
    EXPECT_EQ(s.local4, A("198.18.0.1"));
    EXPECT_EQ(s.prefix4, 24);
    EXPECT_FALSE(s.peer4.is_set());
    EXPECT_TRUE(s.routes.empty());

    EXPECT_EQ(plan.capacity(), 253u);  // .2 ... .254
    EXPECT_EQ(plan.nth_client_addr4(0), A("198.18.0.2"));
    EXPECT_EQ(plan.nth_client_addr4(252), A("198.18.0.254"));
    EXPECT_FALSE(plan.index_of(A("198.18.0.255")));
    EXPECT_FALSE(plan.index_of(A("198.18.0.1")));

    Lease first = L("198.18.0.2");
    EXPECT_EQ(plan.client_gateway(first), A("198.18.0.1"));
    for (bool c2c : {true, false}) {
        IfaceLayout c = plan.client_layout(first, c2c, {P("198.19.0.0/16")});
        EXPECT_EQ(c.local4, A("198.18.0.2"));
        EXPECT_EQ(c.prefix4, 24);
        EXPECT_FALSE(c.peer4.is_set());
        EXPECT_EQ(c.routes, (Routes{{P("198.19.0.0/16"), A("198.18.0.1")}}));
    }
}

TEST(Topology, Ipv6Pool) {
    TopologyPlan plan(Topology::subnet, P("198.18.0.0/24"), P("2001:db8:1::/64"));
    EXPECT_EQ(plan.capacity(), 253u);
    EXPECT_EQ(plan.server_addr6(), A("2001:db8:1::1"));
    IfaceLayout s = plan.server_layout();
    EXPECT_EQ(s.local6, A("2001:db8:1::1"));
    EXPECT_EQ(s.prefix6, 64);
    EXPECT_TRUE(s.routes.empty());

    EXPECT_EQ(plan.nth_client_addr6(0), A("2001:db8:1::1000"));
    EXPECT_EQ(plan.nth_client_addr6(1), A("2001:db8:1::1001"));
    EXPECT_EQ(plan.nth_client_addr6(252), A("2001:db8:1::10fc"));
    EXPECT_FALSE(plan.nth_client_addr6(253).is_set());
    EXPECT_EQ(plan.index_of(A("2001:db8:1::1000")), 0u);
    EXPECT_EQ(plan.index_of(A("2001:db8:1::10fc")), 252u);
    EXPECT_FALSE(plan.index_of(A("2001:db8:1::10fd")));
    EXPECT_FALSE(plan.index_of(A("2001:db8:1::1")));
    EXPECT_FALSE(plan.index_of(A("2001:db8:2::1000")));

    Lease first = L("198.18.0.2", "2001:db8:1::1000");
    IfaceLayout c = plan.client_layout(first, true, {P("2001:db8:9::/48"), P("198.19.0.0/16")});
    EXPECT_EQ(c.local6, A("2001:db8:1::1000"));
    EXPECT_EQ(c.prefix6, 64);
    EXPECT_EQ(c.routes, (Routes{{P("2001:db8:9::/48"), A("2001:db8:1::1")},
                                {P("198.19.0.0/16"), A("198.18.0.1")}}));

    // IPv6 works the same in the point-to-point topologies (OpenVPN too).
    TopologyPlan p2p(Topology::p2p, P("198.18.0.0/24"), P("2001:db8:1::/64"));
    EXPECT_EQ(p2p.server_layout().local6, A("2001:db8:1::1"));
    EXPECT_EQ(p2p.nth_client_addr6(0), A("2001:db8:1::1000"));
}

TEST(Topology, Ipv6SmallPoolStartsAtTwo) {
    // OpenVPN: pools of /112 and longer start at ::2 and limit the capacity.
    TopologyPlan plan(Topology::subnet, P("198.18.0.0/24"), P("2001:db8:1::/124"));
    EXPECT_EQ(plan.capacity(), 14u);
    EXPECT_EQ(plan.nth_client_addr6(0), A("2001:db8:1::2"));
    EXPECT_EQ(plan.nth_client_addr6(13), A("2001:db8:1::f"));
    EXPECT_EQ(plan.index_of(A("2001:db8:1::f")), 13u);
    EXPECT_FALSE(plan.index_of(A("198.18.0.16")));  // beyond the unified capacity

    TopologyPlan p112(Topology::subnet, P("198.18.0.0/16"), P("2001:db8:1::/112"));
    EXPECT_EQ(p112.capacity(), 65533u);  // IPv4-bound: 65534 IPv6 slots
    EXPECT_EQ(p112.nth_client_addr6(0), A("2001:db8:1::2"));
    EXPECT_EQ(p112.nth_client_addr6(65532), A("2001:db8:1::fffe"));
    TopologyPlan p111(Topology::subnet, P("198.18.0.0/16"), P("2001:db8:1::/111"));
    EXPECT_EQ(p111.nth_client_addr6(0), A("2001:db8:1::1000"));
    EXPECT_EQ(p111.capacity(), 65533u);
}

TEST(Topology, Ipv6PushedRouteWithoutPool6) {
    TopologyPlan plan(Topology::subnet, P("198.18.0.0/24"), std::nullopt);
    IfaceLayout c = plan.client_layout(L("198.18.0.2"), true, {P("2001:db8:9::/48")});
    ASSERT_EQ(c.routes.size(), 1u);
    EXPECT_EQ(c.routes[0].first, P("2001:db8:9::/48"));
    EXPECT_FALSE(c.routes[0].second.is_set());  // device route
}

TEST(Topology, PushedDuplicateOfPoolRouteDropped) {
    TopologyPlan plan(Topology::net30, P("198.18.0.0/24"), std::nullopt);
    IfaceLayout c = plan.client_layout(L("198.18.0.6"), true, {P("198.18.0.0/24")});
    EXPECT_EQ(c.routes, (Routes{{P("198.18.0.0/24"), A("198.18.0.5")}}));
}

TEST(Topology, SmallestPools) {
    TopologyPlan subnet(Topology::subnet, P("198.18.0.0/29"), std::nullopt);
    EXPECT_EQ(subnet.capacity(), 5u);  // .2 ... .6
    EXPECT_EQ(subnet.nth_client_addr4(4), A("198.18.0.6"));
    // On a /29 OpenVPN holds nothing back at the top.
    TopologyPlan p2p(Topology::p2p, P("198.18.0.0/29"), std::nullopt);
    EXPECT_EQ(p2p.capacity(), 4u);  // .4 ... .7
    TopologyPlan net30(Topology::net30, P("198.18.0.0/29"), std::nullopt);
    EXPECT_EQ(net30.capacity(), 1u);  // OpenVPN would refuse this; we allow it
    EXPECT_EQ(net30.nth_client_addr4(0), A("198.18.0.6"));
    TopologyPlan subnet30(Topology::subnet, P("198.18.0.0/30"), std::nullopt);
    EXPECT_EQ(subnet30.capacity(), 1u);
    EXPECT_EQ(subnet30.nth_client_addr4(0), A("198.18.0.2"));
    TopologyPlan net30_28(Topology::net30, P("198.18.0.0/28"), std::nullopt);
    EXPECT_EQ(net30_28.capacity(), 2u);  // .4-.7, .8-.11; .12-.15 held back
    EXPECT_EQ(net30_28.nth_client_addr4(1), A("198.18.0.10"));
}

TEST(Topology, Validate) {
    std::string err;
    EXPECT_TRUE(TopologyPlan::validate(Topology::subnet, P("198.18.0.0/24"), P("2001:db8::/64"), &err));
    EXPECT_TRUE(TopologyPlan::validate(Topology::subnet, P("198.18.0.0/30"), std::nullopt, &err));
    EXPECT_TRUE(TopologyPlan::validate(Topology::p2p, P("198.18.0.0/29"), std::nullopt, &err));
    EXPECT_TRUE(TopologyPlan::validate(Topology::net30, P("198.18.0.0/29"), P("2001:db8::/124"), &err));

    EXPECT_FALSE(TopologyPlan::validate(Topology::net30, P("198.18.0.0/30"), std::nullopt, &err));
    EXPECT_EQ(err, "pool 198.18.0.0/30: prefix length must be between /8 and /29 for topology net30");
    EXPECT_FALSE(TopologyPlan::validate(Topology::subnet, P("198.18.0.0/31"), std::nullopt, &err));
    EXPECT_EQ(err, "pool 198.18.0.0/31: prefix length must be between /8 and /30 for topology subnet");
    EXPECT_FALSE(TopologyPlan::validate(Topology::subnet, P("192.0.0.0/7"), std::nullopt, &err));
    EXPECT_FALSE(TopologyPlan::validate(Topology::subnet, P("2001:db8::/64"), std::nullopt, &err));
    EXPECT_EQ(err, "pool 2001:db8::/64 is not an IPv4 prefix");
    EXPECT_FALSE(TopologyPlan::validate(Topology::subnet, P("198.18.0.0/24"), P("2001:db8::/56"), &err));
    EXPECT_EQ(err, "IPv6 pool 2001:db8::/56: prefix length must be between /64 and /124");
    EXPECT_FALSE(TopologyPlan::validate(Topology::subnet, P("198.18.0.0/24"), P("2001:db8::/125"), &err));
    EXPECT_FALSE(TopologyPlan::validate(Topology::subnet, P("198.18.0.0/24"), P("198.19.0.0/24"), &err));
    EXPECT_EQ(err, "IPv6 pool 198.19.0.0/24 is not an IPv6 prefix");

    // An invalid plan hands out nothing.
    TopologyPlan bad(Topology::p2p, P("198.18.0.0/30"), std::nullopt);
    EXPECT_EQ(bad.capacity(), 0u);
    EXPECT_FALSE(bad.index_of(A("198.18.0.2")));
    EXPECT_FALSE(bad.nth_client_addr4(0).is_set());
}

TEST(Topology, LargePool) {
    // Wider than OpenVPN's /16: the arithmetic is the same.
    TopologyPlan plan(Topology::subnet, P("198.0.0.0/8"), std::nullopt);
    EXPECT_EQ(plan.capacity(), (1u << 24) - 3);
    EXPECT_EQ(plan.nth_client_addr4(plan.capacity() - 1), A("198.255.255.254"));
    EXPECT_EQ(plan.index_of(A("198.255.255.254")), plan.capacity() - 1);
    // With an IPv6 pool the unified pool stops at 65536 slots (OpenVPN).
    TopologyPlan both(Topology::subnet, P("198.0.0.0/8"), P("2001:db8:1::/64"));
    EXPECT_EQ(both.capacity(), 65536u);
    EXPECT_EQ(both.nth_client_addr6(65535), A("2001:db8:1::1:0fff"));
}

}  // namespace
}  // namespace lm

namespace lm {
namespace {

// The server's gateway for a network behind a client: one rule, used at
// start and for networks added later.
TEST(Topology, NetworkGateway) {
    TopologyPlan net30(Topology::net30, P("198.18.0.0/24"), std::nullopt);
    TopologyPlan p2p(Topology::p2p, P("198.18.0.0/24"), std::nullopt);
    TopologyPlan subnet(Topology::subnet, P("198.18.0.0/24"), P("2001:db8:1::/64"));
    EXPECT_EQ(net30.network_gateway(P("198.51.100.0/24"), A("198.18.0.6")), A("198.18.0.2"));
    EXPECT_EQ(p2p.network_gateway(P("198.51.100.0/24"), IpAddr()), A("198.18.0.2"));
    EXPECT_EQ(subnet.network_gateway(P("198.51.100.0/24"), A("198.18.0.7")), A("198.18.0.7"));
    EXPECT_FALSE(subnet.network_gateway(P("198.51.100.0/24"), IpAddr()).is_set());
    EXPECT_FALSE(subnet.network_gateway(P("2001:db8:5::/64"), A("198.18.0.7")).is_set());
    EXPECT_FALSE(net30.network_gateway(P("2001:db8:5::/64"), A("198.18.0.6")).is_set());
}

}  // namespace
}  // namespace lm
