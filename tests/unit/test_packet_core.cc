// SPDX-License-Identifier: MIT
// The data path's per-packet decisions (data/packet_core.h), with no socket
// and no TUN: each test builds the state (SAs, tunnels, routes, a role's
// policy), hands the core one packet and checks the verdict and the
// counters.  Every drop reason the core decides is hit by one case in
// EveryDropReasonIsCountedOnce, and every forwarding case (deliver, relay,
// blind forward, the uplink as default route, dummies answered or not,
// address learning) has a test of its own.
//
// Addresses: overlay 198.18.0.0/24 (pool), 198.18.1.0/24 (a network behind
// client A), underlay 192.0.2.0/24 and 198.51.100.0/24.
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <cstring>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

#include "common/bytes.h"
#include "data/mtu_probe.h"
#include "data/packet_core.h"
#include "esp/esp.h"

namespace lm {
namespace {

using Bytes = std::vector<uint8_t>;

IpAddr ip(const char *s) { return *IpAddr::parse(s); }
Prefix pfx(const char *s) { return *Prefix::parse(s); }
Endpoint ep(const char *s) { return *Endpoint::parse(s); }

KeyMaterial key(uint8_t b) {
    KeyMaterial k;
    std::memset(k.key, b, sizeof k.key);
    std::memset(k.salt, uint8_t(b ^ 0xa5), sizeof k.salt);
    return k;
}

// An IPv4 packet of `proto` with 8 bytes of ports/payload behind the header.
Bytes ipv4(const char *src, const char *dst, uint8_t proto = 17, uint16_t sport = 1000, uint16_t dport = 2000,
           size_t payload = 8) {
    Bytes p(20 + 8 + payload, 0);
    p[0] = 0x45;
    store_be16(p.data() + 2, uint16_t(p.size()));
    p[8] = 64;
    p[9] = proto;
    std::memcpy(p.data() + 12, ip(src).b, 4);
    std::memcpy(p.data() + 16, ip(dst).b, 4);
    store_be16(p.data() + 20, sport);
    store_be16(p.data() + 22, dport);
    return p;
}

// A TCP SYN with an MSS option of 1460.
Bytes tcp_syn(const char *src, const char *dst) {
    Bytes p(20 + 24, 0);
    p[0] = 0x45;
    store_be16(p.data() + 2, uint16_t(p.size()));
    p[8] = 64;
    p[9] = IPPROTO_TCP;
    std::memcpy(p.data() + 12, ip(src).b, 4);
    std::memcpy(p.data() + 16, ip(dst).b, 4);
    p[32] = 6 << 4;   // data offset: 24 bytes
    p[33] = 0x02;     // SYN
    p[40] = 2;        // MSS
    p[41] = 4;
    store_be16(p.data() + 42, 1460);
    return p;
}

// A peer: the SA we receive on (spi_in, sealed by the peer with `kin`) and
// the one we send on.
struct Peer {
    Tunnel t;
    KeyMaterial kin;
    uint32_t next_seq = 1;

    Peer(const char *name, SaTable &sas, uint32_t spi_in, uint8_t k) : kin(key(k)) {
        t.name = name;
        t.encap = Encapsulation::udp;
        t.udp_sock = 0;
        t.in_cur = std::make_unique<InboundSa>();
        t.in_cur->spi = spi_in;
        t.in_cur->tunnel = &t;
        EXPECT_TRUE(t.in_cur->keys.set(Cipher::aes256gcm, kin, false));
        sas.insert(t.in_cur.get());
        t.out = std::make_unique<OutboundSa>();
        t.out->spi = spi_in + 0x100;
        EXPECT_TRUE(t.out->keys.set(Cipher::aes256gcm, key(uint8_t(k + 100)), true));
    }
    // ESP as the peer seals it; an empty `inner` is a dummy.
    // `dummy`: a dummy padded with `inner` (data/mtu_probe.h).
    Bytes seal(const Bytes &inner, uint32_t seq = 0, uint32_t spi = 0, bool dummy = false) const {
        Aead a;
        EXPECT_TRUE(a.init(Cipher::aes256gcm, kin, true));
        Bytes out(inner.size() + 64);
        uint8_t nh = dummy || inner.empty() ? kNextHeaderDummy : kNextHeaderIpv4;
        size_t n = esp_seal(a, spi ? spi : t.in_cur->spi, seq, nh, inner.data(), inner.size(), out.data(),
                            out.size());
        EXPECT_GT(n, 0u);
        out.resize(n);
        return out;
    }
    Bytes next(const Bytes &inner) { return seal(inner, next_seq++); }
    Bytes next_dummy(const Bytes &padding) { return seal(padding, next_seq++, 0, true); }
};

// The state of one engine: a server with clients A (198.18.0.2 and the
// network 198.18.1.0/24 behind it) and B (198.18.0.3), or a client whose
// uplink is the server and whose pair is B.
struct Engine {
    SaTable sas;
    DataCounters c;
    RouteTable routes;
    std::unordered_map<uint32_t, Tunnel *> forward;
    DataPolicy policy;
    PacketCore core{c, sas, 0, policy};
    Peer a{"a", sas, 0x1000, 1};
    Peer b{"b", sas, 0x2000, 2};
    Endpoint a_at = ep("192.0.2.10:4500"), b_at = ep("198.51.100.20:4500");

    explicit Engine(bool server) {
        a.t.udp_peer = a_at;
        b.t.udp_peer = b_at;
        if (server) {
            policy = DataPolicy::server(ClientToClient::relay, &routes, nullptr);
            policy.overlay = {pfx("198.18.0.0/24")};
            a.t.is_client = b.t.is_client = true;
            a.t.allowed_src = {pfx("198.18.0.2/32"), pfx("198.18.1.0/24")};
            b.t.allowed_src = {pfx("198.18.0.3/32")};
            for (auto &p : a.t.allowed_src) routes.add(p, &a.t);
            for (auto &p : b.t.allowed_src) routes.add(p, &b.t);
        } else {
            // `a` is the uplink (the server), `b` a pair reached directly.
            policy = DataPolicy::client(&a.t, &routes);
            policy.overlay = {pfx("198.18.0.2/32")};
            routes.add(pfx("198.18.0.3/32"), &b.t);
        }
        core.now = 1000;
    }
    void direct() {
        policy.c2c = ClientToClient::direct;
        policy.forward = &forward;
    }
    EspVerdict rx(Bytes &esp, const Endpoint &from, int udp_idx = 0) {
        return core.open_esp(esp.data(), esp.size(), from, udp_idx);
    }
    // A decrypted packet all the way: ESP then its inner verdict.
    InnerVerdict rx_inner(Bytes &esp, const Endpoint &from) {
        EspVerdict v = rx(esp, from);
        EXPECT_EQ(v.action, EspVerdict::decrypted);
        if (v.action != EspVerdict::decrypted) return {};
        return core.route_decrypted(*v.tunnel, v.inner, v.inner_len, v.next_header);
    }
    TunVerdict tun(Bytes p) { return core.route_tun_packet(p.data(), p.size()); }
};

// ---- every drop reason the core decides, each counted exactly once

struct DropCase {
    Drop why;
    bool server;
    std::function<void(Engine &)> run;
};

const std::vector<DropCase> &drop_cases() {
    static const std::vector<DropCase> cases = {
        {Drop::udp_runt, true,
         [](Engine &e) {
             Bytes p(kEspMinLen - 1, 0x11);
             EXPECT_EQ(e.core.classify_udp(p.data(), p.size(), e.a_at), UdpKind::drop);
         }},
        {Drop::raw_runt, true,
         [](Engine &e) {
             Bytes p(kEspMinLen - 1, 0x11);   // an IPv6 raw read carries no IP header
             uint8_t *esp;
             size_t n;
             EXPECT_EQ(e.core.strip_raw(p.data(), p.size(), false, e.a_at, &esp, &n), Drop::raw_runt);
         }},
        {Drop::unknown_spi, true,
         [](Engine &e) {
             Bytes p = e.a.seal(ipv4("198.18.0.2", "198.18.0.1"), 1, 0x7777);
             EspVerdict v = e.rx(p, e.a_at);
             EXPECT_EQ(v.action, EspVerdict::drop);
             EXPECT_FALSE(v.unknown_pair_spi);
         }},
        {Drop::replay, true,
         [](Engine &e) {
             Bytes p = e.a.seal(ipv4("198.18.0.2", "198.18.0.1"), 5);
             Bytes again = p;
             EXPECT_EQ(e.rx(p, e.a_at).action, EspVerdict::decrypted);
             EXPECT_EQ(e.rx(again, e.a_at).action, EspVerdict::drop);
             EXPECT_EQ(e.a.t.total().drops_replay, 1u);
         }},
        {Drop::bad_icv, true,
         [](Engine &e) {
             Bytes p = e.a.seal(ipv4("198.18.0.2", "198.18.0.1"), 1);
             p[20] ^= 1;
             EXPECT_EQ(e.rx(p, e.a_at).action, EspVerdict::drop);
             EXPECT_EQ(e.a.t.total().drops_icv, 1u);
             // A forged packet does not move the window: the real one passes.
             Bytes real = e.a.seal(ipv4("198.18.0.2", "198.18.0.1"), 1);
             EXPECT_EQ(e.rx(real, e.a_at).action, EspVerdict::decrypted);
         }},
        {Drop::bad_padding, true,
         [](Engine &e) {
             // Authenticated, but the trailer says pad bytes 1, 3.
             Aead enc;
             ASSERT_TRUE(enc.init(Cipher::aes256gcm, e.a.kin, true));
             Bytes pt = {0x45, 0, 0, 8, 0, 0, 0, 0, 1, 3, 2, 4};
             Bytes p(16 + pt.size() + 16);
             store_be32(p.data(), e.a.t.in_cur->spi);
             store_be32(p.data() + 4, 1);
             store_be64(p.data() + 8, 1);
             ASSERT_TRUE(enc.seal(p.data() + 8, p.data(), 8, pt.data(), pt.size(), p.data() + 16,
                                  p.data() + 16 + pt.size()));
             EXPECT_EQ(e.rx(p, e.a_at).action, EspVerdict::drop);
             EXPECT_EQ(e.a.t.total().drops_padding, 1u);
         }},
        {Drop::bad_inner, true,
         [](Engine &e) {
             Bytes inner = ipv4("198.18.0.2", "198.18.0.1");
             store_be16(inner.data() + 2, uint16_t(inner.size() + 1));   // longer than it is
             Bytes p = e.a.next(inner);
             EXPECT_EQ(e.rx_inner(p, e.a_at).action, InnerVerdict::drop);
             EXPECT_EQ(e.a.t.total().drops_inner, 1u);
         }},
        {Drop::src_not_allowed, true,
         [](Engine &e) {
             Bytes p = e.a.next(ipv4("198.18.0.3", "198.18.0.1"));   // B's address, from A
             EXPECT_EQ(e.rx_inner(p, e.a_at).action, InnerVerdict::drop);
             EXPECT_EQ(e.a.t.total().drops_src, 1u);
         }},
        {Drop::no_route, true,
         [](Engine &e) {
             // To A's own network, from A: the relay never sends it back.
             Bytes p = e.a.next(ipv4("198.18.0.2", "198.18.1.7"));
             EXPECT_EQ(e.rx_inner(p, e.a_at).action, InnerVerdict::drop);
         }},
        {Drop::c2c_off, true,
         [](Engine &e) {
             e.policy.c2c = ClientToClient::off;
             Bytes p = e.a.next(ipv4("198.18.0.2", "198.18.0.3"));
             EXPECT_EQ(e.rx_inner(p, e.a_at).action, InnerVerdict::drop);
             EXPECT_EQ(e.c.relayed, 0u);
         }},
        {Drop::no_sa, true,
         [](Engine &e) {
             e.b.t.out.reset();
             EXPECT_FALSE(e.core.can_send(e.b.t));
         }},
        {Drop::no_endpoint, true,
         [](Engine &e) {
             e.b.t.udp_peer = Endpoint{};
             EXPECT_FALSE(e.core.can_send(e.b.t));
         }},
        {Drop::too_big, false,
         [](Engine &e) {
             e.policy.inner_mtu = 1400;
             e.b.t.path_mtu = 1280;
             TunVerdict v = e.tun(ipv4("198.18.0.2", "198.18.0.3", 17, 1, 2, 1300));
             EXPECT_EQ(v.action, TunVerdict::too_big);
             EXPECT_EQ(v.limit, 1280u);
         }},
        {Drop::overlay_src, true,
         [](Engine &e) {
             Bytes p = {0xff};
             EXPECT_EQ(e.core.classify_udp(p.data(), p.size(), ep("198.18.0.2:4500")), UdpKind::overlay_src);
             EXPECT_EQ(e.c.keepalive_rx, 0u);
         }},
        {Drop::tun_loop, false,
         [](Engine &e) {
             // Our own ESP in UDP to the server, read back from the TUN.
             TunVerdict v = e.tun(ipv4("198.18.0.2", "192.0.2.10", 17, 4500, 4500));
             EXPECT_EQ(v.action, TunVerdict::drop);
             EXPECT_EQ(v.to, &e.a.t);
         }},
        {Drop::stream_foreign, true,
         [](Engine &e) {
             Bytes p = e.b.next(ipv4("198.18.0.3", "198.18.0.1"));
             EXPECT_FALSE(e.core.stream_allowed(e.a.t, p.data()));
         }},
    };
    return cases;
}

// Drop reasons counted outside the core, where the I/O is: sealing
// (seq_exhausted), buffers and sockets (too_big for a slot, send_error),
// the stream queue (stream_full), the mailbox (backlog), frames for hooks
// that are not set (udp_non_esp) and the mesh's probes (probe_bad).
const Drop kNotTheCores[] = {Drop::udp_non_esp, Drop::seq_exhausted, Drop::send_error,
                             Drop::probe_bad,   Drop::backlog,       Drop::stream_full};

TEST(PacketCore, EveryDropReasonIsCountedOnce) {
    for (const DropCase &k : drop_cases()) {
        SCOPED_TRACE(to_string(k.why));
        Engine e(k.server);
        k.run(e);
        EXPECT_EQ(e.c.drops[int(k.why)], 1u);
        EXPECT_EQ(e.c.total_drops(), 1u);
    }
}

TEST(PacketCore, EveryDropReasonHasACase) {
    bool seen[int(Drop::count_)] = {};
    for (const DropCase &k : drop_cases()) seen[int(k.why)] = true;
    for (Drop d : kNotTheCores) {
        EXPECT_FALSE(seen[int(d)]) << to_string(d);
        seen[int(d)] = true;
    }
    for (int i = 0; i < int(Drop::count_); i++) EXPECT_TRUE(seen[i]) << to_string(Drop(i)) << " has no test";
}

// ---- the outer side

TEST(PacketCore, UdpDemultiplexing) {
    Engine e(true);
    Bytes keepalive = {0xff};
    EXPECT_EQ(e.core.classify_udp(keepalive.data(), 1, e.a_at), UdpKind::keepalive);
    EXPECT_EQ(e.c.keepalive_rx, 1u);
    Bytes marker(20, 0);
    marker[4] = 1;
    EXPECT_EQ(e.core.classify_udp(marker.data(), marker.size(), e.a_at), UdpKind::non_esp);
    Bytes esp = e.a.next(ipv4("198.18.0.2", "198.18.0.1"));
    EXPECT_EQ(e.core.classify_udp(esp.data(), esp.size(), e.a_at), UdpKind::esp);
    EXPECT_EQ(e.c.total_drops(), 0u);
}

TEST(PacketCore, RawIpv4HeaderIsStripped) {
    Engine e(true);
    Bytes esp = e.a.next(ipv4("198.18.0.2", "198.18.0.1"));
    Bytes p(20, 0);
    p[0] = 0x45;
    store_be16(p.data() + 2, uint16_t(20 + esp.size()));
    p.insert(p.end(), esp.begin(), esp.end());
    p.resize(p.size() + 3);   // bytes beyond the IP length are ignored
    uint8_t *at;
    size_t n;
    Endpoint from{ip("192.0.2.10"), 0};
    ASSERT_EQ(e.core.strip_raw(p.data(), p.size(), true, from, &at, &n), Drop::count_);
    EXPECT_EQ(at, p.data() + 20);
    EXPECT_EQ(n, esp.size());
    // Each malformed header is raw_runt.
    Bytes v6 = p;
    v6[0] = 0x65;
    EXPECT_EQ(e.core.strip_raw(v6.data(), v6.size(), true, from, &at, &n), Drop::raw_runt);
    Bytes ihl = p;
    ihl[0] = 0x44;
    EXPECT_EQ(e.core.strip_raw(ihl.data(), ihl.size(), true, from, &at, &n), Drop::raw_runt);
    Bytes total = p;
    store_be16(total.data() + 2, uint16_t(p.size() + 1));
    EXPECT_EQ(e.core.strip_raw(total.data(), total.size(), true, from, &at, &n), Drop::raw_runt);
    EXPECT_EQ(e.core.strip_raw(p.data(), p.size(), true, Endpoint{ip("198.18.0.9"), 0}, &at, &n),
              Drop::overlay_src);
    EXPECT_EQ(e.c.drops[int(Drop::raw_runt)], 3u);
    EXPECT_EQ(e.c.drops[int(Drop::overlay_src)], 1u);
}

// ---- forwarding: deliver, relay, blind forward by SPI

TEST(PacketCore, ServerDeliversToItsOwnAddressAndRelaysBetweenClients) {
    Engine e(true);
    Bytes to_server = e.a.next(ipv4("198.18.0.2", "198.18.0.1"));
    InnerVerdict v = e.rx_inner(to_server, e.a_at);
    EXPECT_EQ(v.action, InnerVerdict::tun);
    EXPECT_EQ(v.len, ipv4("198.18.0.2", "198.18.0.1").size());

    Bytes to_b = e.a.next(ipv4("198.18.1.5", "198.18.0.3"));   // from A's network
    v = e.rx_inner(to_b, e.a_at);
    EXPECT_EQ(v.action, InnerVerdict::relay);
    EXPECT_EQ(v.to, &e.b.t);
    EXPECT_TRUE(v.introduce);
    EXPECT_EQ(e.c.relayed, 1u);
    // Once introduced, the relay asks the control plane no more.
    e.a.t.introduced.push_back(&e.b.t);
    Bytes again = e.a.next(ipv4("198.18.0.2", "198.18.0.3"));
    v = e.rx_inner(again, e.a_at);
    EXPECT_EQ(v.action, InnerVerdict::relay);
    EXPECT_FALSE(v.introduce);
    // And B to A's network.
    Bytes back = e.b.next(ipv4("198.18.0.3", "198.18.1.5"));
    v = e.rx_inner(back, e.b_at);
    EXPECT_EQ(v.to, &e.a.t);
    EXPECT_EQ(e.c.relayed, 3u);
    EXPECT_EQ(e.c.total_drops(), 0u);
    EXPECT_EQ(e.a.t.total().rx_packets, 3u);
}

// Servers forwarding to each other's nodes (docs/DESIGN.md §11): another
// server's tunnel is a relay peer whose sources are the nodes routed to
// it, with no transit from one server to another.
TEST(PacketCore, ServerRelaysToAndFromAnotherServersNodes) {
    Engine e(true);
    Peer srvb{"srvb", e.sas, 0x3000, 3}, srvc{"srvc", e.sas, 0x4000, 4};
    Endpoint b_srv = ep("203.0.113.2:4500"), c_srv = ep("203.0.113.3:4500");
    srvb.t.server_peer = srvc.t.server_peer = true;
    srvb.t.udp_peer = b_srv;
    srvc.t.udp_peer = c_srv;
    e.routes.add(pfx("198.18.2.9/32"), &srvb.t);    // a node srvb holds
    e.routes.add(pfx("198.18.2.10/32"), &srvc.t);   // a node srvc holds

    // Our client to srvb's node: relayed, and the server is asked to
    // introduce them, naming the node by its address.
    Bytes out = e.a.next(ipv4("198.18.0.2", "198.18.2.9"));
    InnerVerdict v = e.rx_inner(out, e.a_at);
    EXPECT_EQ(v.action, InnerVerdict::relay);
    EXPECT_EQ(v.to, &srvb.t);
    EXPECT_TRUE(v.introduce);
    EXPECT_EQ(v.dst, ip("198.18.2.9"));
    // Introduced (or being): by address, not by tunnel.
    e.a.t.introduced.push_back(&srvb.t);
    Bytes again = e.a.next(ipv4("198.18.0.2", "198.18.2.9"));
    EXPECT_TRUE(e.rx_inner(again, e.a_at).introduce);
    e.a.t.introduced_remote.push_back(ip("198.18.2.9"));
    Bytes third = e.a.next(ipv4("198.18.0.2", "198.18.2.9"));
    EXPECT_FALSE(e.rx_inner(third, e.a_at).introduce);

    // srvb's node to our client B: relayed; the introduction is srvb's.
    Bytes in = srvb.next(ipv4("198.18.2.9", "198.18.0.3"));
    v = e.rx_inner(in, b_srv);
    EXPECT_EQ(v.action, InnerVerdict::relay);
    EXPECT_EQ(v.to, &e.b.t);
    EXPECT_FALSE(v.introduce);
    // ... and to this server itself: into the TUN.
    Bytes mine = srvb.next(ipv4("198.18.2.9", "198.18.0.1"));
    EXPECT_EQ(e.rx_inner(mine, b_srv).action, InnerVerdict::tun);
    EXPECT_EQ(e.c.relayed, 4u);
    EXPECT_EQ(e.c.total_drops(), 0u);

    // srvb claiming our client's address, or srvc's node, as the source.
    for (const char *src : {"198.18.0.2", "198.18.2.10", "198.18.9.9"}) {
        Bytes forged = srvb.next(ipv4(src, "198.18.0.3"));
        v = e.rx_inner(forged, b_srv);
        EXPECT_EQ(v.action, InnerVerdict::drop) << src;
        EXPECT_EQ(v.why, Drop::src_not_allowed) << src;
    }
    EXPECT_EQ(e.c.drops[int(Drop::src_not_allowed)], 3u);
    // srvb's node to srvc's: no transit through us.
    Bytes transit = srvb.next(ipv4("198.18.2.9", "198.18.2.10"));
    v = e.rx_inner(transit, b_srv);
    EXPECT_EQ(v.action, InnerVerdict::drop);
    EXPECT_EQ(v.why, Drop::no_route);
    EXPECT_EQ(e.c.relayed, 4u);

    // ClientToClient = off holds across servers too.
    e.policy.c2c = ClientToClient::off;
    Bytes off = e.a.next(ipv4("198.18.0.2", "198.18.2.9"));
    v = e.rx_inner(off, e.a_at);
    EXPECT_EQ(v.why, Drop::c2c_off);
    Bytes off_in = srvb.next(ipv4("198.18.2.9", "198.18.0.3"));
    EXPECT_EQ(e.rx_inner(off_in, b_srv).why, Drop::c2c_off);
}

TEST(PacketCore, ClientDeliversEverythingItDecryptsIntoTheTun) {
    Engine e(false);
    // From the server, for an address the client routes to a pair: a
    // client never relays.
    Bytes p = e.a.next(ipv4("198.18.0.9", "198.18.0.3"));
    EXPECT_EQ(e.rx_inner(p, e.a_at).action, InnerVerdict::tun);
    Bytes q = e.b.next(ipv4("198.18.0.3", "198.18.0.2"));
    EXPECT_EQ(e.rx_inner(q, e.b_at).action, InnerVerdict::tun);
    EXPECT_EQ(e.c.relayed, 0u);
}

TEST(PacketCore, ServerForwardsPairEspBySpiWithoutDecrypting) {
    Engine e(true);
    e.direct();
    e.forward[0x9000] = &e.b.t;
    Bytes p = e.a.seal(ipv4("198.18.0.2", "198.18.0.3"), 1, 0x9000);
    Bytes copy = p;
    EspVerdict v = e.rx(p, e.a_at);
    EXPECT_EQ(v.action, EspVerdict::forward);
    EXPECT_EQ(v.tunnel, &e.b.t);
    EXPECT_EQ(p, copy);   // untouched
    EXPECT_EQ(e.c.forwarded, 1u);
    // Not from inside the network, and not to a peer with no endpoint.
    EXPECT_EQ(e.rx(p, Endpoint{ip("198.18.1.4"), 4500}).why, Drop::overlay_src);
    e.b.t.udp_peer = Endpoint{};
    EXPECT_EQ(e.rx(p, e.a_at).why, Drop::no_endpoint);
    EXPECT_EQ(e.c.forwarded, 1u);
    // An SPI no one owns any more: the sender may be told.
    Bytes gone = e.a.seal(ipv4("198.18.0.2", "198.18.0.3"), 1, 0x9001);
    v = e.rx(gone, e.a_at);
    EXPECT_EQ(v.why, Drop::unknown_spi);
    EXPECT_TRUE(v.unknown_pair_spi);
}

TEST(PacketCore, DummiesAreAnsweredOnlyByTheServerForItsClients) {
    Engine s(true);
    Bytes d = s.a.next({});
    EspVerdict v = s.rx(d, s.a_at);
    EXPECT_EQ(v.action, EspVerdict::answer_dummy);
    EXPECT_EQ(v.tunnel, &s.a.t);
    EXPECT_EQ(s.c.keepalive_rx, 1u);
    EXPECT_EQ(s.a.t.total().rx_packets, 0u);   // no data
    EXPECT_EQ(s.a.t.total().path_rx[1], 1u);   // but evidence the path carries

    Engine c(false);
    Bytes d2 = c.a.next({});
    EXPECT_EQ(c.rx(d2, c.a_at).action, EspVerdict::dummy);
}

Bytes mtu_probe(MtuProbeKind kind, uint16_t id, uint16_t size, size_t len) {
    Bytes p(len);
    mtu_probe_write({kind, id, size}, p.data(), p.size());
    return p;
}

// Padded path-MTU probes (data/mtu_probe.h): the server echoes a client's
// probe in full, in place, and records its result; nothing answers an echo
// or a result; a client takes echoes only; padding that is no probe header
// is a plain dummy.
TEST(PacketCore, ServerEchoesPaddedProbesAtTheirSizeAndClientTakesEchoes) {
    Engine s(true);
    Bytes probe = s.a.next_dummy(mtu_probe(MtuProbeKind::probe, 7, 1400, 1300));
    EspVerdict v = s.rx(probe, s.a_at);
    ASSERT_EQ(v.action, EspVerdict::echo_probe);
    EXPECT_EQ(v.tunnel, &s.a.t);
    EXPECT_EQ(v.inner_len, 1300u);   // the echo carries the probe's whole padding
    MtuProbe got;
    ASSERT_TRUE(mtu_probe_read(v.inner, v.inner_len, &got));
    EXPECT_EQ(got.kind, MtuProbeKind::echo);
    EXPECT_EQ(got.id, 7);
    EXPECT_EQ(got.size, 1400);
    EXPECT_EQ(s.a.t.stats[0].mtu_result, 0u);

    Bytes result = s.a.next_dummy(mtu_probe(MtuProbeKind::result, 7, 1400, kMtuProbeHeader));
    EXPECT_EQ(s.rx(result, s.a_at).action, EspVerdict::dummy);
    EXPECT_EQ(s.a.t.stats[0].mtu_result, mtu_probe_word(7, 1400));
    Bytes echo = s.a.next_dummy(mtu_probe(MtuProbeKind::echo, 8, 1300, 1200));
    EXPECT_EQ(s.rx(echo, s.a_at).action, EspVerdict::dummy);
    EXPECT_EQ(s.a.t.stats[0].mtu_echo, 0u);

    Bytes padded = s.a.next_dummy(Bytes(100, 0));
    EXPECT_EQ(s.rx(padded, s.a_at).action, EspVerdict::answer_dummy);
    EXPECT_EQ(s.c.keepalive_rx, 4u);

    Engine c(false);
    Bytes c_probe = c.a.next_dummy(mtu_probe(MtuProbeKind::probe, 9, 1400, 1300));
    EXPECT_EQ(c.rx(c_probe, c.a_at).action, EspVerdict::dummy);   // a client echoes nothing
    Bytes c_echo = c.a.next_dummy(mtu_probe(MtuProbeKind::echo, 9, 1400, 1300));
    EXPECT_EQ(c.rx(c_echo, c.a_at).action, EspVerdict::dummy);
    EXPECT_EQ(c.a.t.stats[0].mtu_echo, mtu_probe_word(9, 1400));
    EXPECT_EQ(c.a.t.stats[0].mtu_result, 0u);
}

TEST(PacketCore, TlsSessionsCarryOnlyTheirOwnSasOnTheServer) {
    Engine s(true);
    Bytes mine = s.a.next(ipv4("198.18.0.2", "198.18.0.1"));
    EXPECT_TRUE(s.core.stream_allowed(s.a.t, mine.data()));
    EspVerdict v = s.core.open_esp(mine.data(), mine.size(), Endpoint{}, PacketCore::kStreamPath);
    EXPECT_EQ(v.action, EspVerdict::decrypted);
    EXPECT_FALSE(v.learn);   // a TLS path never moves the endpoint
    EXPECT_EQ(s.a.t.total().path_rx[2], 1u);
    // A client takes whatever its server sends in TLS (pair ESP included).
    Engine c(false);
    Bytes pair = c.b.next(ipv4("198.18.0.3", "198.18.0.2"));
    EXPECT_TRUE(c.core.stream_allowed(c.a.t, pair.data()));
    EXPECT_EQ(c.c.total_drops(), 0u);
}

// ---- the TUN side

TEST(PacketCore, ServerRoutesTunPacketsToTheClientThatOwnsTheAddress) {
    Engine e(true);
    TunVerdict v = e.tun(ipv4("198.18.0.1", "198.18.1.9"));
    EXPECT_EQ(v.action, TunVerdict::send);
    EXPECT_EQ(v.to, &e.a.t);
    EXPECT_EQ(v.next_header, kNextHeaderIpv4);
    EXPECT_EQ(e.tun(ipv4("198.18.0.1", "198.18.0.99")).why, Drop::no_route);
    EXPECT_EQ(e.c.tun_rx, 2u);
    Bytes junk = {0x45, 0, 0};
    EXPECT_EQ(e.tun(junk).why, Drop::bad_inner);
}

TEST(PacketCore, ClientSendsToAPairOnlyWithItsSaElseToTheServer) {
    Engine e(false);
    EXPECT_EQ(e.tun(ipv4("198.18.0.2", "198.18.0.3")).to, &e.b.t);   // the pair, direct
    EXPECT_EQ(e.tun(ipv4("198.18.0.2", "203.0.113.7")).to, &e.a.t);  // no route: the server
    e.b.t.out.reset();
    EXPECT_EQ(e.tun(ipv4("198.18.0.2", "198.18.0.3")).to, &e.a.t);   // no pair SA yet: relayed
    EXPECT_EQ(e.c.total_drops(), 0u);
}

TEST(PacketCore, TunLoopIsOnlyOurOwnOuterPackets) {
    Engine e(false);
    // Another UDP port, or TCP, to the server's address is ordinary traffic.
    EXPECT_EQ(e.tun(ipv4("198.18.0.2", "192.0.2.10", 17, 4500, 4501)).action, TunVerdict::send);
    EXPECT_EQ(e.tun(ipv4("198.18.0.2", "192.0.2.10", 6, 4500, 4500)).action, TunVerdict::send);
    // Raw ESP to the server's address is ours.
    e.a.t.raw_peer = ip("192.0.2.10");
    EXPECT_EQ(e.tun(ipv4("198.18.0.2", "192.0.2.10", IPPROTO_ESP)).why, Drop::tun_loop);
    // A pair that routes 192.0.2.0/24 and is relayed through the server:
    // its path is the server's.
    e.routes.add(pfx("192.0.2.0/24"), &e.b.t);
    EXPECT_EQ(e.tun(ipv4("198.18.0.2", "192.0.2.10", 17, 4500, 4500)).action, TunVerdict::send);
    e.b.t.via = &e.a.t;
    TunVerdict v = e.tun(ipv4("198.18.0.2", "192.0.2.10", 17, 4500, 4500));
    EXPECT_EQ(v.why, Drop::tun_loop);
    EXPECT_EQ(v.to, &e.b.t);
    EXPECT_EQ(e.c.drops[int(Drop::tun_loop)], 2u);
}

TEST(PacketCore, MssIsClampedBothWays) {
    Engine e(true);
    e.policy.inner_mtu = 1400;
    Bytes syn = tcp_syn("198.18.0.1", "198.18.0.2");
    TunVerdict v = e.core.route_tun_packet(syn.data(), syn.size());
    EXPECT_EQ(v.action, TunVerdict::send);
    EXPECT_EQ(load_be16(syn.data() + 42), 1360);
    Bytes in = e.a.next(tcp_syn("198.18.0.2", "198.18.0.1"));
    EspVerdict ev = e.rx(in, e.a_at);
    ASSERT_EQ(ev.action, EspVerdict::decrypted);
    EXPECT_EQ(e.core.route_decrypted(*ev.tunnel, ev.inner, ev.inner_len, ev.next_header).action,
              InnerVerdict::tun);
    EXPECT_EQ(load_be16(ev.inner + 42), 1360);
    EXPECT_EQ(e.c.mss_clamped, 2u);
}

TEST(PacketCore, TrainsCountEverySegment) {
    Engine e(false);
    e.policy.inner_mtu = 1400;
    Bytes p = ipv4("198.18.0.2", "198.18.0.3");
    InnerInfo info;
    ASSERT_TRUE(parse_inner(p.data(), p.size(), kNextHeaderIpv4, &info));
    EXPECT_EQ(e.core.route_tun_train(p.data(), info, 1400, 10).action, TunVerdict::send);
    EXPECT_EQ(e.core.route_tun_train(p.data(), info, 1401, 10).action, TunVerdict::too_big);
    EXPECT_EQ(e.c.drops[int(Drop::too_big)], 10u);
    Bytes loop = ipv4("198.18.0.2", "192.0.2.10", 17, 4500, 4500);
    ASSERT_TRUE(parse_inner(loop.data(), loop.size(), kNextHeaderIpv4, &info));
    EXPECT_EQ(e.core.route_tun_train(loop.data(), info, 1000, 7).why, Drop::tun_loop);
    EXPECT_EQ(e.c.drops[int(Drop::tun_loop)], 7u);
}

// ---- address learning (RFC 3948 §3.5)

TEST(PacketCore, AddressIsLearntFromTheNewestAuthenticatedPacket) {
    Engine e(true);
    Endpoint moved = ep("192.0.2.11:1024");
    Bytes p1 = e.a.seal(ipv4("198.18.0.2", "198.18.0.1"), 10);
    EspVerdict v = e.rx(p1, e.a_at);
    EXPECT_FALSE(v.learn);   // from where we send already
    Bytes p2 = e.a.seal(ipv4("198.18.0.2", "198.18.0.1"), 11);
    v = e.rx(p2, moved);
    EXPECT_TRUE(v.learn);
    EXPECT_EQ(v.sa, e.a.t.in_cur.get());
    EXPECT_EQ(v.seq, 11u);
    // An older packet from elsewhere is accepted but moves nothing.
    Bytes old = e.a.seal(ipv4("198.18.0.2", "198.18.0.1"), 9);
    v = e.rx(old, ep("192.0.2.12:1"));
    EXPECT_EQ(v.action, EspVerdict::decrypted);
    EXPECT_FALSE(v.learn);
    // The same address on another of our sockets moves it too.
    Bytes p3 = e.a.seal(ipv4("198.18.0.2", "198.18.0.1"), 12);
    EXPECT_TRUE(e.rx(p3, e.a_at, 1).learn);
    // A forged packet never does.
    Bytes forged = e.a.seal(ipv4("198.18.0.2", "198.18.0.1"), 13);
    forged.back() ^= 1;
    v = e.rx(forged, moved);
    EXPECT_EQ(v.action, EspVerdict::drop);
    EXPECT_FALSE(v.learn);
}

TEST(PacketCore, AnAddressInsideTheNetworkIsNeverLearnt) {
    Engine e(true);
    Bytes p = e.a.next(ipv4("198.18.0.2", "198.18.0.1"));
    // 198.18.1.0/24 is routed to A, not in the pool: the route lookup stops it.
    EspVerdict v = e.rx(p, ep("198.18.1.4:4500"));
    EXPECT_EQ(v.why, Drop::overlay_src);
    EXPECT_FALSE(v.learn);
}

TEST(PacketCore, AClientDoesNotLearnTheServersAddressForARelayedPair) {
    Engine e(false);
    // Pair ESP relayed by the server arrives from the server's address.
    Bytes p = e.b.next(ipv4("198.18.0.3", "198.18.0.2"));
    EspVerdict v = e.rx(p, e.a_at);
    EXPECT_EQ(v.action, EspVerdict::decrypted);
    EXPECT_FALSE(v.learn);
    // From the pair's own new address it is learnt.
    Bytes q = e.b.next(ipv4("198.18.0.3", "198.18.0.2"));
    EXPECT_TRUE(e.rx(q, ep("198.51.100.21:4500")).learn);
    // A pair tunnel that borrows the server's path learns nothing.
    e.b.t.via = &e.a.t;
    Bytes r = e.b.next(ipv4("198.18.0.3", "198.18.0.2"));
    EXPECT_FALSE(e.rx(r, ep("198.51.100.22:4500")).learn);
}

TEST(PacketCore, ALatePacketOnTheOldSaDoesNotMoveTheEndpoint) {
    Engine e(true);
    // Rekeyed: the old SA lives on as in_old, the peer uses the new one.
    Peer &a = e.a;
    a.t.in_old = std::move(a.t.in_cur);
    KeyMaterial old_key = a.kin;
    a.t.in_cur = std::make_unique<InboundSa>();
    a.t.in_cur->spi = 0x1500;
    a.t.in_cur->tunnel = &a.t;
    a.kin = key(50);
    ASSERT_TRUE(a.t.in_cur->keys.set(Cipher::aes256gcm, a.kin, false));
    e.sas.insert(a.t.in_cur.get());
    Bytes fresh = a.seal(ipv4("198.18.0.2", "198.18.0.1"), 1);
    EXPECT_FALSE(e.rx(fresh, e.a_at).learn);
    a.kin = old_key;
    Bytes late = a.seal(ipv4("198.18.0.2", "198.18.0.1"), 100, 0x1000);
    EspVerdict v = e.rx(late, ep("192.0.2.99:4500"));
    EXPECT_EQ(v.action, EspVerdict::decrypted);
    EXPECT_FALSE(v.learn);
}

TEST(PacketCore, RawEspLearnsOnlyOnARawPath) {
    Engine e(true);
    Endpoint from{ip("192.0.2.50"), 0};
    Bytes p = e.a.next(ipv4("198.18.0.2", "198.18.0.1"));
    EXPECT_FALSE(e.rx(p, from, -1).learn);   // the path is UDP
    e.a.t.encap = Encapsulation::raw;
    Bytes q = e.a.next(ipv4("198.18.0.2", "198.18.0.1"));
    EXPECT_TRUE(e.rx(q, from, -1).learn);
    EXPECT_EQ(e.a.t.total().path_rx[0], 2u);
}

}  // namespace
}  // namespace lm
