// SPDX-License-Identifier: MIT
// Control message bodies: round trips, every strictness rule, and random or
// mutated input that must be rejected without crashing.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "control/messages.h"

namespace lm {
namespace {

using Bytes = std::vector<uint8_t>;

IpAddr A(const char *s) { return IpAddr::parse(s).value(); }
Prefix P(const char *s) { return Prefix::parse(s).value(); }

struct Tlv {
    uint8_t tag;
    Bytes v;
};

std::vector<Tlv> split(const Bytes &b) {
    std::vector<Tlv> out;
    for (size_t off = 0; off + 3 <= b.size();) {
        size_t len = size_t(b[off + 1]) << 8 | b[off + 2];
        out.push_back({b[off], Bytes(b.begin() + long(off + 3), b.begin() + long(off + 3 + len))});
        off += 3 + len;
    }
    return out;
}

Bytes join(const std::vector<Tlv> &t) {
    Bytes out;
    for (const auto &f : t) {
        out.push_back(f.tag);
        out.push_back(uint8_t(f.v.size() >> 8));
        out.push_back(uint8_t(f.v.size()));
        out.insert(out.end(), f.v.begin(), f.v.end());
    }
    return out;
}

// Replaces the value of `tag` in an encoded body.
Bytes with_field(const Bytes &b, uint8_t tag, const Bytes &v) {
    auto t = split(b);
    for (auto &f : t)
        if (f.tag == tag) f.v = v;
    return join(t);
}

Bytes without_field(const Bytes &b, uint8_t tag) {
    auto t = split(b);
    std::erase_if(t, [&](const Tlv &f) { return f.tag == tag; });
    return join(t);
}

Hello full_hello() {
    Hello h;
    h.ciphers = {Cipher::chacha20poly1305, Cipher::aes256gcm};
    h.spi_s2c = 0x12345678;
    h.encap = Encapsulation::raw;
    h.local_addrs = {A("192.0.2.10"), A("2001:db8::10")};
    h.data_port = 40000;
    h.pairs = {{"bob", 0x0102030405060708ull}, {"carol.example", 9}};
    return h;
}

ConfigMsg full_config() {
    ConfigMsg c;
    c.topology = Topology::subnet;
    c.cipher = Cipher::chacha20poly1305;
    c.encap = Encapsulation::udp;
    c.spi_c2s = 0xdeadbeef;
    c.epoch = 7;
    c.local4 = A("198.18.0.5");
    c.prefix4 = 24;
    c.gateway4 = A("198.18.0.1");
    c.local6 = A("2001:db8:1::5");
    c.prefix6 = 64;
    c.routes = {{P("198.19.0.0/16"), A("198.18.0.1")},
                {P("10.0.0.0/8"), IpAddr()},
                {P("2001:db8:2::/48"), A("2001:db8:1::1")},
                {P("0.0.0.0/0"), IpAddr()}};
    c.mtu = 1400;
    c.data_port = 4500;
    c.keepalive_interval = 10;
    c.keepalive_timeout = 60;
    c.nat_keepalive = 25;
    c.rekey_after_time = 3600;
    c.rekey_after_bytes = 1ull << 40;
    c.rekey_after_packets = 1ull << 30;
    c.observed = Endpoint::parse("[2001:db8::99]:61000").value();
    c.c2c = ClientToClient::direct;
    return c;
}

ConfigMsg minimal_config() {
    ConfigMsg c;
    c.topology = Topology::net30;
    c.cipher = Cipher::aes256gcm;
    c.encap = Encapsulation::raw;
    c.spi_c2s = 256;
    c.local4 = A("198.18.0.6");
    c.prefix4 = 30;
    c.peer4 = A("198.18.0.5");
    c.gateway4 = A("198.18.0.5");
    c.mtu = 576;
    c.data_port = 4500;
    c.c2c = ClientToClient::off;
    return c;
}

void expect_same(const ConfigMsg &a, const ConfigMsg &b) {
    EXPECT_EQ(a.topology, b.topology);
    EXPECT_EQ(a.cipher, b.cipher);
    EXPECT_EQ(a.encap, b.encap);
    EXPECT_EQ(a.spi_c2s, b.spi_c2s);
    EXPECT_EQ(a.epoch, b.epoch);
    EXPECT_EQ(a.local4, b.local4);
    EXPECT_EQ(a.prefix4, b.prefix4);
    EXPECT_EQ(a.peer4, b.peer4);
    EXPECT_EQ(a.gateway4, b.gateway4);
    EXPECT_EQ(a.local6, b.local6);
    if (a.local6.is_set()) {
        EXPECT_EQ(a.prefix6, b.prefix6);
    }
    EXPECT_EQ(a.routes, b.routes);
    EXPECT_EQ(a.mtu, b.mtu);
    EXPECT_EQ(a.data_port, b.data_port);
    EXPECT_EQ(a.keepalive_interval, b.keepalive_interval);
    EXPECT_EQ(a.keepalive_timeout, b.keepalive_timeout);
    EXPECT_EQ(a.nat_keepalive, b.nat_keepalive);
    EXPECT_EQ(a.rekey_after_time, b.rekey_after_time);
    EXPECT_EQ(a.rekey_after_bytes, b.rekey_after_bytes);
    EXPECT_EQ(a.rekey_after_packets, b.rekey_after_packets);
    EXPECT_EQ(a.observed, b.observed);
    EXPECT_EQ(a.c2c, b.c2c);
}

template <class M>
std::string decode_error(const Bytes &b) {
    M m;
    std::string err;
    EXPECT_FALSE(decode(b, &m, &err));
    return err;
}

// ---- round trips ----

TEST(Message, HelloRoundTrip) {
    Hello h = full_hello(), d;
    std::string err;
    ASSERT_TRUE(validate(h, &err)) << err;
    ASSERT_TRUE(decode(encode(h), &d, &err)) << err;
    EXPECT_EQ(d.ciphers, h.ciphers);
    EXPECT_EQ(d.spi_s2c, h.spi_s2c);
    EXPECT_EQ(d.encap, h.encap);
    EXPECT_EQ(d.local_addrs, h.local_addrs);
    EXPECT_EQ(d.data_port, h.data_port);
    EXPECT_EQ(d.pairs, h.pairs);

    Hello m;  // minimal: no local addresses, auto encapsulation
    m.ciphers = {Cipher::aes256gcm};
    m.spi_s2c = 256;
    ASSERT_TRUE(decode(encode(m), &d, &err)) << err;
    EXPECT_TRUE(d.local_addrs.empty());
    EXPECT_EQ(d.encap, Encapsulation::auto_);
    EXPECT_EQ(d.data_port, 0);
}

TEST(Message, ConfigRoundTrip) {
    for (const ConfigMsg &c : {full_config(), minimal_config()}) {
        ConfigMsg d;
        std::string err;
        ASSERT_TRUE(validate(c, &err)) << err;
        ASSERT_TRUE(decode(encode(c), &d, &err)) << err;
        expect_same(c, d);
    }
    ConfigMsg c = minimal_config();
    c.topology = Topology::p2p;
    c.observed.addr = A("203.0.113.7");  // port unknown
    c.observed.port = 0;
    ConfigMsg d;
    std::string err;
    ASSERT_TRUE(decode(encode(c), &d, &err)) << err;
    expect_same(c, d);
}

TEST(Message, SmallMessagesRoundTrip) {
    std::string err;
    Rekey r{0xffffffff, 0x100}, rd;
    ASSERT_TRUE(decode(encode(r), &rd, &err)) << err;
    EXPECT_EQ(rd.epoch, r.epoch);
    EXPECT_EQ(rd.spi, r.spi);

    Ping p{0x0102030405060708ull}, pd;
    ASSERT_TRUE(decode(encode(p), &pd, &err)) << err;
    EXPECT_EQ(pd.nonce, p.nonce);
    EXPECT_EQ(encode(p), (Bytes{1, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8}));

    for (const std::string &reason : {std::string(), std::string("shutting down"), std::string(256, 'x')}) {
        Bye b{reason}, bd{"junk"};
        ASSERT_TRUE(decode(encode(b), &bd, &err)) << err;
        EXPECT_EQ(bd.reason, reason);
    }
}

TEST(Message, ByeEncodeSanitises) {
    Bye b{std::string("bad\nline\x01") + std::string(300, 'y')}, d;
    std::string err;
    ASSERT_TRUE(decode(encode(b), &d, &err)) << err;
    EXPECT_EQ(d.reason.size(), 256u);
    EXPECT_EQ(d.reason.substr(0, 9), "bad?line?");
    EXPECT_FALSE(validate(b, &err));
}

// ---- TLV strictness ----

TEST(Message, WrongFixedLength) {
    Bytes b = with_field(encode(full_hello()), 3, Bytes(7, 1));
    EXPECT_EQ(decode_error<Hello>(b), "hello: field 3 (spi_s2c) has length 7, want 4");
    b = with_field(encode(full_config()), 19, Bytes(4, 1));
    EXPECT_EQ(decode_error<ConfigMsg>(b), "config: field 19 (rekey_after_bytes) has length 4, want 8");
    b = with_field(encode(Ping{1}), 1, Bytes(9, 1));
    EXPECT_EQ(decode_error<Ping>(b), "ping: field 1 (nonce) has length 9, want 8");
    b = with_field(encode(Rekey{1, 300}), 2, Bytes{});
    EXPECT_EQ(decode_error<Rekey>(b), "rekey: field 2 (spi) has length 0, want 4");
}

TEST(Message, DuplicateField) {
    auto t = split(encode(Rekey{1, 300}));
    t.push_back(t[0]);
    EXPECT_EQ(decode_error<Rekey>(join(t)), "rekey: duplicate field 1 (epoch)");
    t = split(encode(full_config()));
    for (const auto &f : split(encode(full_config())))
        if (f.tag == 12) t.push_back(f);
    EXPECT_EQ(decode_error<ConfigMsg>(join(t)), "config: duplicate field 12 (routes)");
}

TEST(Message, UnknownField) {
    auto t = split(encode(full_hello()));
    t.insert(t.begin() + 1, Tlv{7, Bytes{0}});
    EXPECT_EQ(decode_error<Hello>(join(t)), "hello: unknown field 7 at offset 7");
    t = split(encode(Ping{1}));
    t.push_back({0, {}});
    EXPECT_NE(decode_error<Ping>(join(t)).find("unknown field 0"), std::string::npos);
    t = split(encode(full_config()));
    t.push_back({25, {1}});
    EXPECT_NE(decode_error<ConfigMsg>(join(t)).find("unknown field 25"), std::string::npos);
}

TEST(Message, MissingField) {
    EXPECT_EQ(decode_error<Hello>(without_field(encode(full_hello()), 1)),
              "hello: missing field 1 (ciphers)");
    EXPECT_EQ(decode_error<ConfigMsg>(without_field(encode(full_config()), 22)),
              "config: missing field 22 (c2c)");
    EXPECT_EQ(decode_error<Bye>(Bytes{}), "bye: missing field 1 (reason)");
    EXPECT_EQ(decode_error<Rekey>(without_field(encode(Rekey{1, 300}), 1)),
              "rekey: missing field 1 (epoch)");
    // Optional fields may be left out.
    Hello h;
    std::string err;
    EXPECT_TRUE(decode(without_field(encode(full_hello()), 4), &h, &err)) << err;
}

TEST(Message, TrailingBytesAndOverruns) {
    Bytes b = encode(Ping{5});
    b.push_back(0);
    EXPECT_EQ(decode_error<Ping>(b), "ping: 1 trailing bytes at offset 11, too short for a field");
    b.push_back(0);
    EXPECT_EQ(decode_error<Ping>(b), "ping: 2 trailing bytes at offset 11, too short for a field");
    b = encode(Ping{5});
    b[2] = 9;  // length claims one byte more than present
    EXPECT_EQ(decode_error<Ping>(b), "ping: field 1 (nonce) has length 9 but only 8 bytes follow");
    b = encode(full_config());
    b.pop_back();
    EXPECT_NE(decode_error<ConfigMsg>(b).find("only 0 bytes follow"), std::string::npos);
}

// ---- semantic checks ----

TEST(Message, HelloSemantics) {
    Bytes base = encode(full_hello());
    EXPECT_EQ(decode_error<Hello>(with_field(base, 3, {0, 0, 0, 255})),
              "hello: spi_s2c 255 is reserved, want >= 256");
    EXPECT_EQ(decode_error<Hello>(with_field(base, 1, {0, 3})), "hello: unknown cipher 3");
    EXPECT_EQ(decode_error<Hello>(with_field(base, 1, {0, 1, 0})),
              "hello: field 1 (ciphers) has length 3, want a multiple of 2");
    EXPECT_EQ(decode_error<Hello>(with_field(base, 1, {0, 1, 0, 2, 0, 1})),
              "hello: cipher aes-256-gcm listed twice");
    EXPECT_EQ(decode_error<Hello>(with_field(base, 1, {})),
              "hello: field 1 (ciphers) has length 0, want 2..128");
    EXPECT_EQ(decode_error<Hello>(with_field(base, 1, Bytes(130, 1))),
              "hello: field 1 (ciphers) has length 130, want 2..128");
    EXPECT_EQ(decode_error<Hello>(with_field(base, 2, {4})), "hello: unknown encapsulation 4");
    EXPECT_EQ(decode_error<Hello>(with_field(base, 4, {5, 1, 2, 3, 4})),
              "hello: local_addrs entry 1 has address family 5, want 4 or 6");
    EXPECT_EQ(decode_error<Hello>(with_field(base, 4, {4, 1, 2, 3, 4, 6, 1, 2, 3, 4})),
              "hello: local_addrs entry 2 is truncated");
    EXPECT_EQ(decode_error<Hello>(with_field(base, 4, {4, 0, 0, 0, 0})),
              "hello: local address 0.0.0.0 is not a unicast address");
    EXPECT_EQ(decode_error<Hello>(with_field(base, 4, {4, 224, 0, 0, 1})),
              "hello: local address 224.0.0.1 is not a unicast address");
    Bytes many;
    for (int i = 0; i < 65; i++) many.insert(many.end(), {4, 192, 0, 2, uint8_t(i + 1)});
    EXPECT_EQ(decode_error<Hello>(with_field(base, 4, many)),
              "hello: local_addrs has more than 64 entries");
    many.resize(64 * 5);
    Hello h;
    std::string err;
    EXPECT_TRUE(decode(with_field(base, 4, many), &h, &err)) << err;
    EXPECT_EQ(h.local_addrs.size(), 64u);
}

TEST(Message, ConfigSemantics) {
    Bytes base = encode(full_config());
    auto E = [](const Bytes &b) { return decode_error<ConfigMsg>(b); };
    EXPECT_EQ(E(with_field(base, 3, {0})), "config: encapsulation must be raw, udp or tls");
    EXPECT_EQ(E(with_field(base, 3, {7})), "config: unknown encapsulation 7");
    EXPECT_EQ(E(with_field(base, 1, {3})), "config: unknown topology 3");
    EXPECT_EQ(E(with_field(base, 2, {0, 0})), "config: unknown cipher 0");
    EXPECT_EQ(E(with_field(base, 22, {3})), "config: unknown client-to-client mode 3");
    EXPECT_EQ(E(with_field(base, 4, {0, 0, 0, 1})), "config: spi_c2s 1 is reserved, want >= 256");
    EXPECT_EQ(E(with_field(base, 7, {33})), "config: prefix4 33 out of range 1..32");
    EXPECT_EQ(E(with_field(base, 7, {0})), "config: prefix4 0 out of range 1..32");
    EXPECT_EQ(E(with_field(base, 11, {129})), "config: prefix6 129 out of range 1..128");
    EXPECT_EQ(E(with_field(base, 6, {0, 0, 0, 0})),
              "config: local4 0.0.0.0 is not an IPv4 unicast address");
    EXPECT_EQ(E(with_field(base, 9, {255, 255, 255, 255})),
              "config: gateway4 255.255.255.255 is not an IPv4 unicast address");
    EXPECT_EQ(E(with_field(base, 13, {0x02, 0x3f})), "config: mtu 575 out of range 576..9000");
    EXPECT_EQ(E(with_field(base, 13, {0x23, 0x29})), "config: mtu 9001 out of range 576..9000");
    EXPECT_EQ(E(with_field(base, 13, {0x04, 0xff})), "config: mtu 1279 is below 1280, too small for IPv6");
    EXPECT_EQ(E(with_field(base, 14, {0, 0})), "config: data_port is 0");
    EXPECT_EQ(E(without_field(base, 11)), "config: local6 without prefix6");
    EXPECT_EQ(E(without_field(base, 10)), "config: prefix6 without local6");
    EXPECT_EQ(E(with_field(base, 21, Bytes(7, 1))),
              "config: field 21 (observed) has length 7, want 6 or 18");
    EXPECT_EQ(E(with_field(base, 21, {0, 0, 0, 0, 0, 1})),
              "config: observed 0.0.0.0:1 is not a unicast address");
    EXPECT_EQ(E(with_field(base, 10, Bytes(16, 0xff))),
              "config: local6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff is not an IPv6 unicast address");
}

TEST(Message, ConfigTopologyNeedsPeer) {
    ConfigMsg c = minimal_config();
    std::string err;
    c.peer4 = IpAddr();
    EXPECT_FALSE(validate(c, &err));
    EXPECT_EQ(err, "config: topology net30 needs peer4");
    c.topology = Topology::p2p;
    EXPECT_EQ(decode_error<ConfigMsg>(encode(c)), "config: topology p2p needs peer4");
    c = full_config();
    c.peer4 = A("198.18.0.1");
    EXPECT_EQ(decode_error<ConfigMsg>(encode(c)), "config: topology subnet has no peer4");
}

TEST(Message, ConfigRoutes) {
    std::string err;
    auto bad = [&](std::vector<std::pair<Prefix, IpAddr>> routes) {
        ConfigMsg c = full_config();
        c.routes = std::move(routes);
        return decode_error<ConfigMsg>(encode(c));
    };
    Prefix host_bits;
    host_bits.addr = A("198.19.0.1");
    host_bits.len = 16;
    EXPECT_EQ(bad({{host_bits, IpAddr()}}), "config: route 1 198.19.0.1/16 has host bits set");
    EXPECT_EQ(bad({{P("10.0.0.0/8"), A("2001:db8::1")}}),
              "config: route 1 10.0.0.0/8 has a gateway of the other family");
    EXPECT_EQ(bad({{P("10.0.0.0/8"), A("0.0.0.0")}}),
              "config: route 1 gateway 0.0.0.0 is not a unicast address");
    EXPECT_EQ(bad({{P("10.0.0.0/8"), IpAddr()}, {P("10.0.0.0/8"), A("198.18.0.1")}}),
              "config: route 10.0.0.0/8 listed twice");
    Prefix too_long;
    too_long.addr = A("10.0.0.0");
    too_long.len = 33;
    EXPECT_EQ(bad({{too_long, IpAddr()}}), "config: route 1 prefix length 33 out of range 0..32");

    std::vector<std::pair<Prefix, IpAddr>> many;
    for (int i = 0; i < 65; i++) {
        Prefix p;
        p.addr = IpAddr::v4(0x0a000000u | uint32_t(i) << 8);
        p.len = 24;
        many.push_back({p, A("2001:db8::1")});
    }
    many.resize(64);
    for (auto &r : many) r.second = A("198.18.0.1");
    ConfigMsg c = full_config(), d;
    c.routes = many;
    ASSERT_TRUE(decode(encode(c), &d, &err)) << err;
    EXPECT_EQ(d.routes.size(), 64u);
    Prefix p;
    p.addr = IpAddr::v4(0x0b000000u);
    p.len = 8;
    c.routes.push_back({p, IpAddr()});
    EXPECT_EQ(decode_error<ConfigMsg>(encode(c)), "config: routes has more than 64 entries");
    EXPECT_FALSE(validate(c, &err));
    EXPECT_EQ(err, "config: 65 routes, at most 64 allowed");

    Bytes base = encode(full_config());
    EXPECT_EQ(decode_error<ConfigMsg>(with_field(base, 12, {4, 10, 0, 0, 0, 8, 9, 0})),
              "config: route 1 gateway has address family 9, want 0, 4 or 6");
    EXPECT_EQ(decode_error<ConfigMsg>(with_field(base, 12, {4, 10, 0, 0, 0, 8, 0, 10, 1, 2})),
              "config: route 2 has address family 10, want 4 or 6");
    EXPECT_EQ(decode_error<ConfigMsg>(with_field(base, 12, {4, 10, 0, 0, 0, 8, 4, 10, 0})),
              "config: route 1 gateway is truncated");
    EXPECT_EQ(decode_error<ConfigMsg>(with_field(base, 12, {4, 10, 0, 0, 0, 8, 0, 4, 10, 0, 0, 0})),
              "config: route 2 is truncated");
}

TEST(Message, RouteUpdate) {
    std::string err;
    RouteUpdate u, d;
    u.routes = {{P("198.19.6.0/24"), IpAddr()}, {P("2001:db8:6::/48"), A("2001:db8:1::1")}};
    ASSERT_TRUE(decode(encode(u), &d, &err)) << err;
    EXPECT_EQ(d.routes, u.routes);
    // No routes at all: the field is left out, and that decodes as empty.
    RouteUpdate none;
    EXPECT_TRUE(encode(none).empty());
    d.routes = u.routes;
    ASSERT_TRUE(decode(Bytes{}, &d, &err)) << err;
    EXPECT_TRUE(d.routes.empty());
    // The same strict route checks as in config.
    RouteUpdate twice;
    twice.routes = {{P("10.0.0.0/8"), IpAddr()}, {P("10.0.0.0/8"), A("198.18.0.1")}};
    EXPECT_EQ(decode_error<RouteUpdate>(encode(twice)), "route_update: route 10.0.0.0/8 listed twice");
    EXPECT_NE(decode_error<RouteUpdate>(Bytes{2, 0, 1, 0}).find("route_update: unknown field 2"), std::string::npos);
}

TEST(Message, RekeyAndByeSemantics) {
    EXPECT_EQ(decode_error<Rekey>(encode(Rekey{3, 255})), "rekey: spi 255 is reserved, want >= 256");
    Bytes b = with_field(encode(Bye{"x"}), 1, {'o', 'k', 0x7f});
    EXPECT_EQ(decode_error<Bye>(b), "bye: reason has a non-printable byte 0x7f at offset 2");
    b = with_field(encode(Bye{"x"}), 1, Bytes(257, 'a'));
    EXPECT_EQ(decode_error<Bye>(b), "bye: field 1 (reason) has length 257, want 0..256");
}

TEST(Message, NullErrorPointerIsFine) {
    Hello h;
    EXPECT_FALSE(decode(Bytes{1, 2}, &h, nullptr));
    EXPECT_FALSE(validate(Hello{}, nullptr));
}

// ---- hostile input ----

template <class M>
void fuzz_one(const Bytes &valid, std::mt19937 &rng, int rounds) {
    for (int i = 0; i < rounds; i++) {
        Bytes b;
        switch (rng() % 4) {
        case 0:  // pure noise
            b.resize(rng() % 300);
            for (auto &x : b) x = uint8_t(rng());
            break;
        case 1:  // flip a few bytes of a valid body
            b = valid;
            for (int k = 0, n = 1 + int(rng() % 4); k < n && !b.empty(); k++)
                b[rng() % b.size()] = uint8_t(rng());
            break;
        case 2:  // truncate
            b = valid;
            b.resize(rng() % (valid.size() + 1));
            break;
        default:  // splice in noise
            b = valid;
            for (int k = 0, n = int(rng() % 8); k < n; k++)
                b.insert(b.begin() + long(rng() % (b.size() + 1)), uint8_t(rng()));
        }
        M m;
        std::string err;
        if (!decode(b, &m, &err)) {
            ASSERT_FALSE(err.empty());
        } else {
            ASSERT_TRUE(validate(m, &err)) << err;  // whatever decodes is valid
        }
    }
}

// The mesh pairs a client still holds, listed in its HELLO (issue 9).
TEST(Message, HelloPairs) {
    Bytes base = encode(full_hello());
    auto entry = [](uint64_t id, const std::string &name) {
        Bytes b(8);
        for (int i = 0; i < 8; i++) b[i] = uint8_t(id >> (56 - 8 * i));
        b.push_back(uint8_t(name.size()));
        b.insert(b.end(), name.begin(), name.end());
        return b;
    };
    auto cat = [](Bytes a, const Bytes &b) {
        a.insert(a.end(), b.begin(), b.end());
        return a;
    };
    Hello d;
    std::string err;
    ASSERT_TRUE(decode(with_field(base, 6, entry(5, "dave")), &d, &err)) << err;
    ASSERT_EQ(d.pairs.size(), 1u);
    EXPECT_EQ(d.pairs[0], std::make_pair(std::string("dave"), uint64_t(5)));
    EXPECT_EQ(decode_error<Hello>(with_field(base, 6, entry(0, "dave"))), "hello: pair 1 has introduction 0");
    EXPECT_EQ(decode_error<Hello>(with_field(base, 6, entry(5, "da ve"))), "hello: pair 1 has a bad peer name");
    EXPECT_EQ(decode_error<Hello>(with_field(base, 6, cat(entry(5, "dave"), entry(6, "dave")))),
              "hello: pair with dave listed twice");
    Bytes cut = cat(entry(5, "dave"), entry(6, "erin"));
    cut.pop_back();
    EXPECT_EQ(decode_error<Hello>(with_field(base, 6, cut)), "hello: pair 2 has a name of bad length 4");
    Bytes empty = entry(5, "dave");
    empty[8] = 0;
    empty.resize(10);
    EXPECT_EQ(decode_error<Hello>(with_field(base, 6, empty)), "hello: pair 1 has a name of bad length 0");
    EXPECT_EQ(decode_error<Hello>(with_field(base, 6, Bytes(9, 1))),
              "hello: field 6 (pairs) has length 9, want 10..4672");
    Hello many = full_hello();
    many.pairs.clear();
    for (size_t i = 0; i <= kMaxListItems; i++) many.pairs.emplace_back("n" + std::to_string(i), i + 1);
    EXPECT_FALSE(validate(many, &err));
    EXPECT_EQ(err, "hello: 65 pairs, at most 64 allowed");
}

TEST(Message, PeerRequestIntroduction) {
    PeerRequest r{"bob", 4501, 77}, d;
    std::string err;
    ASSERT_TRUE(decode(encode(r), &d, &err)) << err;
    EXPECT_EQ(d.name, "bob");
    EXPECT_EQ(d.data_port, 4501);
    EXPECT_EQ(d.intro_id, 77u);
    ASSERT_TRUE(decode(encode(PeerRequest{"bob", 0, 0}), &d, &err)) << err;
    EXPECT_EQ(d.intro_id, 0u);   // none held: a fresh introduction
    EXPECT_EQ(decode_error<PeerRequest>(with_field(encode(PeerRequest{"bob", 0, 5}), 3, Bytes(8, 0))),
              "peer_request: intro_id 0");
}

TEST(Message, RandomInputNeverCrashes) {
    std::mt19937 rng(20240601);
    fuzz_one<Hello>(encode(full_hello()), rng, 4000);
    fuzz_one<ConfigMsg>(encode(full_config()), rng, 4000);
    fuzz_one<ConfigMsg>(encode(minimal_config()), rng, 2000);
    fuzz_one<Rekey>(encode(Rekey{1, 1000}), rng, 2000);
    fuzz_one<Ping>(encode(Ping{42}), rng, 2000);
    fuzz_one<Bye>(encode(Bye{"going away"}), rng, 2000);
    RouteUpdate u;
    u.routes = {{P("198.19.6.0/24"), IpAddr()}, {P("2001:db8:6::/48"), A("2001:db8:1::1")}};
    fuzz_one<RouteUpdate>(encode(u), rng, 2000);
    fuzz_one<PathMsg>(encode(PathMsg{Encapsulation::tls}), rng, 2000);
}

// The data-path ladder (client/path_ladder.h): Config offers the steps, the
// client's `path` names the one it uses.
TEST(Message, ConfigPathsAndPath) {
    ConfigMsg c = full_config();
    c.encap = Encapsulation::raw;
    c.paths = kPathRaw | kPathUdp | kPathTls;
    ConfigMsg d;
    std::string err;
    ASSERT_TRUE(decode(encode(c), &d, &err)) << err;
    EXPECT_EQ(d.paths, 7);
    c.paths = 0;   // absent: the encapsulation alone
    ASSERT_TRUE(decode(encode(c), &d, &err)) << err;
    EXPECT_EQ(d.paths, 0);
    c.encap = Encapsulation::tls;
    c.paths = kPathTls;
    ASSERT_TRUE(decode(encode(c), &d, &err)) << err;
    EXPECT_EQ(d.encap, Encapsulation::tls);
    c.encap = Encapsulation::raw;
    c.paths = kPathRaw | kPathUdp | kPathTls;
    Bytes base = encode(c);
    EXPECT_EQ(decode_error<ConfigMsg>(with_field(base, 23, {0})), "config: paths is 0");
    EXPECT_EQ(decode_error<ConfigMsg>(with_field(base, 23, {8})), "config: paths 0x08 has unknown bits");
    EXPECT_EQ(decode_error<ConfigMsg>(with_field(base, 23, {kPathUdp})),
              "config: paths 0x02 leave out the encapsulation raw");

    // The server's own address, for the client's NAT judgement.
    c.paths = 0;
    for (const char *a : {"198.51.100.2", "2001:db8::2"}) {
        c.server_addr = A(a);
        ASSERT_TRUE(decode(encode(c), &d, &err)) << err;
        EXPECT_EQ(d.server_addr, A(a));
    }
    EXPECT_EQ(decode_error<ConfigMsg>(with_field(encode(c), 24, {5, 1, 2, 3, 4})),
              "config: server_addr has address family 5, want 4 or 6");
    EXPECT_EQ(decode_error<ConfigMsg>(with_field(encode(c), 24, {4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})),
              "config: server_addr has trailing bytes");

    for (Encapsulation e : {Encapsulation::raw, Encapsulation::udp, Encapsulation::tls}) {
        PathMsg p;
        ASSERT_TRUE(decode(encode(PathMsg{e}), &p, &err)) << err;
        EXPECT_EQ(p.encap, e);
    }
    EXPECT_EQ(decode_error<PathMsg>(encode(PathMsg{Encapsulation::auto_})),
              "path: encapsulation must be raw, udp or tls");
    EXPECT_EQ(decode_error<PathMsg>(Bytes{1, 0, 1, 9}), "path: unknown encapsulation 9");
    EXPECT_NE(decode_error<PathMsg>(Bytes{}).find("missing"), std::string::npos);
}

// The first message of a server-to-server channel (docs/DESIGN.md §11).
TEST(Message, ServerHello) {
    ServerHello h{"srv-a", 4096, {Cipher::chacha20poly1305, Cipher::aes256gcm}}, d;
    std::string err;
    ASSERT_TRUE(decode(encode(h), &d, &err)) << err;
    EXPECT_EQ(d.name, "srv-a");
    EXPECT_EQ(d.spi, 4096u);
    ASSERT_EQ(d.ciphers.size(), 2u);
    EXPECT_EQ(d.ciphers[0], Cipher::chacha20poly1305);
    EXPECT_EQ(decode_error<ServerHello>(encode(ServerHello{"srv-a", 255, {Cipher::aes256gcm}})),
              "server_hello: spi 255 is reserved (< 256)");
    EXPECT_EQ(decode_error<ServerHello>(encode(ServerHello{"a b", 4096, {Cipher::aes256gcm}})),
              "server_hello: bad peer name");
    EXPECT_NE(decode_error<ServerHello>(encode(ServerHello{"srv-a", 4096, {}})), "");
    std::mt19937 rng(20261202);
    fuzz_one<ServerHello>(encode(h), rng, 2000);
}

// The mesh across servers (server/server_xmesh.cc).
TEST(Message, ServerIntroAndKey) {
    ServerIntro m;
    m.intro_id = 77;
    m.to = "bob";
    m.info.intro_id = 77;
    m.info.name = "alice";
    m.info.cert = Bytes(300, 0x30);
    m.info.addrs = {A("198.18.0.2")};
    m.info.candidates = {*Endpoint::parse("203.0.113.1:4500")};
    m.ciphers = {Cipher::aes256gcm};
    ServerIntro d;
    std::string err;
    ASSERT_TRUE(decode(encode(m), &d, &err)) << err;
    EXPECT_EQ(d.to, "bob");
    EXPECT_EQ(d.info.name, "alice");
    EXPECT_FALSE(d.answer);
    EXPECT_FALSE(d.takeup);
    m.takeup = true;   // answer 2: take up a pair the sender's node still holds
    ASSERT_TRUE(decode(encode(m), &d, &err)) << err;
    EXPECT_TRUE(d.takeup);
    EXPECT_FALSE(d.answer);
    Bytes three = encode(m);
    for (size_t i = 0; i + 3 < three.size(); i++)   // the answer field: tag 2, length 1
        if (three[i] == 2 && three[i + 1] == 0 && three[i + 2] == 1 && three[i + 3] == 2) {
            three[i + 3] = 3;
            break;
        }
    EXPECT_EQ(decode_error<ServerIntro>(three), "server_intro: answer 3 (0, 1 or 2)");
    m.takeup = false;
    m.info.intro_id = 78;   // the inner PeerInfo must be of the same introduction
    EXPECT_EQ(decode_error<ServerIntro>(encode(m)), "server_intro: info for another introduction");
    m.info.intro_id = 77;
    std::mt19937 rng(20261203);
    for (int i = 0; i < 3000; i++) {   // hostile bytes never crash the nested decode
        Bytes b = encode(m);
        for (int k = 0; k < 4; k++) b[rng() % b.size()] = uint8_t(rng());
        decode(b, &d, &err);
    }
    ServerKey k;
    k.from = "alice";
    k.key.intro_id = 77;
    k.key.name = "bob";
    k.key.epoch = 1;
    k.key.spi = 4096;
    k.key.sig = Bytes(64, 1);
    ServerKey kd;
    ASSERT_TRUE(decode(encode(k), &kd, &err)) << err;
    EXPECT_EQ(kd.from, "alice");
    EXPECT_EQ(kd.key.name, "bob");
    EXPECT_EQ(kd.key.spi, 4096u);
    k.from = "a b";
    EXPECT_EQ(decode_error<ServerKey>(encode(k)), "server_key: bad peer name");
}

}  // namespace
}  // namespace lm
