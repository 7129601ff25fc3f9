// SPDX-License-Identifier: MIT
// The registry's HTTP client and etcd encodings (pure), and the etcd-backed
// leases against a real etcd.  The EtcdLive tests need LM_ETCD (an endpoint
// URL): tests/netns/88-registry-etcd.sh starts an etcd in a namespace, sets
// it, and fails if any of them is skipped.
#include <cstdlib>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "registry/etcd.h"
#include "registry/revoked.h"
#include "registry/etcd_leases.h"
#include "registry/http.h"
#include "registry/server_directory.h"
#include "common/http_url.h"

namespace lm {
namespace {

IpAddr A(const char *s) { return *IpAddr::parse(s); }

TEST(HttpUrl, ParsesEndpointUrls) {
    std::string err;
    auto u = HttpUrl::parse("http://192.0.2.9:2379", &err);
    ASSERT_TRUE(u) << err;
    EXPECT_FALSE(u->tls);
    EXPECT_EQ(u->host, "192.0.2.9");
    EXPECT_EQ(u->port, 2379);
    u = HttpUrl::parse("https://[2001:db8::9]:2379", &err);
    ASSERT_TRUE(u) << err;
    EXPECT_TRUE(u->tls);
    EXPECT_EQ(u->host, "2001:db8::9");
    EXPECT_EQ(u->str(), "https://[2001:db8::9]:2379");
    u = HttpUrl::parse("https://etcd-1.example:2379", &err);
    ASSERT_TRUE(u) << err;
    EXPECT_EQ(u->host, "etcd-1.example");
}

TEST(HttpUrl, RefusesWithTheReason) {
    std::string err;
    EXPECT_FALSE(HttpUrl::parse("192.0.2.9:2379", &err));
    EXPECT_NE(err.find("http://"), std::string::npos) << err;
    EXPECT_FALSE(HttpUrl::parse("http://192.0.2.9", &err));
    EXPECT_NE(err.find("port is missing"), std::string::npos) << err;
    EXPECT_FALSE(HttpUrl::parse("http://192.0.2.9:2379/v3", &err));
    EXPECT_FALSE(HttpUrl::parse("http://192.0.2.9:0", &err));
    EXPECT_FALSE(HttpUrl::parse("http://192.0.2.9:65536", &err));
    EXPECT_FALSE(HttpUrl::parse("http://[2001:db8::9:2379", &err));
    EXPECT_FALSE(HttpUrl::parse("http://user@host:2379", &err));
    EXPECT_FALSE(HttpUrl::parse("http://[192.0.2.9]:2379", &err));
}

using St = HttpResponseParser::State;

St feed_bytewise(HttpResponseParser &p, const std::string &s) {
    St st = St::more;
    for (char c : s) {
        st = p.feed(&c, 1);
        if (st != St::more) break;
    }
    return st;
}

TEST(HttpResponseParser, ContentLengthEvenByteByByte) {
    HttpResponseParser p;
    EXPECT_EQ(feed_bytewise(p, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\ncontent-length: 7\r\n\r\n{\"a\":1}"),
              St::done);
    EXPECT_EQ(p.response().status, 200);
    EXPECT_EQ(p.response().body, "{\"a\":1}");
}

TEST(HttpResponseParser, ChunkedWithTrailersAndTheFirstChunkOnly) {
    std::string chunked = "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "5\r\n{\"a\":\r\n3;ext=1\r\n12}\r\n0\r\nGrpc-Trailer: x\r\n\r\n";
    HttpResponseParser p;
    EXPECT_EQ(feed_bytewise(p, chunked), St::done);
    EXPECT_EQ(p.response().status, 404);
    EXPECT_EQ(p.response().body, "{\"a\":12}");
    // A stream (etcd's lease keep-alive) answers one chunk and stays open.
    HttpResponseParser first(true);
    EXPECT_EQ(first.feed(chunked.data(), chunked.size()), St::done);
    EXPECT_EQ(first.response().body, "{\"a\":");
}

TEST(HttpResponseParser, BodyUntilCloseAndEarlyClose) {
    HttpResponseParser p;
    std::string s = "HTTP/1.0 200 OK\r\n\r\nabc";
    EXPECT_EQ(p.feed(s.data(), s.size()), St::more);
    EXPECT_EQ(p.eof(), St::done);
    EXPECT_EQ(p.response().body, "abc");
    HttpResponseParser q;
    s = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
    EXPECT_EQ(q.feed(s.data(), s.size()), St::more);
    EXPECT_EQ(q.eof(), St::error);
    EXPECT_NE(q.error().find("middle of the body"), std::string::npos);
}

TEST(HttpResponseParser, HostileResponsesFailCleanly) {
    const char *bad[] = {
        "SSH-2.0-OpenSSH\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 200OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffff\r\n",
    };
    for (const char *b : bad) {
        HttpResponseParser p;
        std::string s = b;
        EXPECT_EQ(p.feed(s.data(), s.size()), St::error) << b;
        EXPECT_FALSE(p.error().empty());
    }
    // An endless head or body is cut at its bound, not buffered forever.
    HttpResponseParser p;
    std::string junk(HttpResponseParser::kMaxHead + 10, 'x');
    EXPECT_EQ(p.feed(junk.data(), junk.size()), St::error);
    HttpResponseParser q;
    std::string head = "HTTP/1.1 200 OK\r\n\r\n";
    q.feed(head.data(), head.size());
    std::string body(HttpResponseParser::kMaxBody + 1, 'y');
    EXPECT_EQ(q.feed(body.data(), body.size()), St::error);
}

TEST(EtcdEncoding, Base64RoundTripAndStrictness) {
    for (const std::string &s : std::vector<std::string>{"", "a", "ab", "abc", "/lanmesh/net/addr/198.18.0.2",
                                                          std::string("\0\xff\x10", 3)}) {
        std::string back;
        ASSERT_TRUE(base64_decode(base64_encode(s), &back)) << s;
        EXPECT_EQ(back, s);
    }
    EXPECT_EQ(base64_encode("foo"), "Zm9v");
    std::string out;
    EXPECT_FALSE(base64_decode("Zm9", &out));
    EXPECT_FALSE(base64_decode("Zm=v", &out));
    EXPECT_FALSE(base64_decode("Zm9v!!!!", &out));
}

TEST(EtcdEncoding, PrefixEnd) {
    EXPECT_EQ(prefix_end("/a/"), "/a0");
    EXPECT_EQ(prefix_end(std::string("a\xff", 2)), "b");
    EXPECT_EQ(prefix_end(""), std::string(1, '\0'));
}

// ---- against a real etcd --------------------------------------------------

class EtcdLive : public ::testing::Test {
protected:
    void SetUp() override {
        const char *url = std::getenv("LM_ETCD");
        if (!url) GTEST_SKIP() << "LM_ETCD is not set (tests/netns/88-registry-etcd.sh sets it)";
        std::string err;
        auto u = HttpUrl::parse(url, &err);
        ASSERT_TRUE(u) << err;
        opts_.endpoints = {*u};
        // A prefix of its own per test, so runs never see each other's keys.
        prefix_ = std::string("/lanmesh-test/") + ::testing::UnitTest::GetInstance()->current_test_info()->name() +
                  "/" + std::to_string(getpid()) + "/";
    }
    EtcdOptions opts_;
    std::string prefix_;
};

TEST_F(EtcdLive, KeysTransactionsAndLeases) {
    Etcd e(opts_);
    std::string err;
    ASSERT_TRUE(e.put(prefix_ + "k", "v1", 0, &err)) << err;
    std::optional<EtcdKv> kv;
    ASSERT_TRUE(e.get(prefix_ + "k", &kv, &err)) << err;
    ASSERT_TRUE(kv);
    EXPECT_EQ(kv->value, "v1");
    bool won = true;
    // Create-if-absent fails on an existing key and writes nothing.
    ASSERT_TRUE(e.txn({{prefix_ + "k", EtcdCompare::Target::create_revision, 0, {}}},
                      {{EtcdOp::Kind::put, prefix_ + "k", "v2", 0}}, &won, &err)) << err;
    EXPECT_FALSE(won);
    ASSERT_TRUE(e.txn({{prefix_ + "k", EtcdCompare::Target::mod_revision, kv->mod_revision, {}}},
                      {{EtcdOp::Kind::put, prefix_ + "k", "v2", 0}}, &won, &err)) << err;
    EXPECT_TRUE(won);
    std::vector<EtcdKv> all;
    ASSERT_TRUE(e.list(prefix_, &all, &err)) << err;
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0].value, "v2");

    int64_t lease = 0, left = 0;
    ASSERT_TRUE(e.lease_grant(30, &lease, &err)) << err;
    ASSERT_TRUE(e.put(prefix_ + "leased", "x", lease, &err)) << err;
    ASSERT_TRUE(e.lease_keepalive(lease, &left, &err)) << err;
    EXPECT_GT(left, 0);
    ASSERT_TRUE(e.lease_revoke(lease, &err)) << err;
    ASSERT_TRUE(e.get(prefix_ + "leased", &kv, &err)) << err;
    EXPECT_FALSE(kv) << "a revoked lease takes its keys with it";
    ASSERT_TRUE(e.del(prefix_ + "k", &err)) << err;
    ASSERT_TRUE(e.get(prefix_ + "k", &kv, &err)) << err;
    EXPECT_FALSE(kv);
}

TEST_F(EtcdLive, AnUnreachableMemberIsSkipped) {
    std::string err;
    EtcdOptions o = opts_;
    // TEST-NET-1 .254 is never configured in the test network: connect times out.
    o.endpoints.insert(o.endpoints.begin(), *HttpUrl::parse("http://192.0.2.254:2379", &err));
    o.timeout_ms = 300;
    Etcd e(o);
    ASSERT_TRUE(e.put(prefix_ + "k", "v", 0, &err)) << err;
    EXPECT_EQ(e.endpoint_in_use(), opts_.endpoints[0].str());
    EtcdOptions none = opts_;
    none.endpoints = {*HttpUrl::parse("http://192.0.2.254:2379", &err)};
    none.timeout_ms = 300;
    Etcd dead(none);
    EXPECT_FALSE(dead.put(prefix_ + "k", "v", 0, &err));
    EXPECT_NE(err.find("etcd unreachable"), std::string::npos) << err;
    EXPECT_NE(err.find("192.0.2.254"), std::string::npos) << err;
}

// Two servers admit 24 nodes each at the same time from one /26 subnet pool
// (61 client slots): every address is handed out once, and a node gets the
// same address from either server.
TEST_F(EtcdLive, TwoServersNeverHandOutOneAddressTwice) {
    TopologyPlan plan(Topology::subnet, *Prefix::parse("198.18.0.0/26"), std::nullopt);
    std::map<std::string, IpAddr> got[2];
    std::string errs[2];
    auto run = [&](int server) {
        Etcd e(opts_);
        EtcdLeases l(e, prefix_, plan, "server-" + std::to_string(server));
        for (int i = 0; i < 24; i++) {
            std::string name = "node-" + std::to_string(server) + "-" + std::to_string(i);
            std::string err;
            auto a = l.acquire(name, &err);
            if (!a) {
                errs[server] += name + ": " + err + "; ";
                continue;
            }
            got[server][name] = *a;
        }
    };
    std::thread t0(run, 0), t1(run, 1);
    t0.join();
    t1.join();
    ASSERT_EQ(errs[0] + errs[1], "");
    std::set<IpAddr> seen;
    for (auto &g : got)
        for (auto &[name, a] : g) EXPECT_TRUE(seen.insert(a).second) << a.str() << " handed out twice";
    EXPECT_EQ(seen.size(), 48u);

    // node-0-3 leaves server 0 and comes to server 1: the same address.
    Etcd e(opts_);
    EtcdLeases s0(e, prefix_, plan, "server-0"), s1(e, prefix_, plan, "server-1");
    std::string err;
    ASSERT_TRUE(s0.release("node-0-3", &err)) << err;
    auto again = s1.acquire("node-0-3", &err);
    ASSERT_TRUE(again) << err;
    EXPECT_EQ(*again, got[0]["node-0-3"]);
    // Server 0 releasing it late does not take it offline on server 1.
    ASSERT_TRUE(s0.release("node-0-3", &err)) << err;
    std::optional<EtcdKv> online;
    ASSERT_TRUE(e.get(s1.online_key("node-0-3"), &online, &err)) << err;
    ASSERT_TRUE(online);
    EXPECT_EQ(online->value, "server-1");
}

// Found by make bench's registry rows: two servers admitting 1,000 nodes at
// once both chased the lowest free slot, and a node whose server lost that
// race 16 times in a row was refused ("address allocation lost 16 races").
// Eight servers admitting at once, 60 nodes each: nobody is refused.
TEST_F(EtcdLive, ServersAdmittingAtOnceDoNotStarveEachOther) {
    TopologyPlan plan(Topology::subnet, *Prefix::parse("198.18.0.0/22"), std::nullopt);
    constexpr int kServers = 8, kNodes = 60;
    std::map<std::string, IpAddr> got[kServers];
    std::string errs[kServers];
    auto run = [&](int server) {
        Etcd e(opts_);
        EtcdLeases l(e, prefix_, plan, "server-" + std::to_string(server));
        for (int i = 0; i < kNodes; i++) {
            std::string name = "node-" + std::to_string(server) + "-" + std::to_string(i);
            std::string err;
            if (auto a = l.acquire(name, &err))
                got[server][name] = *a;
            else
                errs[server] += name + ": " + err + "; ";
        }
    };
    std::vector<std::thread> ts;
    for (int i = 0; i < kServers; i++) ts.emplace_back(run, i);
    for (auto &t : ts) t.join();
    std::string all;
    for (auto &e : errs) all += e;
    EXPECT_EQ(all.substr(0, 300), "");
    std::set<IpAddr> seen;
    for (auto &g : got)
        for (auto &[name, a] : g) EXPECT_TRUE(seen.insert(a).second) << a.str() << " handed out twice";
    EXPECT_EQ(seen.size(), size_t(kServers * kNodes));
}

TEST_F(EtcdLive, FixedAddressesAndReclaimingOfflineNodes) {
    // 198.18.0.0/29 subnet: client slots .2 .. .6.
    TopologyPlan plan(Topology::subnet, *Prefix::parse("198.18.0.0/29"), std::nullopt);
    Etcd e(opts_);
    EtcdLeases a(e, prefix_, plan, "a"), b(e, prefix_, plan, "b");
    std::map<IpAddr, std::string> fixed{{A("198.18.0.2"), "printer"}};
    a.set_fixed(fixed);
    b.set_fixed(fixed);
    std::string err;
    // .2 is the printer's even before it ever connected.
    auto n1 = a.acquire("n1", &err);
    ASSERT_TRUE(n1) << err;
    EXPECT_EQ(*n1, A("198.18.0.3"));
    auto pr = b.acquire("printer", &err);
    ASSERT_TRUE(pr) << err;
    EXPECT_EQ(*pr, A("198.18.0.2"));
    for (const char *n : {"n2", "n3", "n4"}) ASSERT_TRUE(a.acquire(n, &err)) << err;
    // The pool is full of online nodes: refused, nothing taken.
    EXPECT_FALSE(b.acquire("n5", &err));
    EXPECT_EQ(err, "address pool exhausted");
    // n1 goes offline: n5 gets n1's address; n1 coming back gets a new one
    // only if there is one (there is not: n5 took the last).
    ASSERT_TRUE(a.release("n1", &err)) << err;
    auto n5 = b.acquire("n5", &err);
    ASSERT_TRUE(n5) << err;
    EXPECT_EQ(*n5, A("198.18.0.3"));
    EXPECT_FALSE(a.acquire("n1", &err));
    // A fixed address held online by someone else is refused with the holder.
    std::map<IpAddr, std::string> fixed2{{A("198.18.0.2"), "printer"}, {A("198.18.0.4"), "laptop"}};
    a.set_fixed(fixed2);
    EXPECT_FALSE(a.acquire("laptop", &err));
    EXPECT_NE(err.find("in use by n2"), std::string::npos) << err;
    // Once the holder is offline, the fixed owner takes it over.
    ASSERT_TRUE(a.release("n2", &err)) << err;
    auto lap = a.acquire("laptop", &err);
    ASSERT_TRUE(lap) << err;
    EXPECT_EQ(*lap, A("198.18.0.4"));
}

// server/<name> (docs/DESIGN.md §11): what one server writes another reads;
// a record without a peer channel or with a bad endpoint is refused.
TEST(ServerDirectory, RecordRoundTripAndHostileValues) {
    ServerRecord r;
    r.addr = *Endpoint::parse("192.0.2.1:4500");
    r.peer = *Endpoint::parse("192.0.2.1:4501");
    r.data = *Endpoint::parse("[2001:db8::1]:4500");
    ServerRecord d;
    std::string err;
    ASSERT_TRUE(parse_server_record(server_record_json(r), &d, &err)) << err;
    EXPECT_TRUE(d == r);
    // Members another part of the server adds are ignored; "addr" is optional.
    ASSERT_TRUE(parse_server_record(R"({"peer":"192.0.2.2:4501","data":"192.0.2.2:4500","nodes":3})", &d, &err))
        << err;
    EXPECT_EQ(d.peer.port, 4501);
    EXPECT_FALSE(d.addr.port);
    for (const char *bad : {"", "[]", "{}", R"({"addr":"192.0.2.1:4500"})", R"({"peer":"192.0.2.2","data":"192.0.2.2:4500"})",
                            R"({"peer":4501,"data":"192.0.2.2:4500"})", R"({"peer":"x:1","data":"192.0.2.2:4500"})",
                            R"({"peer":"192.0.2.2:4501","data":"192.0.2.2:4500")"}) {
        err.clear();
        EXPECT_FALSE(parse_server_record(bad, &d, &err)) << bad;
        EXPECT_FALSE(err.empty()) << bad;
    }
}

// One server/<name> record for every reader: the registry view (address,
// nodes held) and the server channels (addr, peer, data) read what the one
// writer puts there, with or without a PeerAddress.
TEST(ServerDirectory, OneRecordServesBothReaders) {
    ServerRecord ch;
    ch.addr = *Endpoint::parse("192.0.2.1:4500");
    ch.peer = *Endpoint::parse("192.0.2.1:4501");
    ch.data = *Endpoint::parse("192.0.2.1:4500");
    ServerValue v = parse_server_value(server_value_json("192.0.2.1:4500", 7, &ch));
    EXPECT_EQ(v.address, "192.0.2.1:4500");
    EXPECT_EQ(v.nodes, 7u);
    EXPECT_TRUE(v.has_channel);
    ASSERT_TRUE(v.channel_ok);
    EXPECT_TRUE(v.channel == ch);
    // The channel's own parser takes the whole record too.
    ServerRecord d;
    std::string err;
    ASSERT_TRUE(parse_server_record(server_value_json("192.0.2.1:4500", 7, &ch), &d, &err)) << err;
    EXPECT_TRUE(d == ch);

    // Without a PeerAddress: a live server, no channel, nothing skipped.
    v = parse_server_value(server_value_json("192.0.2.2:4500", 0, nullptr));
    EXPECT_EQ(v.address, "192.0.2.2:4500");
    EXPECT_FALSE(v.has_channel);
    // A broken channel is seen as such; a value that is not an object
    // still names a live server.
    v = parse_server_value(R"({"address":"192.0.2.3:4500","nodes":2,"peer":"x","data":"192.0.2.3:4500"})");
    EXPECT_EQ(v.nodes, 2u);
    EXPECT_TRUE(v.has_channel);
    EXPECT_FALSE(v.channel_ok);
    v = parse_server_value("not json");
    EXPECT_EQ(v.address, "");
    EXPECT_FALSE(v.has_channel);

    // online/ and node/ joined: online nodes with an IPv4 address only.
    std::vector<EtcdKv> online = {{"/n/online/a", "srv1"}, {"/n/online/b", "srv2"}, {"/n/online/c", "srv2"},
                                  {"/n/online/\x01", "srv2"}};
    std::vector<EtcdKv> node = {{"/n/node/a", "198.18.0.2"}, {"/n/node/b", "2001:db8::2"}, {"/n/node/d", "198.18.0.4"}};
    ServerDirectory dir;
    join_online_nodes("/n/", online, node, &dir);
    ASSERT_EQ(dir.nodes.size(), 1u);
    EXPECT_EQ(dir.nodes["a"].server, "srv1");
    EXPECT_EQ(dir.nodes["a"].addr4, *IpAddr::parse("198.18.0.2"));
}

}  // namespace
}  // namespace lm

// Ids under revoked/ are input written by other servers: only
// "<hex serial>@<8 hex digits>" is taken.
TEST(RegistryRevoked, IdsAreStrict) {
    EXPECT_TRUE(lm::valid_revoked_id("1f@0a1b2c3d"));
    EXPECT_TRUE(lm::valid_revoked_id("0123456789abcdef@deadbeef"));
    for (const char *bad : {"", "@0a1b2c3d", "1f@", "1f", "1F@0a1b2c3d", "1f@0a1b2c3", "1f@0a1b2c3d0", "1f@0a1b2c3g",
                            "1f@@a1b2c3d", "1 f@0a1b2c3d", "../x@0a1b2c3d"})
        EXPECT_FALSE(lm::valid_revoked_id(bad)) << bad;
    EXPECT_FALSE(lm::valid_revoked_id(std::string(65, 'a') + "@0a1b2c3d"));
    EXPECT_EQ(lm::revoked_id(nullptr), "");
}
