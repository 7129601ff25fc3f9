// SPDX-License-Identifier: MIT
// The data path's per-packet decisions, without I/O (docs/DESIGN.md §10):
// which SA a packet belongs to, replay, its inner source, whether it is
// relayed, delivered or forwarded blind by SPI, when a peer's address is
// learnt, and why a packet is dropped.  Each call takes a packet and the
// shared state (SAs, tunnels, routes, the policy below) and returns what to
// do with it, counting every drop once (data/counters.h).  The sockets, the
// TUN and the hooks to the control plane stay in data/dataplane.h, which
// carries the verdicts out; tests/unit/test_packet_core.cc runs every drop
// reason and forwarding case through here with no socket at all.
//
// Nothing here allocates or logs: the drops that are logged once
// (overlay_src, tun_loop) are logged by the caller from the verdict.
#pragma once
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <unordered_map>
#include <vector>

#include "common/addr.h"
#include "config/config.h"
#include "data/counters.h"
#include "data/inner_packet.h"
#include "data/route_table.h"
#include "data/sa.h"
#include "data/tunnel.h"

namespace lm {

// What the two roles do differently, as data: set once before the workers
// start (server() and client() below are the only places that know the
// roles); the per-packet code reads fields, never a role.
struct DataPolicy {
    // Inner destination -> peer: the server's clients and the networks
    // behind them, or a client's pairs.
    RouteTable *routes = nullptr;
    // Where inner packets go that have no route, or whose peer has no
    // outbound SA yet (a client: its server, which relays).  Also the
    // tunnel whose address a relayed pair packet comes from, never learnt
    // as the pair's.
    Tunnel *uplink = nullptr;
    // A decrypted packet for another peer in `routes` is sealed again to it
    // (the server's relay), as far as `c2c` allows; otherwise every
    // decrypted packet goes into the TUN.  Another server's tunnel
    // (Tunnel::server_peer) is a peer like a client, except that what it
    // sends must come from a node `routes` puts behind it, and nothing it
    // sends is relayed to a third server (docs/DESIGN.md §11).
    bool relay = false;
    ClientToClient c2c = ClientToClient::relay;
    // Pair SPI -> the peer that owns it: such ESP is forwarded as it is,
    // without decryption (the server, mesh).  Null: no blind forwarding.
    const std::unordered_map<uint32_t, Tunnel *> *forward = nullptr;
    // A peer's ESP dummies are answered on the path they came by (the
    // server, for its clients' liveness checks: client/path_ladder.h).
    bool answer_dummies = false;
    // Padded path-MTU probes (data/mtu_probe.h) in a dummy: the server
    // (answer_dummies) echoes a client's probe at its size and takes its
    // result; a client with take_mtu_echoes takes the echoes.  Nothing
    // answers an echo or a result, so a peer cannot make us send more than
    // it sent.
    bool take_mtu_echoes = false;
    // ESP inside a TLS session must be for that session's own SAs (the
    // server: a session carries only its client's traffic).
    bool stream_own_sas_only = false;
    // Addresses inside the network (server: the pools; client: its own
    // networks and the routes into its TUN).  An outer packet from one of
    // them came back through our own TUN: taking it as outer ESP would let
    // a peer make us learn an overlay address as its endpoint, and every
    // packet to it would loop through the TUN (docs/PROTOCOLS.md §3).
    std::vector<Prefix> overlay;
    // The TUN's MTU: TCP SYNs either way get their MSS clamped to it
    // (data/pmtu.h).  0 = not configured yet, no clamping.
    unsigned inner_mtu = 0;

    static DataPolicy server(ClientToClient c2c, RouteTable *routes,
                             const std::unordered_map<uint32_t, Tunnel *> *forward);
    static DataPolicy client(Tunnel *uplink, RouteTable *routes);
};

// A UDP datagram on a data socket, by RFC 3948 §2 demultiplexing.
enum class UdpKind : uint8_t {
    drop,        // counted
    overlay_src, // counted: the source is inside the network (logged once by the caller)
    keepalive,   // the one-byte 0xFF NAT keepalive, counted
    non_esp,     // a frame behind the 4-byte zero marker (hole-punch probes)
    esp,
};

// What to do with one received ESP packet.
struct EspVerdict {
    enum Action : uint8_t {
        drop,          // counted as `why`
        forward,       // pair ESP: send it as it is to `tunnel`
        dummy,         // authenticated dummy from `tunnel`, nothing more to do
        answer_dummy,  // ... and answer it on the path it came by
        echo_probe,    // ... a path-MTU probe: answer it on the path it came
                       // by with `inner` (now the echo, data/mtu_probe.h)
                       // at its full size
        decrypted,     // authenticated packet from `tunnel`: see route_decrypted
    } action = drop;
    Drop why = Drop::count_;
    // drop unknown_spi of ESP the policy forwards blind otherwise: its
    // owner left, the control plane may tell the sender.
    bool unknown_pair_spi = false;
    // Address learning (RFC 3948 §3.5): the peer's endpoint should move to
    // where this packet came from; the control thread does it
    // (Dataplane::apply_endpoint) with `sa` and `seq`.
    bool learn = false;
    Tunnel *tunnel = nullptr;
    InboundSa *sa = nullptr;
    uint32_t seq = 0;
    uint8_t *inner = nullptr;   // inside the packet, decrypted in place
    size_t inner_len = 0;
    uint8_t next_header = 0;
};

// What to do with one decrypted inner packet.
struct InnerVerdict {
    enum Action : uint8_t {
        drop,      // counted as `why`
        tun,       // write `len` bytes into the TUN
        relay,     // seal `len` bytes again to `to` (counted as relayed)
    } action = drop;
    Drop why = Drop::count_;
    Tunnel *to = nullptr;
    size_t len = 0;
    // relay: the two peers have not been introduced yet (Tunnel::introduced,
    // or Tunnel::introduced_remote when `to` is another server's tunnel),
    // the control plane may introduce them.
    bool introduce = false;
    // relay: the inner destination (across servers it names the node).
    IpAddr dst;
};

// What to do with packets read from the TUN.
struct TunVerdict {
    enum Action : uint8_t {
        drop,      // counted as `why`
        too_big,   // counted as too_big; answer with a Packet Too Big for `limit`
        send,      // seal to `to`
    } action = drop;
    Drop why = Drop::count_;
    Tunnel *to = nullptr;      // send, too_big; also the peer of a tun_loop drop
    unsigned limit = 0;        // inner bytes the path to `to` carries; 0 = no limit
    uint8_t next_header = 0;
    size_t len = 0;            // the inner packet's own length
};

class PacketCore {
public:
    // `slot`: this engine's index in per-worker state (data/per_worker.h).
    PacketCore(DataCounters &counters, SaTable &sas, int slot, const DataPolicy &policy)
        : c_(counters), sas_(sas), slot_(slot), policy_(policy) {}

    time_t now = 0;   // the caller sets it once per batch

    // Outer side.
    bool from_overlay(const IpAddr &a) const {
        for (const Prefix &p : policy_.overlay)
            if (p.contains(a)) return true;
        return false;
    }
    // A UDP datagram of `len` bytes from `from` (udp_rx is the caller's).
    UdpKind classify_udp(const uint8_t *p, size_t len, const Endpoint &from);
    // A raw ESP packet (IPv4 raw sockets deliver the IP header: `ipv4_header`)
    // as read: the reason it is dropped (counted), or Drop::count_ and
    // *esp, *esp_len are its ESP part.
    Drop strip_raw(uint8_t *p, size_t len, bool ipv4_header, const Endpoint &from, uint8_t **esp,
                   size_t *esp_len);
    // Whether ESP that came inside `session`'s TLS connection may be taken
    // (counts stream_foreign if not).
    bool stream_allowed(const Tunnel &session, const uint8_t *esp);
    // One ESP packet of at least kEspMinLen bytes.  `udp_idx` is the UDP
    // socket index, -1 for raw ESP, kStreamPath for ESP inside TLS.
    // Authenticates, checks replay and decrypts in place.
    EspVerdict open_esp(uint8_t *esp, size_t len, const Endpoint &from, int udp_idx);
    static constexpr int kStreamPath = -2;

    // A decrypted packet from `from`: its source, and the TUN or a relay.
    // May lower a TCP SYN's MSS in place.
    InnerVerdict route_decrypted(Tunnel &from, uint8_t *inner, size_t len, uint8_t next_header);

    // One packet read from the TUN (counts tun_rx).  May lower a TCP SYN's
    // MSS in place.
    TunVerdict route_tun_packet(uint8_t *p, size_t len);
    // A TSO/USO super-packet split into `count` segments of at most
    // `seg_bytes` inner bytes each (the caller counted tun_rx and checked
    // the packet itself); drops are counted once per segment.
    TunVerdict route_tun_train(const uint8_t *p, const InnerInfo &info, size_t seg_bytes, uint64_t count);

    // What inner packets to `t` may be: the TUN's MTU or the path's.
    unsigned inner_limit(const Tunnel &t) const {
        const Tunnel &path = t.via ? *t.via : t;
        if (path.path_mtu && (!policy_.inner_mtu || path.path_mtu < policy_.inner_mtu)) return path.path_mtu;
        return policy_.inner_mtu;
    }
    // Whether an inner packet for `to` is our own outer packet to that
    // peer's endpoint: sealing it would send it back into the TUN.
    static bool is_own_outer(const Tunnel &to, const uint8_t *p, const InnerInfo &info);
    // Whether `path` has an outer address to send to.
    static bool path_ready(const Tunnel &path);
    // Whether `t` can be sealed to now; counts no_sa or no_endpoint if not.
    bool can_send(const Tunnel &t) {
        if (!t.out) {
            c_.drop(Drop::no_sa);
            return false;
        }
        if (!path_ready(t.via ? *t.via : t)) {
            c_.drop(Drop::no_endpoint);
            return false;
        }
        return true;
    }

private:
    // An authenticated dummy from `t` with a payload: what v's action is.
    void take_dummy(Tunnel &t, EspVerdict &v);
    EspVerdict dropped(Drop why) {
        c_.drop(why);
        EspVerdict v;
        v.why = why;
        return v;
    }
    TunVerdict route_tun(const uint8_t *p, const InnerInfo &info, size_t bytes, uint64_t count);

    DataCounters &c_;
    SaTable &sas_;
    const int slot_;
    const DataPolicy &policy_;
};

}  // namespace lm
