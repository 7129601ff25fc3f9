// SPDX-License-Identifier: MIT
// The server's limits on connections not admitted yet: per source (IPv6 by
// /64) and in total, the oldest giving way.
#include <gtest/gtest.h>

#include "server/pending_handshakes.h"

namespace lm {
namespace {

IpAddr ip(const char *s) { return *IpAddr::parse(s); }

TEST(PendingHandshakes, OldestOfTheSourceGivesWay) {
    PendingHandshakes p({3, 100});
    for (int fd = 10; fd < 13; fd++) {
        EXPECT_FALSE(p.make_room(ip("192.0.2.66")));
        p.add(fd, ip("192.0.2.66"));
    }
    EXPECT_FALSE(p.make_room(ip("192.0.2.11"))) << "another source is not limited";
    auto ev = p.make_room(ip("192.0.2.66"));
    ASSERT_TRUE(ev);
    EXPECT_EQ(ev->fd, 10);
    EXPECT_TRUE(ev->per_source);
    EXPECT_TRUE(ev->first);
    p.remove(10);
    p.add(13, ip("192.0.2.66"));
    ev = p.make_room(ip("192.0.2.66"));
    ASSERT_TRUE(ev);
    EXPECT_EQ(ev->fd, 11);
    EXPECT_FALSE(ev->first) << "one log line per episode";
    EXPECT_EQ(p.from(ip("192.0.2.66")), 3u);
    // An admitted connection leaves the count; its source is below the limit.
    p.remove(12);
    EXPECT_FALSE(p.make_room(ip("192.0.2.66")));
    p.remove(12);   // twice, or unknown: ignored
    p.remove(999);
    EXPECT_EQ(p.size(), 2u);
    p.remove(11);
    p.remove(13);
    EXPECT_EQ(p.size(), 0u);
    EXPECT_EQ(p.from(ip("192.0.2.66")), 0u);
    EXPECT_FALSE(p.oldest());
    // A new episode is logged again.
    for (int fd = 20; fd < 23; fd++) p.add(fd, ip("192.0.2.66"));
    ev = p.make_room(ip("192.0.2.66"));
    ASSERT_TRUE(ev);
    EXPECT_TRUE(ev->first);
}

TEST(PendingHandshakes, OldestOverallGivesWayAtTheTotal) {
    PendingHandshakes p({2, 4});
    p.add(1, ip("192.0.2.1"));
    p.add(2, ip("192.0.2.2"));
    p.add(3, ip("192.0.2.3"));
    p.add(4, ip("192.0.2.4"));
    EXPECT_EQ(p.oldest(), 1);
    auto ev = p.make_room(ip("192.0.2.5"));
    ASSERT_TRUE(ev);
    EXPECT_EQ(ev->fd, 1);
    EXPECT_FALSE(ev->per_source);
    // The source's own limit comes first.
    p.remove(1);
    p.add(5, ip("192.0.2.4"));
    ev = p.make_room(ip("192.0.2.4"));
    ASSERT_TRUE(ev);
    EXPECT_EQ(ev->fd, 4);
    EXPECT_TRUE(ev->per_source);
}

TEST(PendingHandshakes, Ipv6CountsBySlash64) {
    PendingHandshakes p({2, 100});
    p.add(1, ip("2001:db8:1:2::1"));
    p.add(2, ip("2001:db8:1:2:ffff::9"));
    EXPECT_EQ(p.from(ip("2001:db8:1:2::77")), 2u);
    auto ev = p.make_room(ip("2001:db8:1:2::3"));
    ASSERT_TRUE(ev);
    EXPECT_EQ(ev->fd, 1);
    EXPECT_FALSE(p.make_room(ip("2001:db8:1:3::1"))) << "another /64";
    EXPECT_EQ(PendingHandshakes::source_key(ip("2001:db8:1:2:ffff::9")).str(), "2001:db8:1:2::");
    EXPECT_EQ(PendingHandshakes::source_key(ip("192.0.2.9")).str(), "192.0.2.9");
}

}  // namespace
}  // namespace lm
