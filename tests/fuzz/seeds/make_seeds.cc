// SPDX-License-Identifier: MIT
// Writes the generated seed corpora of the fuzz targets from the project's own
// encoders: valid control messages and frame streams, and ESP records with
// the fixed test keys of esp_open.cc.  `make fuzz-seeds` runs it; the output
// is committed under tests/fuzz/corpus/.  The config and cli_grammar seeds
// are plain text written by hand (and examples/*.conf), not made here.
//
// Usage: make-seeds CORPUS_DIR
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "control/frame.h"
#include "control/messages.h"

namespace lm {
namespace {

std::string g_dir;

void write(const std::string &target, const std::string &name, const std::vector<uint8_t> &bytes) {
    std::string path = g_dir + "/" + target + "/" + name;
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char *>(bytes.data()), std::streamsize(bytes.size()));
    if (!f) {
        std::fprintf(stderr, "make-seeds: cannot write %s\n", path.c_str());
        std::exit(1);
    }
}

IpAddr ip(const char *s) { return *IpAddr::parse(s); }
Prefix net(const char *s) { return *Prefix::parse(s); }

template <class M>
std::vector<uint8_t> checked(const M &m, const char *what) {
    std::vector<uint8_t> body = encode(m);
    M back;
    std::string err;
    if (!decode(body, &back, &err)) {
        std::fprintf(stderr, "make-seeds: %s does not decode: %s\n", what, err.c_str());
        std::exit(1);
    }
    return body;
}

struct Sample {
    const char *name;
    MsgType type;
    std::vector<uint8_t> body;
};

std::vector<Sample> samples() {
    Hello h;
    h.ciphers = {Cipher::aes256gcm, Cipher::chacha20poly1305};
    h.spi_s2c = 0x1234abcd;
    h.local_addrs = {ip("192.0.2.10"), ip("2001:db8::10")};
    h.data_port = 4500;
    Hello h_min;
    h_min.ciphers = {Cipher::chacha20poly1305};
    h_min.spi_s2c = 256;
    h_min.encap = Encapsulation::raw;

    ConfigMsg c;
    c.cipher = Cipher::aes256gcm;
    c.spi_c2s = 0x0badcafe;
    c.epoch = 7;
    c.local4 = ip("198.18.0.2");
    c.prefix4 = 24;
    c.gateway4 = ip("198.18.0.1");
    c.local6 = ip("2001:db8:1::2");
    c.prefix6 = 64;
    c.routes = {{net("198.51.100.0/24"), IpAddr()}, {net("2001:db8:2::/48"), ip("2001:db8:1::1")},
                {net("203.0.113.0/25"), ip("198.18.0.1")}};
    c.mtu = 1400;
    c.data_port = 4500;
    c.keepalive_interval = 10;
    c.keepalive_timeout = 60;
    c.nat_keepalive = 25;
    c.rekey_after_time = 3600;
    c.rekey_after_bytes = 1ull << 40;
    c.rekey_after_packets = 1ull << 30;
    c.observed = *Endpoint::parse("203.0.113.7:40000");
    c.c2c = ClientToClient::direct;
    ConfigMsg c_p2p = c;
    c_p2p.topology = Topology::p2p;
    c_p2p.peer4 = ip("198.18.0.1");
    c_p2p.local6 = IpAddr();
    c_p2p.routes.clear();
    c_p2p.observed = *Endpoint::parse("[2001:db8::7]:4500");
    c_p2p.encap = Encapsulation::raw;

    Rekey r{8, 0x11223344};
    Ping p{0x0102030405060708ull};
    Bye b{"server shutting down"};
    RouteUpdate ru;
    ru.routes = {{net("198.51.100.0/24"), IpAddr()}, {net("0.0.0.0/0"), ip("198.18.0.1")}};

    PeerInfo pi;
    pi.intro_id = 42;
    pi.name = "bob";
    pi.cert = {0x30, 0x82, 0x01, 0x0a, 0x02, 0x01, 0x01};   // only its length is checked here
    pi.addrs = {ip("198.18.0.3"), ip("2001:db8:1::3")};
    pi.networks = {net("198.51.100.0/24")};
    pi.candidates = {*Endpoint::parse("203.0.113.9:4500"), *Endpoint::parse("[2001:db8::9]:4501")};
    pi.flags = kPeerFlagNat | kPeerFlagRaw;
    pi.cipher = Cipher::chacha20poly1305;
    PeerKey pk;
    pk.intro_id = 42;
    pk.name = "alice";
    pk.epoch = 1;
    for (size_t i = 0; i < pk.pub.size(); i++) pk.pub[i] = uint8_t(i * 7);
    pk.spi = 0x5000;
    pk.sig.assign(72, 0x5a);
    pk.answer = true;
    PeerRequest pr{"bob", 4600};
    PeerGone pg{"bob", "disconnected"};
    ServerHello sh{"srva", 0x6000, {Cipher::aes256gcm, Cipher::chacha20poly1305}};
    ServerIntro si;
    si.intro_id = pi.intro_id;
    si.answer = false;
    si.to = "bob";
    si.info = pi;
    si.ciphers = {Cipher::aes256gcm};
    ServerKey sk{"alice", pk};

    return {
        {"hello", MsgType::hello, checked(h, "hello")},
        {"hello-min", MsgType::hello, checked(h_min, "hello-min")},
        {"config-subnet", MsgType::config, checked(c, "config")},
        {"config-p2p", MsgType::config, checked(c_p2p, "config-p2p")},
        {"rekey", MsgType::rekey, checked(r, "rekey")},
        {"rekey-ack", MsgType::rekey_ack, checked(r, "rekey-ack")},
        {"ping", MsgType::ping, checked(p, "ping")},
        {"pong", MsgType::pong, checked(p, "pong")},
        {"bye", MsgType::bye, checked(b, "bye")},
        {"route-update", MsgType::route_update, checked(ru, "route-update")},
        {"route-update-empty", MsgType::route_update, checked(RouteUpdate{}, "route-update-empty")},
        {"peer-info", MsgType::peer_info, checked(pi, "peer-info")},
        {"peer-key", MsgType::peer_key, checked(pk, "peer-key")},
        {"peer-request", MsgType::peer_request, checked(pr, "peer-request")},
        {"peer-gone", MsgType::peer_gone, checked(pg, "peer-gone")},
        {"server-hello", MsgType::server_hello, checked(sh, "server-hello")},
        {"server-intro", MsgType::server_intro, checked(si, "server-intro")},
        {"server-key", MsgType::server_key, checked(sk, "server-key")},
    };
}

void control_seeds() {
    std::vector<Sample> all = samples();
    std::vector<uint8_t> client_session = {0x00}, server_session = {0xc8};
    for (const Sample &s : all) {
        std::vector<uint8_t> m = {uint8_t(s.type)};
        m.insert(m.end(), s.body.begin(), s.body.end());
        write("control_messages", s.name, m);

        std::vector<uint8_t> f = {0x80};   // one piece per read of up to 300 bytes
        if (!frame_append(&f, s.type, s.body)) std::exit(1);
        write("control_frame", s.name, f);
    }
    // Whole conversations, read a few bytes at a time (first byte < 128).
    for (const char *n : {"hello", "rekey-ack", "pong", "peer-key", "peer-request", "bye"})
        for (const Sample &s : all)
            if (std::string(s.name) == n) frame_append(&client_session, s.type, s.body);
    for (const char *n : {"config-subnet", "rekey", "ping", "route-update", "peer-info", "peer-gone"})
        for (const Sample &s : all)
            if (std::string(s.name) == n) frame_append(&server_session, s.type, s.body);
    write("control_frame", "session-client", client_session);
    write("control_frame", "session-server", server_session);
}

// esp_open records: op(u8) | len(u16) | data.
void record(std::vector<uint8_t> *v, uint8_t op, const std::vector<uint8_t> &data) {
    v->push_back(op);
    uint8_t l[2];
    store_be16(l, uint16_t(data.size()));
    v->insert(v->end(), l, l + 2);
    v->insert(v->end(), data.begin(), data.end());
}

std::vector<uint8_t> ipv4_packet(const char *src, const char *dst, size_t payload) {
    std::vector<uint8_t> p(20 + payload, 0);
    p[0] = 0x45;
    store_be16(p.data() + 2, uint16_t(p.size()));
    p[8] = 64;
    p[9] = 17;
    std::memcpy(p.data() + 12, ip(src).b, 4);
    std::memcpy(p.data() + 16, ip(dst).b, 4);
    for (size_t i = 20; i < p.size(); i++) p[i] = uint8_t(i);
    return p;
}

std::vector<uint8_t> ipv6_packet(const char *src, const char *dst, size_t payload) {
    std::vector<uint8_t> p(40 + payload, 0);
    p[0] = 0x60;
    store_be16(p.data() + 4, uint16_t(payload));
    p[6] = 17;
    p[7] = 64;
    std::memcpy(p.data() + 8, ip(src).b, 16);
    std::memcpy(p.data() + 24, ip(dst).b, 16);
    return p;
}

// sa(u8) | seq(u32) [| next header(u8)] | bytes
std::vector<uint8_t> sealed(uint8_t sa, uint32_t seq, int nh, const std::vector<uint8_t> &bytes) {
    std::vector<uint8_t> d = {sa, 0, 0, 0, 0};
    store_be32(d.data() + 1, seq);
    if (nh >= 0) d.push_back(uint8_t(nh));
    d.insert(d.end(), bytes.begin(), bytes.end());
    return d;
}

void esp_seeds() {
    auto v4 = ipv4_packet("198.18.0.2", "198.18.0.1", 33);
    auto v6 = ipv6_packet("2001:db8:1::2", "2001:db8:1::1", 20);
    auto foreign = ipv4_packet("192.0.2.66", "198.18.0.1", 8);
    std::vector<uint8_t> s;

    s.clear();   // AES-GCM and ChaCha20-Poly1305, IPv4 and IPv6, in order
    record(&s, 2, sealed(0, 1, 4, v4));
    record(&s, 2, sealed(1, 1, 41, v6));
    record(&s, 2, sealed(0, 2, 41, v6));
    record(&s, 2, sealed(1, 2, 4, v4));
    write("esp_open", "sealed-both-ciphers", s);

    s.clear();   // a keepalive (next header 59), then data
    record(&s, 2, sealed(0, 1, 59, {}));
    record(&s, 2, sealed(0, 2, 4, v4));
    write("esp_open", "dummy-then-data", s);

    s.clear();   // replays and a jump past the window
    record(&s, 2, sealed(1, 100, 4, v4));
    record(&s, 2, sealed(1, 100, 4, v4));
    record(&s, 2, sealed(1, 5000, 4, v4));
    record(&s, 2, sealed(1, 99, 4, v4));
    record(&s, 2, sealed(1, 4999, 4, v4));
    record(&s, 2, sealed(1, 0xffffffff, 4, v4));
    write("esp_open", "replay-window", s);

    s.clear();   // inner packets the data plane refuses
    record(&s, 2, sealed(0, 1, 4, foreign));         // source not allowed
    record(&s, 2, sealed(0, 2, 41, v4));             // next header says IPv6
    auto short_len = v4;
    store_be16(short_len.data() + 2, 200);           // claims more than there is
    record(&s, 2, sealed(0, 3, 4, short_len));
    write("esp_open", "inner-refused", s);

    s.clear();   // trailers encrypted as they are
    std::vector<uint8_t> good = v4;
    good.insert(good.end(), {1, 1, 4});              // 53 + 1 + 2 = 56, aligned
    record(&s, 1, sealed(0, 1, -1, good));
    std::vector<uint8_t> unaligned = v4;
    unaligned.insert(unaligned.end(), {1, 2, 3, 3, 4});   // 58: not a multiple of 4
    record(&s, 1, sealed(1, 2, -1, unaligned));
    std::vector<uint8_t> bad_pad = ipv4_packet("198.18.0.2", "198.18.0.1", 28);
    bad_pad.insert(bad_pad.end(), {1, 9, 2, 4});     // pad bytes must be 1, 2
    record(&s, 1, sealed(0, 3, -1, bad_pad));
    record(&s, 1, sealed(1, 4, -1, {0, 0, 0xff, 4}));  // pad length beyond the plaintext
    write("esp_open", "trailers", s);

    s.clear();   // tampered packets, then packets straight from the wire
    record(&s, 3, sealed(0, 1, 4, v4));
    record(&s, 3, sealed(1, 2, 41, v6));
    std::vector<uint8_t> runt = {0x00, 0x00, 0x10, 0x01, 0, 0, 0, 1, 0, 0};
    record(&s, 0, runt);
    std::vector<uint8_t> unknown_spi(60, 0x11);
    record(&s, 0, unknown_spi);
    std::vector<uint8_t> forged(64, 0);
    store_be32(forged.data(), 0x2002);
    store_be32(forged.data() + 4, 3);
    record(&s, 0, forged);
    write("esp_open", "tampered-and-forged", s);
}

}  // namespace
}  // namespace lm

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    lm::g_dir = argv[1];
    lm::control_seeds();
    lm::esp_seeds();
    return 0;
}
