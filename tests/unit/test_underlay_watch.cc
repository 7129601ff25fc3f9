// SPDX-License-Identifier: MIT
// Roaming: which rtnetlink notifications count as a change of the underlay,
// and how the kernel's answer to RTM_GETROUTE is read (client/underlay_watch.h).
// Messages are built by hand with libmnl; addresses only from the
// documentation ranges.
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#include <gtest/gtest.h>

#include "common/addr.h"
#include "client/underlay_watch.h"

namespace lm {
namespace {

constexpr int kTun = 7, kWan = 2, kOwnProto = 250;

struct Msg {
    alignas(nlmsghdr) char buf[1024] = {};
    nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
};

void put_addr(nlmsghdr *nlh, uint16_t type, const char *text) {
    IpAddr a = *IpAddr::parse(text);
    mnl_attr_put(nlh, type, a.len(), a.b);
}

Msg addr_msg(uint16_t type, int family, int ifindex) {
    Msg m;
    m.nlh->nlmsg_type = type;
    auto *ifa = static_cast<ifaddrmsg *>(mnl_nlmsg_put_extra_header(m.nlh, sizeof(ifaddrmsg)));
    ifa->ifa_family = uint8_t(family);
    ifa->ifa_index = unsigned(ifindex);
    ifa->ifa_prefixlen = family == AF_INET ? 26 : 64;
    put_addr(m.nlh, IFA_ADDRESS, family == AF_INET ? "198.51.100.194" : "2001:db8:5::2");
    return m;
}

struct RouteSpec {
    uint16_t type = RTM_NEWROUTE;
    int family = AF_INET;
    uint8_t table = RT_TABLE_MAIN;
    uint8_t proto = RTPROT_BOOT;
    uint8_t rtype = RTN_UNICAST;
    unsigned flags = 0;
    int oif = kWan;
    const char *gateway = "198.51.100.193";
    const char *prefsrc = nullptr;
    bool table_attr = false;
};

Msg route_msg(const RouteSpec &r) {
    Msg m;
    m.nlh->nlmsg_type = r.type;
    auto *rtm = static_cast<rtmsg *>(mnl_nlmsg_put_extra_header(m.nlh, sizeof(rtmsg)));
    rtm->rtm_family = uint8_t(r.family);
    rtm->rtm_table = r.table_attr ? uint8_t(RT_TABLE_UNSPEC) : r.table;
    rtm->rtm_protocol = r.proto;
    rtm->rtm_type = r.rtype;
    rtm->rtm_flags = r.flags;
    if (r.table_attr) mnl_attr_put_u32(m.nlh, RTA_TABLE, r.table);
    if (r.oif) mnl_attr_put_u32(m.nlh, RTA_OIF, uint32_t(r.oif));
    if (r.gateway) put_addr(m.nlh, RTA_GATEWAY, r.gateway);
    if (r.prefsrc) put_addr(m.nlh, RTA_PREFSRC, r.prefsrc);
    return m;
}

TEST(UnderlayWatch, AddressChangesOnOtherDevicesCount) {
    EXPECT_TRUE(underlay_event_relevant(addr_msg(RTM_NEWADDR, AF_INET, kWan).nlh, kTun, kOwnProto));
    EXPECT_TRUE(underlay_event_relevant(addr_msg(RTM_DELADDR, AF_INET, kWan).nlh, kTun, kOwnProto));
    EXPECT_TRUE(underlay_event_relevant(addr_msg(RTM_NEWADDR, AF_INET6, kWan).nlh, kTun, kOwnProto));
}

TEST(UnderlayWatch, OwnDeviceIsIgnored) {
    EXPECT_FALSE(underlay_event_relevant(addr_msg(RTM_NEWADDR, AF_INET, kTun).nlh, kTun, kOwnProto));
    EXPECT_FALSE(underlay_event_relevant(addr_msg(RTM_DELADDR, AF_INET6, kTun).nlh, kTun, kOwnProto));
    RouteSpec into_tun;
    into_tun.oif = kTun;
    into_tun.gateway = nullptr;
    EXPECT_FALSE(underlay_event_relevant(route_msg(into_tun).nlh, kTun, kOwnProto));
}

TEST(UnderlayWatch, DefaultRouteChangesCount) {
    RouteSpec r;
    EXPECT_TRUE(underlay_event_relevant(route_msg(r).nlh, kTun, kOwnProto));
    r.type = RTM_DELROUTE;
    EXPECT_TRUE(underlay_event_relevant(route_msg(r).nlh, kTun, kOwnProto));
    RouteSpec v6;
    v6.family = AF_INET6;
    v6.gateway = "2001:db8:5::1";
    EXPECT_TRUE(underlay_event_relevant(route_msg(v6).nlh, kTun, kOwnProto));
    // A table given only as RTA_TABLE (ids above 255) counts as well.
    RouteSpec other;
    other.table_attr = true;
    other.table = 100;
    EXPECT_TRUE(underlay_event_relevant(route_msg(other).nlh, kTun, kOwnProto));
}

TEST(UnderlayWatch, NoiseIsIgnored) {
    RouteSpec local;
    local.table = RT_TABLE_LOCAL;
    local.rtype = RTN_LOCAL;
    EXPECT_FALSE(underlay_event_relevant(route_msg(local).nlh, kTun, kOwnProto));
    RouteSpec local_attr;
    local_attr.table_attr = true;
    local_attr.table = RT_TABLE_LOCAL;
    EXPECT_FALSE(underlay_event_relevant(route_msg(local_attr).nlh, kTun, kOwnProto));
    RouteSpec cloned;
    cloned.flags = RTM_F_CLONED;
    EXPECT_FALSE(underlay_event_relevant(route_msg(cloned).nlh, kTun, kOwnProto));
    RouteSpec ours;
    ours.proto = kOwnProto;
    EXPECT_FALSE(underlay_event_relevant(route_msg(ours).nlh, kTun, kOwnProto));
    RouteSpec mcast;
    mcast.rtype = RTN_MULTICAST;
    EXPECT_FALSE(underlay_event_relevant(route_msg(mcast).nlh, kTun, kOwnProto));
    Msg link;
    link.nlh->nlmsg_type = RTM_NEWLINK;
    mnl_nlmsg_put_extra_header(link.nlh, sizeof(ifinfomsg));
    EXPECT_FALSE(underlay_event_relevant(link.nlh, kTun, kOwnProto));
}

TEST(UnderlayWatch, ShortOrForeignMessagesAreIgnored) {
    Msg m;
    m.nlh->nlmsg_type = RTM_NEWROUTE;   // no rtmsg at all
    EXPECT_FALSE(underlay_event_relevant(m.nlh, kTun, kOwnProto));
    m.nlh->nlmsg_type = RTM_NEWADDR;
    EXPECT_FALSE(underlay_event_relevant(m.nlh, kTun, kOwnProto));
    RouteSpec bridge;
    bridge.family = AF_BRIDGE;
    bridge.gateway = nullptr;
    EXPECT_FALSE(underlay_event_relevant(route_msg(bridge).nlh, kTun, kOwnProto));
    // A gateway attribute of the wrong length is not read as an address.
    Msg bad = route_msg(RouteSpec{.gateway = nullptr});
    uint8_t three[3] = {198, 51, 100};
    mnl_attr_put(bad.nlh, RTA_GATEWAY, sizeof three, three);
    UnderlayRoute r;
    ASSERT_TRUE(parse_route_answer(bad.nlh, &r));
    EXPECT_FALSE(r.gateway.is_set());
}

TEST(UnderlayWatch, RouteAnswerIsRead) {
    RouteSpec s;
    s.prefsrc = "198.51.100.194";
    UnderlayRoute r;
    ASSERT_TRUE(parse_route_answer(route_msg(s).nlh, &r));
    EXPECT_TRUE(r.found);
    EXPECT_EQ(r.gateway, *IpAddr::parse("198.51.100.193"));
    EXPECT_EQ(r.src, *IpAddr::parse("198.51.100.194"));
    EXPECT_EQ(r.oif, kWan);

    // Another gateway or source is another route: that is what makes the
    // client register again.
    UnderlayRoute moved;
    s.gateway = "203.0.113.1";
    ASSERT_TRUE(parse_route_answer(route_msg(s).nlh, &moved));
    EXPECT_FALSE(moved == r);
    UnderlayRoute same;
    s.gateway = "198.51.100.193";
    ASSERT_TRUE(parse_route_answer(route_msg(s).nlh, &same));
    EXPECT_TRUE(same == r);

    RouteSpec unreachable;
    unreachable.rtype = RTN_UNREACHABLE;
    ASSERT_TRUE(parse_route_answer(route_msg(unreachable).nlh, &r));
    EXPECT_FALSE(r.found);
    EXPECT_EQ(r.str(), "none");

    Msg addr = addr_msg(RTM_NEWADDR, AF_INET, kWan);
    EXPECT_FALSE(parse_route_answer(addr.nlh, &r));
}

}  // namespace
}  // namespace lm
