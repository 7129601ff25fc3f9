// SPDX-License-Identifier: MIT
// LeaseStore: allocation order, stickiness, reclaiming, fixed addresses and
// the lease file.
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "server/leases.h"

namespace lm {
namespace {

IpAddr A(const char *s) { return *IpAddr::parse(s); }
Prefix P(const char *s) { return *Prefix::parse(s); }

// A private directory per test, removed afterwards.
class LeaseFile : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/lm-lease-test.XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        path_ = dir_ + "/leases";
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    std::string read() const {
        std::ifstream f(path_);
        std::stringstream ss;
        ss << f.rdbuf();
        return ss.str();
    }
    void write(const std::string &text) const { std::ofstream(path_) << text; }

    std::string dir_, path_;
};

TopologyPlan subnet24() { return TopologyPlan(Topology::subnet, P("198.18.0.0/24"), P("2001:db8:1::/64")); }
TopologyPlan subnet29() { return TopologyPlan(Topology::subnet, P("198.18.0.0/29"), std::nullopt); }

TEST(Lease, SequentialAndSticky) {
    LeaseStore s(subnet24(), "");
    std::string err;
    auto a = s.acquire("alice", nullptr, &err);
    ASSERT_TRUE(a) << err;
    EXPECT_EQ(a->name, "alice");
    EXPECT_EQ(a->addr4, A("198.18.0.2"));
    EXPECT_EQ(a->addr6, A("2001:db8:1::1000"));
    auto b = s.acquire("bob", nullptr, &err);
    ASSERT_TRUE(b) << err;
    EXPECT_EQ(b->addr4, A("198.18.0.3"));
    EXPECT_EQ(b->addr6, A("2001:db8:1::1001"));

    // Reconnect while still active, and after a release: same address.
    EXPECT_EQ(s.acquire("alice", nullptr, &err)->addr4, A("198.18.0.2"));
    s.release("alice");
    s.release("alice");       // twice is harmless
    s.release("nobody");      // unknown names are ignored
    EXPECT_EQ(s.size(), 2u);  // still reserved
    auto c = s.acquire("carol", nullptr, &err);
    EXPECT_EQ(c->addr4, A("198.18.0.4"));  // a free slot, not alice's
    EXPECT_EQ(s.acquire("alice", nullptr, &err)->addr4, A("198.18.0.2"));

    ASSERT_NE(s.find_by_name("bob"), nullptr);
    EXPECT_EQ(s.find_by_name("bob")->addr4, A("198.18.0.3"));
    EXPECT_EQ(s.find_by_name("dave"), nullptr);
    ASSERT_NE(s.find_by_addr(A("198.18.0.4")), nullptr);
    EXPECT_EQ(s.find_by_addr(A("198.18.0.4"))->name, "carol");
    ASSERT_NE(s.find_by_addr(A("2001:db8:1::1001")), nullptr);
    EXPECT_EQ(s.find_by_addr(A("2001:db8:1::1001"))->name, "bob");
    EXPECT_EQ(s.find_by_addr(A("198.18.0.5")), nullptr);
    EXPECT_EQ(s.find_by_addr(A("198.18.0.1")), nullptr);
}

TEST(Lease, FreedSlotReused) {
    // A slot freed by reclaiming or by a fixed address moving is reused
    // lowest first.
    LeaseStore s(subnet24(), "");
    std::string err;
    IpAddr fixed = A("198.18.0.100");
    s.acquire("a", nullptr, &err);                     // .2
    s.acquire("b", nullptr, &err);                     // .3
    EXPECT_EQ(s.acquire("a", &fixed, &err)->addr4, fixed);  // a moves, .2 is free
    EXPECT_EQ(s.find_by_addr(A("198.18.0.2")), nullptr);
    EXPECT_EQ(s.acquire("c", nullptr, &err)->addr4, A("198.18.0.2"));
    EXPECT_EQ(s.acquire("d", nullptr, &err)->addr4, A("198.18.0.4"));
}

TEST(Lease, ExhaustionAndReclaim) {
    LeaseStore s(subnet29(), "");  // .2 ... .6
    std::string err;
    for (int i = 1; i <= 5; i++) {
        auto l = s.acquire("n" + std::to_string(i), nullptr, &err);
        ASSERT_TRUE(l) << err;
        EXPECT_EQ(l->addr4, IpAddr::v4(0xc6120000 + 1 + i));
        EXPECT_FALSE(l->addr6.is_set());
    }
    // Everything active: nothing may be taken.
    EXPECT_FALSE(s.acquire("n6", nullptr, &err));
    EXPECT_EQ(err, "address pool exhausted");

    // The lease released longest ago goes first.
    s.release("n3");
    s.release("n2");
    s.release("n4");
    EXPECT_EQ(s.acquire("n6", nullptr, &err)->addr4, A("198.18.0.4"));  // was n3's
    EXPECT_EQ(s.find_by_name("n3"), nullptr);
    // A returning name whose lease is still reserved gets it back...
    EXPECT_EQ(s.acquire("n4", nullptr, &err)->addr4, A("198.18.0.5"));
    // ...and one whose lease was reclaimed is a new name.
    EXPECT_EQ(s.acquire("n3", nullptr, &err)->addr4, A("198.18.0.3"));  // was n2's
    EXPECT_EQ(s.find_by_name("n2"), nullptr);
    EXPECT_FALSE(s.acquire("n7", nullptr, &err));
    EXPECT_EQ(err, "address pool exhausted");
    EXPECT_EQ(s.size(), 5u);
}

TEST(Lease, InvalidNames) {
    LeaseStore s(subnet24(), "");
    std::string err;
    for (const std::string &bad : std::vector<std::string>{"", "a b", "a/b", "ä", "x\n", std::string(65, 'a')}) {
        EXPECT_FALSE(s.acquire(bad, nullptr, &err)) << bad;
        EXPECT_NE(err.find("invalid client name"), std::string::npos);
    }
    EXPECT_TRUE(s.acquire(std::string(64, 'a'), nullptr, &err));
    EXPECT_TRUE(s.acquire("node-1.example_org@x", nullptr, &err));
}

TEST(Lease, FixedAddresses) {
    LeaseStore s(subnet24(), "");
    std::string err;
    IpAddr f50 = A("198.18.0.50");
    auto l = s.acquire("fixed", &f50, &err);
    ASSERT_TRUE(l) << err;
    EXPECT_EQ(l->addr4, f50);
    EXPECT_EQ(l->addr6, A("2001:db8:1::1030"));  // same slot (48) in the IPv6 pool
    EXPECT_EQ(s.acquire("other", nullptr, &err)->addr4, A("198.18.0.2"));

    // Taken by an active name.
    EXPECT_FALSE(s.acquire("thief", &f50, &err));
    EXPECT_EQ(err, "fixed address 198.18.0.50 of thief is in use by fixed");

    // Not a client address of the pool.
    for (const char *bad : {"198.19.0.50", "198.18.0.1", "198.18.0.255", "2001:db8:1::1000"}) {
        IpAddr a = A(bad);
        EXPECT_FALSE(s.acquire("x", &a, &err)) << bad;
        EXPECT_EQ(err, std::string("fixed address ") + bad +
                           " of x is not a client address of pool 198.18.0.0/24");
    }

    // An inactive holder gives way, so a newly fixed address cannot be
    // blocked forever by a stale lease.
    IpAddr f2 = A("198.18.0.2");
    EXPECT_FALSE(s.acquire("boss", &f2, &err));  // "other" is active
    s.release("other");
    EXPECT_EQ(s.acquire("boss", &f2, &err)->addr4, f2);
    EXPECT_EQ(s.find_by_name("other"), nullptr);
    EXPECT_EQ(s.find_by_addr(f2)->name, "boss");

    // Fixed in net30: only b+2 addresses qualify.
    LeaseStore n(TopologyPlan(Topology::net30, P("198.18.0.0/24"), std::nullopt), "");
    IpAddr b1 = A("198.18.0.9"), b2 = A("198.18.0.10");
    EXPECT_FALSE(n.acquire("x", &b1, &err));
    EXPECT_EQ(n.acquire("x", &b2, &err)->addr4, b2);
    EXPECT_EQ(n.acquire("y", nullptr, &err)->addr4, A("198.18.0.6"));
    EXPECT_EQ(n.acquire("z", nullptr, &err)->addr4, A("198.18.0.14"));
}

// PeerConfig list with fixed addresses, as in [Peer] sections.
std::vector<PeerConfig> fixed_peers(std::initializer_list<std::pair<const char *, const char *>> list) {
    std::vector<PeerConfig> out;
    for (auto &[name, addr] : list) {
        PeerConfig pc;
        pc.name = name;
        if (addr) pc.address = A(addr);
        out.push_back(pc);
    }
    return out;
}

// examples/server.conf: net30, branch fixed at 198.18.0.10.  The second
// dynamic client must not get it, and branch must still get it afterwards.
TEST(Lease, FixedAddressIsNeverLeasedToAnother) {
    for (Topology t : {Topology::net30, Topology::subnet}) {
        LeaseStore s(TopologyPlan(t, P("198.18.0.0/24"), std::nullopt), "");
        IpAddr fixed = A(t == Topology::net30 ? "198.18.0.10" : "198.18.0.3");
        s.set_fixed(fixed_peers({{"branch", t == Topology::net30 ? "198.18.0.10" : "198.18.0.3"}, {"laptop", nullptr}}));
        std::string err;
        std::vector<IpAddr> got;
        for (const char *name : {"alice", "bob", "carol"}) {
            auto l = s.acquire(name, nullptr, &err);
            ASSERT_TRUE(l) << err;
            EXPECT_FALSE(l->addr4 == fixed) << name << " got branch's fixed address, " << to_string(t);
            got.push_back(l->addr4);
        }
        if (t == Topology::net30) {
            EXPECT_EQ(got[0], A("198.18.0.6"));
            EXPECT_EQ(got[1], A("198.18.0.14"));
        }
        auto b = s.acquire("branch", &fixed, &err);
        ASSERT_TRUE(b) << err;
        EXPECT_EQ(b->addr4, fixed);
    }
}

// Even a full pool does not reclaim a fixed address for someone else.
TEST(Lease, FixedAddressNotReclaimedWhenFull) {
    LeaseStore s(subnet29(), "");   // 198.18.0.2 ... .6, five slots
    s.set_fixed(fixed_peers({{"branch", "198.18.0.4"}}));
    std::string err;
    for (const char *name : {"a", "b", "c", "d"}) ASSERT_TRUE(s.acquire(name, nullptr, &err)) << err;
    EXPECT_FALSE(s.acquire("e", nullptr, &err));
    EXPECT_EQ(err, "address pool exhausted");
    s.release("a");
    auto e = s.acquire("e", nullptr, &err);
    ASSERT_TRUE(e) << err;
    EXPECT_EQ(e->addr4, A("198.18.0.2"));   // a's, not branch's
    IpAddr f = A("198.18.0.4");
    EXPECT_EQ(s.acquire("branch", &f, &err)->addr4, f);
}

// A reload that fixes an address someone holds: an inactive holder yields
// at once, an active one when it disconnects; either way it moves.
TEST(Lease, ReloadAddingAFixedAddress) {
    LeaseStore s(TopologyPlan(Topology::net30, P("198.18.0.0/24"), std::nullopt), "");
    std::string err;
    IpAddr f = A("198.18.0.10");
    ASSERT_EQ(s.acquire("alice", nullptr, &err)->addr4, A("198.18.0.6"));
    ASSERT_EQ(s.acquire("bob", nullptr, &err)->addr4, f);
    s.release("bob");
    s.set_fixed(fixed_peers({{"branch", "198.18.0.10"}}));
    EXPECT_EQ(s.find_by_name("bob"), nullptr);
    EXPECT_EQ(s.acquire("branch", &f, &err)->addr4, f);
    auto bob = s.acquire("bob", nullptr, &err);
    ASSERT_TRUE(bob) << err;
    EXPECT_EQ(bob->addr4, A("198.18.0.14"));

    // Active holder: branch is refused until the holder leaves.
    LeaseStore t(TopologyPlan(Topology::net30, P("198.18.0.0/24"), std::nullopt), "");
    t.acquire("alice", nullptr, &err);
    t.acquire("bob", nullptr, &err);
    t.set_fixed(fixed_peers({{"branch", "198.18.0.10"}}));
    EXPECT_FALSE(t.acquire("branch", &f, &err));
    EXPECT_EQ(err, "fixed address 198.18.0.10 of branch is in use by bob");
    t.release("bob");
    EXPECT_EQ(t.acquire("branch", &f, &err)->addr4, f);
    EXPECT_EQ(t.acquire("bob", nullptr, &err)->addr4, A("198.18.0.14"));

    // Still connected when the reload came, and back before branch: moves.
    LeaseStore u(TopologyPlan(Topology::net30, P("198.18.0.0/24"), std::nullopt), "");
    u.acquire("alice", nullptr, &err);
    u.acquire("bob", nullptr, &err);
    u.set_fixed(fixed_peers({{"branch", "198.18.0.10"}}));
    EXPECT_EQ(u.acquire("bob", nullptr, &err)->addr4, A("198.18.0.14"));   // reconnect without a release
    EXPECT_EQ(u.acquire("branch", &f, &err)->addr4, f);
}

TEST_F(LeaseFile, MissingFileIsEmpty) {
    LeaseStore s(subnet24(), path_);
    std::string err;
    EXPECT_TRUE(s.load(&err)) << err;
    EXPECT_EQ(s.size(), 0u);
    LeaseStore none(subnet24(), "");
    EXPECT_TRUE(none.load(&err));
}

TEST_F(LeaseFile, PersistsAcrossRestart) {
    std::string err;
    {
        LeaseStore s(subnet24(), path_);
        ASSERT_TRUE(s.load(&err)) << err;
        s.acquire("alice", nullptr, &err);
        s.acquire("bob", nullptr, &err);
        s.acquire("carol", nullptr, &err);
        s.release("bob");
    }
    EXPECT_FALSE(std::filesystem::exists(path_ + ".tmp"));
    std::string text = read();
    EXPECT_EQ(text.rfind("# lanmesh address leases", 0), 0u) << text;
    // Least recently used first: bob was released after carol connected.
    EXPECT_NE(text.find("alice 198.18.0.2 2001:db8:1::1000\n"
                        "carol 198.18.0.4 2001:db8:1::1002\n"
                        "bob 198.18.0.3 2001:db8:1::1001\n"),
              std::string::npos)
        << text;
    EXPECT_EQ(std::filesystem::status(path_).permissions() & std::filesystem::perms::all,
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);

    LeaseStore s(subnet24(), path_);
    ASSERT_TRUE(s.load(&err)) << err;
    EXPECT_EQ(s.size(), 3u);
    EXPECT_EQ(s.find_by_name("carol")->addr4, A("198.18.0.4"));
    EXPECT_EQ(s.find_by_addr(A("2001:db8:1::1001"))->name, "bob");
    EXPECT_EQ(s.acquire("bob", nullptr, &err)->addr4, A("198.18.0.3"));
    EXPECT_EQ(s.acquire("dave", nullptr, &err)->addr4, A("198.18.0.5"));
}

TEST_F(LeaseFile, ReclaimOrderSurvivesRestart) {
    std::string err;
    {
        LeaseStore s(subnet29(), path_);
        for (const char *n : {"a", "b", "c", "d", "e"}) s.acquire(n, nullptr, &err);
        for (const char *n : {"d", "b", "e", "a", "c"}) s.release(n);
    }
    LeaseStore s(subnet29(), path_);
    ASSERT_TRUE(s.load(&err)) << err;
    // Full pool, nobody connected: reclaimed in the order they left.
    EXPECT_EQ(s.acquire("x1", nullptr, &err)->addr4, A("198.18.0.5"));  // d
    EXPECT_EQ(s.acquire("x2", nullptr, &err)->addr4, A("198.18.0.3"));  // b
    EXPECT_EQ(s.acquire("e", nullptr, &err)->addr4, A("198.18.0.6"));   // its own
    EXPECT_EQ(s.acquire("x3", nullptr, &err)->addr4, A("198.18.0.2"));  // a
}

TEST_F(LeaseFile, CorruptLines) {
    struct Case {
        const char *text;
        const char *error;
    } cases[] = {
        {"# c\nalice 198.18.0.2\nbob\n", ":3: expected 'name addr4 [addr6]'"},
        {"alice 198.18.0.2 2001:db8:1::1000 extra\n", ":1: expected 'name addr4 [addr6]'"},
        {"\n\nalice 198.18.0.x\n", ":3: invalid IPv4 address '198.18.0.x'"},
        {"alice 2001:db8:1::1000\n", ":1: invalid IPv4 address '2001:db8:1::1000'"},
        {"alice 198.18.0.2 198.18.0.3\n", ":1: invalid IPv6 address '198.18.0.3'"},
        {"al/ice 198.18.0.2\n", ":1: invalid name 'al/ice'"},
        {"alice 198.18.0.2\nalice 198.18.0.3\n", ":2: duplicate name 'alice'"},
        {"alice 198.18.0.2\nbob 198.18.0.2\n", ":2: address 198.18.0.2 is also leased to 'alice'"},
    };
    for (const Case &c : cases) {
        write(c.text);
        LeaseStore s(subnet24(), path_);
        std::string err;
        EXPECT_FALSE(s.load(&err)) << c.text;
        EXPECT_EQ(err, path_ + c.error);
        EXPECT_EQ(s.size(), 0u);  // nothing half loaded
    }
}

TEST_F(LeaseFile, CommentsAndLeasesOutsideThePoolDropped) {
    write("# header\n"
          "  alice\t198.18.0.2   # trailing comment\n"
          "gone 198.18.1.7 2001:db8:1::1005\n"    // outside the pool
          "server 198.18.0.1\n"                   // the server's own address
          "carol 198.18.0.200 2001:db8:ffff::1\n"  // addr6 follows the slot
          "\n");
    LeaseStore s(subnet24(), path_);
    std::string err;
    ASSERT_TRUE(s.load(&err)) << err;
    EXPECT_EQ(s.size(), 2u);
    EXPECT_EQ(s.find_by_name("gone"), nullptr);
    EXPECT_EQ(s.find_by_name("server"), nullptr);
    EXPECT_EQ(s.find_by_name("alice")->addr6, A("2001:db8:1::1000"));
    EXPECT_EQ(s.find_by_name("carol")->addr6, A("2001:db8:1::10c6"));

    // A smaller pool later drops what no longer fits.
    LeaseStore small(subnet29(), path_);
    ASSERT_TRUE(small.load(&err)) << err;
    EXPECT_EQ(small.size(), 1u);
    EXPECT_FALSE(small.find_by_name("alice")->addr6.is_set());
}

TEST_F(LeaseFile, UnwritableStateStillLeases) {
    LeaseStore s(subnet24(), dir_ + "/missing/leases");
    std::string err;
    auto l = s.acquire("alice", nullptr, &err);
    ASSERT_TRUE(l) << err;  // logged, not fatal
    EXPECT_EQ(l->addr4, A("198.18.0.2"));
}

TEST_F(LeaseFile, LeaseOnAnotherNamesFixedAddressYields) {
    write("bob 198.18.0.10\nalice 198.18.0.6\n");
    LeaseStore s(TopologyPlan(Topology::net30, P("198.18.0.0/24"), std::nullopt), path_);
    std::string err;
    ASSERT_TRUE(s.load(&err)) << err;
    s.set_fixed(fixed_peers({{"branch", "198.18.0.10"}}));
    IpAddr f = A("198.18.0.10");
    auto b = s.acquire("branch", &f, &err);
    ASSERT_TRUE(b) << err;
    EXPECT_EQ(b->addr4, f);
    EXPECT_EQ(s.acquire("bob", nullptr, &err)->addr4, A("198.18.0.14"));
    EXPECT_EQ(read().find("bob 198.18.0.10"), std::string::npos) << read();
}

}  // namespace
}  // namespace lm
