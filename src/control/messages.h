// SPDX-License-Identifier: MIT
// Typed control messages carried in control/frame.h frames.
//
// Every body is a list of TLV fields, tag(u8) | len(u16 BE) | value, integers
// big-endian.  Decoding is strict: unknown tag, duplicate tag, wrong length,
// missing required field, trailing bytes, or a value out of range is an error
// with a one-line reason ("hello: field 3 (spi_s2c) has length 7, want 4").
// Lists are one field holding a packed sequence of at most kMaxListItems
// entries; an empty list is sent by omitting the field.
//
// Address encodings:  addr4 = 4 bytes, addr6 = 16 bytes,
//   faddr = family(u8: 4 or 6) | addr4-or-addr6,
//   route = faddr(dst) | plen(u8) | gwfamily(u8: 0, 4 or 6) | gw addr (if gwfamily != 0),
//   endpoint = addr4-or-addr6 | port(u16), family from the length (6 or 18).
//
// Hello (client -> server)              Config (server -> client)
//   1 ciphers     u16 list, required      1 topology  u8 (0 net30, 1 p2p, 2 subnet)
//   2 encap       u8 (0 auto,1 udp,2 raw,  2 cipher    u16        3 encap  u8 (udp|raw|tls)
//                    3 tls)
//   3 spi_s2c     u32 >= 256              4 spi_c2s   u32 >= 256 5 epoch  u32
//   4 local_addrs faddr list, optional    6 local4    addr4      7 prefix4 u8 1..32
//   5 data_port   u16                     8 peer4     addr4, optional
//   6 pairs       pair list, optional     9 gateway4  addr4
//                                        10 local6    addr6, optional
//                                        11 prefix6   u8 1..128, iff local6
//                                        12 routes    route list, optional
//                                        13 mtu u16 576..9000 (>= 1280 with local6)
//                                        14 data_port u16 != 0
//                                        15 keepalive_interval 16 keepalive_timeout
//                                        17 nat_keepalive (u16 each)
//                                        18 rekey_after_time u32
//                                        19 rekey_after_bytes 20 rekey_after_packets u64
//                                        21 observed  endpoint, optional
//                                        22 c2c       u8 (0 off, 1 relay, 2 direct)
//                                        23 paths     u8, optional: the steps the
//                                           server takes (1 raw, 2 udp, 4 tls);
//                                           absent: encap only
//                                        24 server_addr faddr, optional: the
//                                           server's own address of this TCP
//                                           connection (a NAT in front of it?)
// Hello's pairs: the mesh pairs the client holds, each intro_id u64 != 0 |
//   len u8 | name (1..64 bytes, no name twice).
// Rekey / rekey_ack: 1 epoch u32, 2 spi u32 >= 256.   Ping / pong: 1 nonce u64.
// Route_update (server -> client): 1 routes, route list, optional: the whole
//   list of routes the client now gets, replacing Config's (routes added or
//   removed at run time, or by a reload).
// Bye: 1 reason, 0..256 printable ASCII bytes.
// Path (client -> server): 1 encap u8 (1 udp, 2 raw, 3 tls), one of Config's
//   paths: send our ESP that way from now on (client/path_ladder.h).
// Esp (both ways): the payload is one ESP packet, SPI onwards, as it would
//   travel in UDP (IP over TLS, the last step of the ladder).
// All fields are required unless marked optional.
//
// Control path only.  encode() writes the struct as given; validate() checks
// what decode() checks, so a sender can refuse to send what the peer would
// reject.  decode() leaves *out unspecified on failure.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/addr.h"
#include "common/names.h"
#include "config/config.h"

namespace lm {

constexpr size_t kMaxListItems = 64;
constexpr size_t kMaxByeReason = 256;
// A bye reason that starts with this tells a client that the server admitted
// a newer session under its name (two hosts with one certificate): the
// client waits kReplacedHoldOffSeconds before it connects again instead of
// taking the session back at once, so the two do not push each other out
// every second (lanmeshd(8), DUPLICATE NAMES).
constexpr const char *kByeReplaced = "replaced by a newer session of the same name";
constexpr int kReplacedHoldOffSeconds = 300;
constexpr uint32_t kMinSpi = 256;  // 1..255 are reserved by IANA (RFC 4303 §2.1)
constexpr uint16_t kMinMtu = 576, kMaxMtu = 9000, kMinMtu6 = 1280;

struct Hello {
    std::vector<Cipher> ciphers;        // client preference order, >= 1
    uint32_t spi_s2c = 0;               // client's inbound SPI for server->client traffic
    Encapsulation encap = Encapsulation::auto_;
    std::vector<IpAddr> local_addrs;    // the client's own addresses as its sockets see them
    uint16_t data_port = 0;             // client's local UDP port (0 = none)
    // Mesh pairs the client still holds (peer name, introduction), so that a
    // server that restarted or saw it reconnect can take them up again
    // instead of refusing their keys (docs/DESIGN.md §4).
    std::vector<std::pair<std::string, uint64_t>> pairs;
};

// Config's paths: one bit per step of the data-path ladder.
constexpr uint8_t kPathRaw = 1, kPathUdp = 2, kPathTls = 4, kPathsAll = 7;
constexpr uint8_t path_bit(Encapsulation e) {
    return e == Encapsulation::raw ? kPathRaw : e == Encapsulation::udp ? kPathUdp : e == Encapsulation::tls ? kPathTls : 0;
}

struct ConfigMsg {
    Topology topology = Topology::subnet;
    Cipher cipher = Cipher::aes256gcm;
    Encapsulation encap = Encapsulation::udp;  // decided by the server: udp or raw
    uint32_t spi_c2s = 0;               // server's inbound SPI for client->server traffic
    uint32_t epoch = 0;
    IpAddr local4;
    uint8_t prefix4 = 32;
    IpAddr peer4;                       // may be unset
    IpAddr gateway4;
    IpAddr local6;                      // may be unset
    uint8_t prefix6 = 128;              // sent only with local6
    std::vector<std::pair<Prefix, IpAddr>> routes;  // dst via gw (gw may be unset)
    uint16_t mtu = 0;
    uint16_t data_port = 0;
    uint16_t keepalive_interval = 0, keepalive_timeout = 0, nat_keepalive = 0;
    uint32_t rekey_after_time = 0;
    uint64_t rekey_after_bytes = 0, rekey_after_packets = 0;
    Endpoint observed;                  // client's public address seen on TCP; unset if unknown
    ClientToClient c2c = ClientToClient::relay;
    uint8_t paths = 0;                  // kPath* bits; 0: only encap
    // The server's own address on the connection: when it is not the one
    // the client dials, a NAT forwards to the server, and raw ESP (which a
    // port forward does not pass) is left out.  Unset if unknown.
    IpAddr server_addr;
};

struct PathMsg {
    Encapsulation encap = Encapsulation::udp;   // raw, udp or tls
};

// Used for rekey and rekey_ack; spi is the sender's new inbound SPI.
struct Rekey {
    uint32_t epoch = 0;
    uint32_t spi = 0;
};

struct Bye {
    std::string reason;                 // <= 256 printable ASCII bytes
};

// Used for ping and pong.
struct Ping {
    uint64_t nonce = 0;
};

struct RouteUpdate {
    std::vector<std::pair<Prefix, IpAddr>> routes;  // as in ConfigMsg
};

std::vector<uint8_t> encode(const Hello &m);
std::vector<uint8_t> encode(const ConfigMsg &m);
std::vector<uint8_t> encode(const Rekey &m);
std::vector<uint8_t> encode(const Ping &m);
// Bye is sanitised: cut to 256 bytes, non-printable bytes replaced by '?'.
std::vector<uint8_t> encode(const Bye &m);
std::vector<uint8_t> encode(const RouteUpdate &m);
std::vector<uint8_t> encode(const PathMsg &m);

bool decode(const std::vector<uint8_t> &in, Hello *out, std::string *err);
bool decode(const std::vector<uint8_t> &in, ConfigMsg *out, std::string *err);
bool decode(const std::vector<uint8_t> &in, Rekey *out, std::string *err);
bool decode(const std::vector<uint8_t> &in, Ping *out, std::string *err);
bool decode(const std::vector<uint8_t> &in, Bye *out, std::string *err);
bool decode(const std::vector<uint8_t> &in, RouteUpdate *out, std::string *err);
bool decode(const std::vector<uint8_t> &in, PathMsg *out, std::string *err);

bool validate(const Hello &m, std::string *err);
bool validate(const ConfigMsg &m, std::string *err);
bool validate(const Rekey &m, std::string *err);
bool validate(const Ping &m, std::string *err);
bool validate(const Bye &m, std::string *err);
bool validate(const RouteUpdate &m, std::string *err);
bool validate(const PathMsg &m, std::string *err);


// ---- The mesh (ClientToClient = direct) ----
//
// PeerInfo (server -> client): introduces a peer this client talks to.
//   1 intro_id u64 (new per introduction)   2 name 1..64 bytes
//   3 cert DER 1..8192 bytes (to verify the peer's signatures against the CA)
//   4 addrs faddr list (the peer's overlay addresses)
//   5 networks route list without gateways (networks behind the peer)
//   6 candidates list of faddr|port (UDP endpoints to punch)
//   7 flags u8 (1 = peer behind a NAT, 2 = peer can do raw ESP)
//   8 cipher u16 (for the pair, chosen by the server from both lists)
// PeerKey (client -> server -> client): one side's signed ephemeral key.
//   1 intro_id u64   2 name (to the server: the receiver; from the server: the sender)
//   3 epoch u32 >= 1   4 pub 32 bytes (X25519)   5 spi u32 >= 256 (sender's inbound)
//   6 sig 1..512 bytes   7 answer u8 (0 = first of the epoch, 1 = answering)
// PeerRequest (client -> server): re-introduce NAME (path lost, endpoint changed).
//   1 name   2 data_port u16, optional (the sender moved to a new UDP port)
//   3 intro_id u64, optional: the introduction the sender holds; absent (or
//     another than the server's) asks for a fresh one (the pair is rebuilt)
// PeerGone (server -> client): drop every pair SA with NAME.   1 name  2 reason
// ServerHello (server <-> server, docs/DESIGN.md §11): the first message each
// side of a peer channel sends.  1 name (the sender's registry name)
//   2 spi u32 >= 256 (the sender's inbound SPI)   3 ciphers u16 list (the
//   connecting side: its preference; the accepting side: the one chosen)
// ServerIntro (server <-> server): introduces the sender's node to `to`,
//   held by the receiver (docs/DESIGN.md §11).  1 intro_id u64 != 0
//   2 answer u8 (0 asks, 1 answers, 2 asks to take up the pair with that
//   id, which the sender's node still holds)   3 to (name)   4 info: the sender's
//   node as a PeerInfo body   5 ciphers u16 list: that node's
// ServerKey (server <-> server): 1 from (name)   2 key: a PeerKey body
//   whose name is the receiving server's node
// PeerGone also travels server <-> server: the sender's node `name` left,
//   and the receiver tells its nodes that hold a pair with it.
constexpr size_t kMaxCertDer = 8192, kMaxSig = 512;   // kMaxPeerName: common/names.h
constexpr uint8_t kPeerFlagNat = 1, kPeerFlagRaw = 2;

struct PeerInfo {
    uint64_t intro_id = 0;
    std::string name;
    std::vector<uint8_t> cert;
    std::vector<IpAddr> addrs;
    std::vector<Prefix> networks;
    std::vector<Endpoint> candidates;
    uint8_t flags = 0;
    Cipher cipher = Cipher::aes256gcm;
};

struct PeerKey {
    uint64_t intro_id = 0;
    std::string name;
    uint32_t epoch = 0;
    std::array<uint8_t, 32> pub{};
    uint32_t spi = 0;
    std::vector<uint8_t> sig;
    bool answer = false;
};

struct PeerRequest {
    std::string name;
    uint16_t data_port = 0;   // optional: our UDP port changed (0 = unchanged)
    uint64_t intro_id = 0;    // optional: the introduction we hold (0 = none)
};

struct PeerGone {
    std::string name;
    std::string reason;
};

struct ServerHello {
    std::string name;
    uint32_t spi = 0;
    std::vector<Cipher> ciphers;
};

std::vector<uint8_t> encode(const ServerHello &m);
bool decode(const std::vector<uint8_t> &in, ServerHello *out, std::string *err);
bool validate(const ServerHello &m, std::string *err);
struct ServerIntro {
    uint64_t intro_id = 0;
    bool answer = false;
    bool takeup = false;   // asks: the sender's node still holds this pair
    std::string to;
    PeerInfo info;
    std::vector<Cipher> ciphers;
};
struct ServerKey {
    std::string from;
    PeerKey key;
};
std::vector<uint8_t> encode(const ServerIntro &m);
std::vector<uint8_t> encode(const ServerKey &m);
bool decode(const std::vector<uint8_t> &in, ServerIntro *out, std::string *err);
bool decode(const std::vector<uint8_t> &in, ServerKey *out, std::string *err);
std::vector<uint8_t> encode(const PeerInfo &m);
std::vector<uint8_t> encode(const PeerKey &m);
std::vector<uint8_t> encode(const PeerRequest &m);
std::vector<uint8_t> encode(const PeerGone &m);
bool decode(const std::vector<uint8_t> &in, PeerInfo *out, std::string *err);
bool decode(const std::vector<uint8_t> &in, PeerKey *out, std::string *err);
bool decode(const std::vector<uint8_t> &in, PeerRequest *out, std::string *err);
bool decode(const std::vector<uint8_t> &in, PeerGone *out, std::string *err);

}  // namespace lm
