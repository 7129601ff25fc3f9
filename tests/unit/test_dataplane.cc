// SPDX-License-Identifier: MIT
// The data plane driven through real sockets on the loopback: a UDP socket
// for the outer side and a datagram socketpair standing in for the TUN.
// 127.0.0.0/8 is all local, so a test can send from any address in it: here
// 127.0.1.0/24 plays the overlay (the pool), 127.0.2.0/24 a network behind
// a client, 127.0.0.1 the server's and 127.0.0.3 the client's real address.
//
// Covered: outer packets from inside the network are never outer ESP and
// never become an endpoint (the TUN loop); a client's own outer packets read
// back from its TUN are not sealed again; address learning follows the
// highest sequence number per SA, and the control thread's announce after a
// port change carries one; RekeyAfterPackets is reported by the data path.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <unordered_map>
#include <vector>

#include "common/bytes.h"
#include "data/dataplane.h"
#include "data/mtu_probe.h"
#include "data/workers.h"
#include "esp/esp.h"

namespace lm {
namespace {

KeyMaterial key(uint8_t b) {
    KeyMaterial k;
    std::memset(k.key, b, sizeof k.key);
    std::memset(k.salt, b ^ 0x5a, sizeof k.salt);
    return k;
}

IpAddr ip(const char *s) { return *IpAddr::parse(s); }
Prefix pfx(const char *s) { return *Prefix::parse(s); }

int udp_on(const char *addr) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    EXPECT_GE(fd, 0);
    sockaddr_storage ss;
    socklen_t sl = Endpoint{ip(addr), 0}.to_sockaddr(&ss);
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr *>(&ss), sl), 0) << addr << ": " << strerror(errno);
    return fd;
}

Endpoint local_of(int fd) {
    sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, reinterpret_cast<sockaddr *>(&ss), &sl);
    return Endpoint::from_sockaddr(reinterpret_cast<sockaddr *>(&ss));
}

bool readable(int fd, int ms = 1000) {
    pollfd p{fd, POLLIN, 0};
    return poll(&p, 1, ms) == 1;
}

void send_to(int fd, const Endpoint &to, const std::vector<uint8_t> &p) {
    sockaddr_storage ss;
    socklen_t sl = to.to_sockaddr(&ss);
    ASSERT_EQ(sendto(fd, p.data(), p.size(), 0, reinterpret_cast<sockaddr *>(&ss), sl), ssize_t(p.size()));
}

// An ESP packet as the peer would seal it: `inner` empty means a dummy.
std::vector<uint8_t> seal(const KeyMaterial &k, uint32_t spi, uint32_t seq, const std::vector<uint8_t> &inner = {}) {
    Aead a;
    EXPECT_TRUE(a.init(Cipher::aes256gcm, k, true));
    std::vector<uint8_t> out(inner.size() + 128);
    uint8_t nh = inner.empty() ? kNextHeaderDummy : kNextHeaderIpv4;
    size_t n = esp_seal(a, spi, seq, nh, inner.data(), inner.size(), out.data(), out.size());
    EXPECT_GT(n, 0u);
    out.resize(n);
    return out;
}

// An IPv4 packet: UDP (17) with ports, or another protocol with no header.
std::vector<uint8_t> ipv4(const char *src, const char *dst, uint8_t proto, uint16_t sport, uint16_t dport,
                          size_t payload = 16) {
    std::vector<uint8_t> p(20 + 8 + payload, 0);
    p[0] = 0x45;
    store_be16(p.data() + 2, uint16_t(p.size()));
    p[8] = 64;
    p[9] = proto;
    std::memcpy(p.data() + 12, ip(src).b, 4);
    std::memcpy(p.data() + 16, ip(dst).b, 4);
    store_be16(p.data() + 20, sport);
    store_be16(p.data() + 22, dport);
    store_be16(p.data() + 24, uint16_t(8 + payload));
    return p;
}

// Both SAs of one peer: we receive on in_spi with kin and send on out_spi
// with kout.
void install(Tunnel &t, SaTable &sas, uint32_t in_spi, const KeyMaterial &kin, uint32_t out_spi,
             const KeyMaterial &kout) {
    t.encap = Encapsulation::udp;
    t.in_cur = std::make_unique<InboundSa>();
    t.in_cur->spi = in_spi;
    t.in_cur->tunnel = &t;
    ASSERT_TRUE(t.in_cur->keys.set(Cipher::aes256gcm, kin, false));
    sas.insert(t.in_cur.get());
    t.out = std::make_unique<OutboundSa>();
    t.out->spi = out_spi;
    ASSERT_TRUE(t.out->keys.set(Cipher::aes256gcm, kout, true));
}

// A server engine with one client "c" (overlay 127.0.1.2, a network
// 127.0.2.0/24 behind it) that learns endpoints at once, as the control
// thread would.
struct Server {
    SaTable sas;
    DataCounters c;
    Dataplane dp{c, sas, 0};
    RouteTable routes;
    Tunnel client;
    int udp = udp_on("127.0.0.1");
    int tun[2] = {-1, -1};
    int learned = 0;
    static constexpr uint32_t kInSpi = 0x1001, kOutSpi = 0x2002;
    KeyMaterial kin = key(1), kout = key(2);

    Server() {
        EXPECT_EQ(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, tun), 0);
        dp.add_udp(udp, AF_INET);
        dp.set_tun(tun[0], false, false, false);
        dp.policy = DataPolicy::server(ClientToClient::relay, &routes, nullptr);
        dp.policy.overlay = {pfx("127.0.1.0/24")};
        dp.on_endpoint = [this](Tunnel &t, InboundSa &sa, uint32_t seq, const Endpoint &from, int idx) {
            learned++;
            Dataplane::apply_endpoint(t, sa, seq, from, idx);
        };
        client.name = "c";
        client.is_client = true;
        client.udp_sock = 0;
        client.allowed_src = {pfx("127.0.1.2/32"), pfx("127.0.2.0/24")};
        for (auto &p : client.allowed_src) routes.add(p, &client);
        install(client, sas, kInSpi, kin, kOutSpi, kout);
    }
    ~Server() {
        close(udp);
        close(tun[0]);
        close(tun[1]);
    }
    Endpoint addr() const { return local_of(udp); }
    // Everything waiting on the UDP socket.
    void receive() {
        if (readable(udp)) dp.on_udp_readable(0);
    }
    uint64_t drops(Drop d) const { return c.drops[int(d)]; }
};

// The loop of issue 9: the client seals, inside its own tunnel, ESP for the
// server that is addressed to the server's overlay address.  The server's
// TUN hands it back to the server's socket from the client's overlay
// address; had it learned that address, every packet for the client would
// go round through the TUN for ever.
TEST(DataplaneLoop, ServerNeverTakesOuterEspFromInsideTheNetwork) {
    Server s;
    int under = udp_on("127.0.0.3");
    send_to(under, s.addr(), seal(s.kin, Server::kInSpi, 1));
    s.receive();
    ASSERT_EQ(s.client.udp_peer, local_of(under));

    // What the TUN delivered: newer, authenticated, from the overlay.
    int over = udp_on("127.0.1.2");
    send_to(over, s.addr(), seal(s.kin, Server::kInSpi, 100));
    s.receive();
    EXPECT_EQ(s.client.udp_peer, local_of(under)) << "learned an overlay address as the endpoint";
    EXPECT_EQ(s.drops(Drop::overlay_src), 1u);

    // From a network behind the client (not in the pool): the route table
    // says it is inside.
    int behind = udp_on("127.0.2.5");
    send_to(behind, s.addr(), seal(s.kin, Server::kInSpi, 200));
    s.receive();
    EXPECT_EQ(s.client.udp_peer, local_of(under));
    EXPECT_EQ(s.drops(Drop::overlay_src), 2u);
    EXPECT_EQ(s.learned, 1);

    // Traffic for the client still leaves for its real address.
    auto inner = ipv4("127.0.1.1", "127.0.1.2", 17, 1000, 2000);
    ASSERT_EQ(write(s.tun[1], inner.data(), inner.size()), ssize_t(inner.size()));
    s.dp.on_tun_readable();
    EXPECT_TRUE(readable(under, 1000));
    EXPECT_FALSE(readable(over, 0));
    close(under);
    close(over);
    close(behind);
}

// The whole round trip: the ESP comes as the inner packet of the client's
// own tunnel, the server decrypts it and writes it to its TUN; the test
// plays the kernel and gives it back to the server's socket from the
// inner source.  It must die there, not come back again.
TEST(DataplaneLoop, EspInsideTheTunnelDiesAtTheSecondPass) {
    Server s;
    int under = udp_on("127.0.0.3");
    send_to(under, s.addr(), seal(s.kin, Server::kInSpi, 1));
    s.receive();
    // Inner: UDP from the client's overlay address to the server's port,
    // carrying ESP sealed with the client's own keys.
    auto esp = seal(s.kin, Server::kInSpi, 500);
    auto inner = ipv4("127.0.1.2", "127.0.1.1", 17, 4500, s.addr().port, esp.size());
    std::memcpy(inner.data() + 28, esp.data(), esp.size());
    send_to(under, s.addr(), seal(s.kin, Server::kInSpi, 2, inner));
    s.receive();
    uint8_t buf[2048];
    ssize_t n = read(s.tun[1], buf, sizeof buf);
    ASSERT_EQ(n, ssize_t(inner.size())) << "the server should have written the inner packet to its TUN";
    int over = udp_on("127.0.1.2");
    send_to(over, s.addr(), std::vector<uint8_t>(buf + 28, buf + n));
    s.receive();
    EXPECT_EQ(s.client.udp_peer, local_of(under));
    EXPECT_EQ(s.drops(Drop::overlay_src), 1u);
    EXPECT_EQ(read(s.tun[1], buf, sizeof buf), -1) << "nothing more may reach the TUN";
    close(under);
    close(over);
}

// Pair ESP the server forwards by SPI comes from the sending client's real
// address; from inside the network it is dropped, not forwarded.
TEST(DataplaneLoop, ServerDoesNotForwardPairEspFromInsideTheNetwork) {
    Server s;
    int under = udp_on("127.0.0.3");
    s.client.udp_peer = local_of(under);
    std::unordered_map<uint32_t, Tunnel *> fwd{{0x5005, &s.client}};
    s.dp.policy.forward = &fwd;
    auto pair_esp = seal(key(9), 0x5005, 7);   // keys the server does not have
    int behind = udp_on("127.0.2.5"), other = udp_on("127.0.0.4");
    send_to(behind, s.addr(), pair_esp);
    s.receive();
    EXPECT_EQ(s.drops(Drop::overlay_src), 1u);
    EXPECT_EQ(s.c.forwarded, 0u);
    send_to(other, s.addr(), pair_esp);
    s.receive();
    EXPECT_EQ(s.c.forwarded, 1u);
    EXPECT_TRUE(readable(under));
    close(under);
    close(behind);
    close(other);
}

// A client whose route sends the server's address into its own TUN reads
// its own outer packets back: sealing them again would loop, each pass a
// little longer.  Other traffic to the server's address is tunnelled as usual.
TEST(DataplaneLoop, ClientDoesNotSealItsOwnOuterPackets) {
    SaTable sas;
    DataCounters c;
    Dataplane dp{c, sas, 0};
    Tunnel server;
    server.name = "server";
    int udp = udp_on("127.0.0.3");
    int peer = udp_on("127.0.0.1");
    int tun[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, tun), 0);
    dp.add_udp(udp, AF_INET);
    dp.set_tun(tun[0], false, false, false);
    dp.policy = DataPolicy::client(&server, nullptr);
    install(server, sas, 0x3003, key(3), 0x4004, key(4));
    server.udp_sock = 0;
    server.udp_peer = local_of(peer);
    server.raw_peer = local_of(peer).addr;

    auto own_udp = ipv4("127.0.1.2", "127.0.0.1", 17, 4500, local_of(peer).port);
    auto own_raw = ipv4("127.0.1.2", "127.0.0.1", 50, 0, 0);
    auto web = ipv4("127.0.1.2", "127.0.0.1", 17, 4500, uint16_t(local_of(peer).port + 1));
    for (auto *p : {&own_udp, &own_raw, &web}) ASSERT_EQ(write(tun[1], p->data(), p->size()), ssize_t(p->size()));
    dp.on_tun_readable();
    EXPECT_EQ(c.drops[int(Drop::tun_loop)], 2u);
    uint8_t buf[2048];
    ASSERT_TRUE(readable(peer));
    EXPECT_GT(read(peer, buf, sizeof buf), 0);           // the other port went through
    EXPECT_EQ(read(peer, buf, sizeof buf), -1);          // and only that
    close(udp);
    close(peer);
    close(tun[0]);
    close(tun[1]);
}

// Workers report new addresses in no particular order: the endpoint ends up
// where the packet with the highest sequence number came from.
TEST(AddressLearning, FollowsTheHighestSequenceNumber) {
    Tunnel t;
    InboundSa sa;
    t.udp_sock = 0;
    Endpoint x = *Endpoint::parse("127.0.0.3:1000"), y = *Endpoint::parse("127.0.0.3:2000");
    Dataplane::apply_endpoint(t, sa, 102, x, 0);
    Dataplane::apply_endpoint(t, sa, 101, y, 0);   // older news, delivered later
    EXPECT_EQ(t.udp_peer, x);
    Dataplane::apply_endpoint(t, sa, 103, y, 0);
    EXPECT_EQ(t.udp_peer, y);
}

// The node announces a new port with a dummy sent by the control thread.
// Its number must be above everything the workers sent, or the server does
// not take it as the newest and never learns the port (RFC 3948 §3.5).
TEST(AddressLearning, ControlThreadAnnounceAfterRebindIsLearned) {
    Server s;
    SaTable sas;
    DataCounters cc, wc;
    DataWorkers dw(1, sas, cc);
    std::string err;
    IpAddr me = ip("127.0.0.3");
    int idx = dw.open_udp(AF_INET, &me, 0, &err);
    ASSERT_EQ(idx, 0) << err;
    Dataplane worker{wc, sas, 0};   // a worker's engine, on a socket of its own
    int wsock = udp_on("127.0.0.3");
    worker.add_udp(wsock, AF_INET);
    Tunnel up;
    up.name = "server";
    install(up, sas, Server::kOutSpi, s.kout, Server::kInSpi, s.kin);
    up.udp_sock = 0;
    up.udp_peer = s.addr();

    dw.control().send_dummy(up);   // registration at connect
    s.receive();
    ASSERT_EQ(s.client.udp_peer.port, dw.udp_port(idx));
    for (int i = 0; i < 300; i++) worker.send_dummy(up);   // traffic
    for (int i = 0; i < 300 && readable(s.udp, 100); i++) s.dp.on_udp_readable(0);
    ASSERT_EQ(s.client.udp_peer, local_of(wsock));

    uint16_t port = dw.rebind_udp(idx, &err);
    ASSERT_NE(port, 0) << err;
    dw.control().send_dummy(up);   // the announce
    s.receive();
    EXPECT_EQ(s.client.udp_peer.port, port) << "the server did not learn the new port";
    EXPECT_GT(s.client.in_cur->replay.top(), 300u);
    close(wsock);
}

// RekeyAfterPackets is watched where the packets are counted: the control
// plane hears of it at the packet that reaches the limit, not up to a tick
// (and hundreds of thousands of packets) later.
TEST(RekeyAfterPackets, ReportedByTheDataPathAtTheLimit) {
    Server s;
    int under = udp_on("127.0.0.3");
    s.client.udp_peer = local_of(under);
    constexpr uint64_t kLimit = 1000;
    s.client.out->rekey_at = kLimit;
    int told = 0;
    uint64_t sent_when_told = 0;
    s.dp.on_rekey_due = [&](Tunnel &t) {
        EXPECT_EQ(&t, &s.client);
        if (told++ == 0) sent_when_told = t.out->packets() + 1;   // the packet being sealed
    };
    auto inner = ipv4("127.0.1.1", "127.0.1.2", 17, 1000, 2000);
    uint8_t buf[2048];
    for (int i = 0; i < 3000; i++) {
        ASSERT_EQ(write(s.tun[1], inner.data(), inner.size()), ssize_t(inner.size()));
        s.dp.on_tun_readable();
        while (read(under, buf, sizeof buf) > 0) {
        }
    }
    EXPECT_EQ(s.client.out->packets(), 3000u);
    EXPECT_EQ(told, 1);
    EXPECT_EQ(sent_when_told, kLimit);
    EXPECT_TRUE(s.client.out->rekey_due());
    close(under);
}

}  // namespace
}  // namespace lm

namespace lm {
namespace {

// The client's data-path liveness (client/path_ladder.h): the server answers
// a dummy on the path it came by, at a bounded rate; ESP in a TLS session
// goes into the stream queue and comes from it; a session carries only its
// own client's SAs.
TEST(DataplaneLiveness, ServerAnswersDummiesOnThePathTheyCameBy) {
    Server s;
    int under = udp_on("127.0.0.3");
    send_to(under, s.addr(), seal(s.kin, Server::kInSpi, 1));
    s.receive();
    ASSERT_TRUE(readable(under, 1000)) << "no answer to the dummy";
    uint8_t buf[256];
    ssize_t n = recv(under, buf, sizeof buf, 0);
    ASSERT_GT(n, 8);
    EXPECT_EQ(load_be32(buf), Server::kOutSpi);
    EXPECT_EQ(s.c.dummy_replies, 1u);
    EXPECT_EQ(s.client.total().path_rx[1], 1u);

    // A flood of dummies gets at most kDummyRepliesPerSecond a second.
    for (uint32_t seq = 2; seq < 14; seq++) send_to(under, s.addr(), seal(s.kin, Server::kInSpi, seq));
    usleep(20000);
    s.receive();
    EXPECT_GT(s.c.dummy_replies_limited, 0u);
    EXPECT_LE(s.c.dummy_replies, 1 + 2 * uint64_t(Dataplane::kDummyRepliesPerSecond));

    // A dummy in the TLS session is answered in the TLS session.
    usleep(1100000);   // a new second for the rate bound
    auto dummy = seal(s.kin, Server::kInSpi, 50);
    s.dp.on_stream_esp(s.client, dummy.data(), dummy.size());
    EXPECT_EQ(s.client.total().path_rx[2], 1u);
    int frames = 0;
    s.dp.stream_out.drain([&](const Tunnel *t, const uint8_t *p, size_t len) {
        frames++;
        EXPECT_EQ(t, &s.client);
        EXPECT_GT(len, 8u);
        EXPECT_EQ(load_be32(p), Server::kOutSpi);
    });
    EXPECT_EQ(frames, 1);
    close(under);
}

// Padded path-MTU probes (data/mtu_probe.h): the server echoes a probe at
// the same size on the path it came by, records a result for the control
// thread, and answers no echo; a client engine takes echoes only.
TEST(DataplaneLiveness, ServerEchoesPaddedProbesAtTheirSize) {
    Server s;
    int under = udp_on("127.0.0.3");
    auto seal_probe = [&](MtuProbeKind kind, uint32_t seq, size_t len) {
        std::vector<uint8_t> payload(len);
        mtu_probe_write({kind, 7, 1400}, payload.data(), payload.size());
        Aead a;
        EXPECT_TRUE(a.init(Cipher::aes256gcm, s.kin, true));
        std::vector<uint8_t> out(len + 128);
        size_t n = esp_seal(a, Server::kInSpi, seq, kNextHeaderDummy, payload.data(), len, out.data(), out.size());
        out.resize(n);
        return out;
    };
    auto probe = seal_probe(MtuProbeKind::probe, 1, 1334);
    send_to(under, s.addr(), probe);
    s.receive();
    ASSERT_TRUE(readable(under, 1000)) << "no echo";
    std::vector<uint8_t> buf(4096);
    ssize_t n = recv(under, buf.data(), buf.size(), 0);
    EXPECT_EQ(size_t(n), probe.size()) << "the echo is not the probe's size";
    Aead open;
    ASSERT_TRUE(open.init(Cipher::aes256gcm, s.kout, false));
    uint8_t *inner;
    size_t inner_len;
    uint8_t nh;
    ASSERT_EQ(esp_open(open, buf.data(), size_t(n), &inner, &inner_len, &nh), EspOpen::dummy);
    MtuProbe got;
    ASSERT_TRUE(mtu_probe_read(inner, inner_len, &got));
    EXPECT_EQ(got.kind, MtuProbeKind::echo);
    EXPECT_EQ(got.id, 7);
    EXPECT_EQ(s.client.stats[0].mtu_result, 0u);

    // A result is recorded, not answered; an echo sent to a server is ignored.
    send_to(under, s.addr(), seal_probe(MtuProbeKind::result, 2, kMtuProbeHeader));
    send_to(under, s.addr(), seal_probe(MtuProbeKind::echo, 3, 1334));
    usleep(20000);
    s.receive();
    EXPECT_FALSE(readable(under, 200)) << "a result or an echo was answered";
    EXPECT_EQ(s.client.stats[0].mtu_result, mtu_probe_word(7, 1400));
    EXPECT_EQ(s.client.stats[0].mtu_echo, 0u);

    // A dummy padded with something else is a plain dummy: answered empty.
    usleep(1100000);   // a new second for the rate bound
    std::vector<uint8_t> padding(100, 0);
    Aead a;
    ASSERT_TRUE(a.init(Cipher::aes256gcm, s.kin, true));
    std::vector<uint8_t> padded(256);
    padded.resize(esp_seal(a, Server::kInSpi, 4, kNextHeaderDummy, padding.data(), padding.size(), padded.data(),
                           padded.size()));
    send_to(under, s.addr(), padded);
    s.receive();
    ASSERT_TRUE(readable(under, 1000)) << "a padded plain dummy was not answered";
    n = recv(under, buf.data(), buf.size(), 0);
    EXPECT_LT(size_t(n), padded.size()) << "a plain dummy's padding was echoed";
    close(under);
}

TEST(DataplaneLiveness, TlsPathCarriesOnlyTheSessionsOwnSas) {
    Server s;
    // Another client's SA, presented in c's session: dropped.
    Tunnel d;
    d.name = "d";
    d.is_client = true;
    install(d, s.sas, 0x3003, key(3), 0x4004, key(4));
    auto foreign = seal(key(3), 0x3003, 1);
    s.dp.on_stream_esp(s.client, foreign.data(), foreign.size());
    EXPECT_EQ(s.drops(Drop::stream_foreign), 1u);
    EXPECT_EQ(d.total().last_rx, 0);

    // c's own data in its session reaches the TUN.
    auto inner = ipv4("127.0.1.2", "127.0.1.1", 17, 1000, 2000);
    auto esp = seal(s.kin, Server::kInSpi, 7, inner);
    s.dp.on_stream_esp(s.client, esp.data(), esp.size());
    ASSERT_TRUE(readable(s.tun[1], 1000));
    uint8_t buf[256];
    EXPECT_EQ(read(s.tun[1], buf, sizeof buf), ssize_t(inner.size()));
    EXPECT_EQ(s.c.stream_rx, 2u);

    // With c's path in TLS, what the TUN sends to c goes into the queue.
    s.client.encap = Encapsulation::tls;
    auto out = ipv4("127.0.1.1", "127.0.1.2", 17, 2000, 1000);
    ASSERT_EQ(write(s.tun[1], out.data(), out.size()), ssize_t(out.size()));
    s.dp.on_tun_readable();
    int frames = 0;
    s.dp.stream_out.drain([&](const Tunnel *t, const uint8_t *, size_t) {
        frames++;
        EXPECT_EQ(t, &s.client);
    });
    EXPECT_EQ(frames, 1);
    EXPECT_EQ(s.c.udp_tx, 0u);
    s.sas.erase(0x3003);
}

}  // namespace
}  // namespace lm

namespace lm {
namespace {

// A tunnel to another server of the network (server/server_peers.h): it may
// send from the nodes the route table puts behind it and no others, and
// nothing it sends goes on to a third server (docs/DESIGN.md §11).
TEST(DataplaneServers, ServerTunnelSendsOnlyFromItsOwnNodes) {
    Server s;
    int under = udp_on("127.0.0.3");   // the client's real address
    send_to(under, s.addr(), seal(s.kin, Server::kInSpi, 1));
    s.receive();
    ASSERT_EQ(s.client.udp_peer, local_of(under));

    Tunnel peer, third;
    peer.name = "srvb";
    peer.server_peer = true;
    peer.udp_sock = 0;
    constexpr uint32_t kPeerIn = 0x3003, kPeerOut = 0x4004;
    KeyMaterial pin = key(3), pout = key(4);
    install(peer, s.sas, kPeerIn, pin, kPeerOut, pout);
    third.name = "srvc";
    third.server_peer = true;
    third.udp_sock = 0;
    install(third, s.sas, 0x5005, key(5), 0x6006, key(6));
    int psock = udp_on("127.0.0.4");   // srvb's data socket
    peer.udp_peer = local_of(psock);
    int tsock = udp_on("127.0.0.5");
    third.udp_peer = local_of(tsock);
    s.routes.add(pfx("127.0.1.9/32"), &peer);    // a node srvb holds
    s.routes.add(pfx("127.0.1.10/32"), &third);  // a node srvc holds

    // From srvb's node to our client: relayed.
    send_to(psock, s.addr(), seal(pin, kPeerIn, 1, ipv4("127.0.1.9", "127.0.1.2", 17, 1, 2)));
    s.receive();
    EXPECT_TRUE(readable(under, 1000)) << "not relayed to the client";
    EXPECT_EQ(s.c.relayed, 1u);

    // srvb claims our own client's address as the source: dropped.
    send_to(psock, s.addr(), seal(pin, kPeerIn, 2, ipv4("127.0.1.2", "127.0.1.2", 17, 1, 2)));
    s.receive();
    EXPECT_EQ(s.drops(Drop::src_not_allowed), 1u);
    // ... or srvc's node: dropped too.
    send_to(psock, s.addr(), seal(pin, kPeerIn, 3, ipv4("127.0.1.10", "127.0.1.2", 17, 1, 2)));
    s.receive();
    EXPECT_EQ(s.drops(Drop::src_not_allowed), 2u);

    // From srvb's node to srvc's: no transit through us.
    send_to(psock, s.addr(), seal(pin, kPeerIn, 4, ipv4("127.0.1.9", "127.0.1.10", 17, 1, 2)));
    s.receive();
    EXPECT_EQ(s.drops(Drop::no_route), 1u);
    EXPECT_FALSE(readable(tsock, 200)) << "forwarded from one server to another";
    EXPECT_EQ(s.c.relayed, 1u);
    close(under);
    close(psock);
    close(tsock);
}

}  // namespace
}  // namespace lm
