// SPDX-License-Identifier: MIT
#include "data/packet_core.h"

#include <netinet/in.h>

#include <algorithm>

#include "common/bytes.h"
#include "data/mtu_probe.h"
#include "data/pmtu.h"
#include "esp/esp.h"

namespace lm {

DataPolicy DataPolicy::server(ClientToClient c2c, RouteTable *routes,
                              const std::unordered_map<uint32_t, Tunnel *> *forward) {
    DataPolicy p;
    p.routes = routes;
    p.relay = true;
    p.c2c = c2c;
    p.forward = forward;
    p.answer_dummies = true;
    p.stream_own_sas_only = true;
    return p;
}

DataPolicy DataPolicy::client(Tunnel *uplink, RouteTable *routes) {
    DataPolicy p;
    p.routes = routes;
    p.uplink = uplink;
    p.take_mtu_echoes = true;
    return p;
}

UdpKind PacketCore::classify_udp(const uint8_t *p, size_t len, const Endpoint &from) {
    // Nothing from inside the network is outer traffic: it came through our
    // own TUN (docs/PROTOCOLS.md §3).
    if (from_overlay(from.addr)) {
        c_.drop(Drop::overlay_src);
        return UdpKind::overlay_src;
    }
    // RFC 3948 §2 demultiplexing, in the kernel's order.
    if (len == 1 && p[0] == 0xff) {
        c_.keepalive_rx++;
        return UdpKind::keepalive;
    }
    if (len >= 4 && load_be32(p) == 0) return UdpKind::non_esp;
    if (len < kEspMinLen) {
        c_.drop(Drop::udp_runt);
        return UdpKind::drop;
    }
    return UdpKind::esp;
}

Drop PacketCore::strip_raw(uint8_t *p, size_t len, bool ipv4_header, const Endpoint &from, uint8_t **esp,
                           size_t *esp_len) {
    if (ipv4_header) {
        if (len < 20 || (p[0] >> 4) != 4) {
            c_.drop(Drop::raw_runt);
            return Drop::raw_runt;
        }
        size_t ihl = size_t(p[0] & 0x0f) * 4;
        size_t total = load_be16(p + 2);
        if (ihl < 20 || total > len || total < ihl) {
            c_.drop(Drop::raw_runt);
            return Drop::raw_runt;
        }
        p += ihl;
        len = total - ihl;
    }
    if (len < kEspMinLen) {
        c_.drop(Drop::raw_runt);
        return Drop::raw_runt;
    }
    if (from_overlay(from.addr)) {
        c_.drop(Drop::overlay_src);
        return Drop::overlay_src;
    }
    *esp = p;
    *esp_len = len;
    return Drop::count_;
}

bool PacketCore::stream_allowed(const Tunnel &session, const uint8_t *esp) {
    if (!policy_.stream_own_sas_only) return true;
    InboundSa *sa = sas_.find(esp_spi(esp));
    if (sa && sa->tunnel != &session) {
        c_.drop(Drop::stream_foreign);
        return false;
    }
    return true;
}

EspVerdict PacketCore::open_esp(uint8_t *esp, size_t len, const Endpoint &from, int udp_idx) {
    InboundSa *sa = sas_.find(esp_spi(esp));
    if (!sa) {
        if (policy_.forward) {
            auto it = policy_.forward->find(esp_spi(esp));
            if (it != policy_.forward->end()) {
                // Pair ESP comes from its sender's endpoint, which is never
                // inside the network.
                if (policy_.routes && policy_.routes->lookup(from.addr)) return dropped(Drop::overlay_src);
                if (!path_ready(*it->second)) return dropped(Drop::no_endpoint);
                c_.forwarded++;
                EspVerdict v;
                v.action = EspVerdict::forward;
                v.tunnel = it->second;
                return v;
            }
        }
        EspVerdict v = dropped(Drop::unknown_spi);
        v.unknown_pair_spi = policy_.forward != nullptr;
        return v;
    }
    Tunnel &t = *sa->tunnel;
    bool stream = udp_idx == kStreamPath;
    // Another address than the peer's endpoint (the start of address
    // learning, or a pair's packets relayed by the server): one route
    // lookup, so an address inside the network is never taken as outer.
    bool new_addr = stream ? false : udp_idx >= 0 ? !(t.udp_peer == from) : !(t.raw_peer == from.addr);
    if (new_addr && policy_.routes && policy_.routes->lookup(from.addr)) return dropped(Drop::overlay_src);
    uint32_t seq = esp_seq(esp);
    // Cheap replay pre-check; the window itself moves only after the ICV
    // verifies, so forged packets cannot shift it (RFC 4303 §3.4.3).
    if (!sa->replay.check(seq)) {
        t.stats[slot_].drops_replay++;
        return dropped(Drop::replay);
    }
    Aead *aead = sa->keys.get(slot_);
    if (!aead) return dropped(Drop::bad_icv);
    EspVerdict v;
    switch (esp_open(*aead, esp, len, &v.inner, &v.inner_len, &v.next_header)) {
    case EspOpen::ok:
    case EspOpen::dummy:
        break;
    case EspOpen::too_short:
        return dropped(Drop::udp_runt);
    case EspOpen::bad_icv:
        t.stats[slot_].drops_icv++;
        return dropped(Drop::bad_icv);
    case EspOpen::bad_padding:
        t.stats[slot_].drops_padding++;
        return dropped(Drop::bad_padding);
    }
    bool newest = false;
    if (!sa->replay.update(seq, &newest)) {
        t.stats[slot_].drops_replay++;
        return dropped(Drop::replay);
    }
    Tunnel::Stats &ts = t.stats[slot_];
    ts.last_rx = now;
    ts.path_rx[stream ? 2 : udp_idx >= 0 ? 1 : 0]++;
    sa->stats[slot_].packets++;
    sa->stats[slot_].bytes += len;
    v.tunnel = &t;
    v.sa = sa;
    v.seq = seq;
    // Address learning (RFC 3948 §3.5): only from authenticated packets newer
    // than anything seen, so a replayed old packet cannot redirect us.
    // A pair tunnel relayed through the server must not learn the server's
    // address as the peer's, nor must a direct pair whose peer fell back.
    const Tunnel *uplink = policy_.uplink;
    bool via_server = uplink && udp_idx >= 0 && from == uplink->udp_peer;
    // After a rekey, a late packet on the old SA does not move the endpoint
    // once the peer uses the new one.
    // The change itself is the control thread's (other workers read the
    // endpoint); it is asked for only when something differs.
    bool current = sa == t.in_cur.get() || !t.in_cur || t.in_cur->replay.top() == 0;
    if (newest && current && !stream && !t.via && !(via_server && &t != uplink))
        v.learn = udp_idx >= 0 ? new_addr || t.udp_sock != udp_idx : t.encap == Encapsulation::raw && new_addr;
    if (v.next_header == kNextHeaderDummy) {
        c_.keepalive_rx++;
        take_dummy(t, v);
        return v;
    }
    ts.rx_packets++;
    ts.rx_bytes += v.inner_len;
    v.action = EspVerdict::decrypted;
    return v;
}

void PacketCore::take_dummy(Tunnel &t, EspVerdict &v) {
    bool answers = policy_.answer_dummies && t.is_client;
    MtuProbe probe;
    // A dummy whose padding is no probe header is a plain one.
    if (v.inner_len && mtu_probe_read(v.inner, v.inner_len, &probe)) {
        v.action = EspVerdict::dummy;
        if (answers && probe.kind == MtuProbeKind::probe) {
            mtu_probe_make_echo(v.inner);
            v.action = EspVerdict::echo_probe;
        } else if (answers && probe.kind == MtuProbeKind::result) {
            t.stats[slot_].mtu_result = mtu_probe_word(probe.id, probe.size);
        } else if (policy_.take_mtu_echoes && probe.kind == MtuProbeKind::echo) {
            t.stats[slot_].mtu_echo = mtu_probe_word(probe.id, probe.size);
        }
        return;
    }
    // A client proves its path by our answer (client/path_ladder.h).
    v.action = answers ? EspVerdict::answer_dummy : EspVerdict::dummy;
}

InnerVerdict PacketCore::route_decrypted(Tunnel &from, uint8_t *inner, size_t len, uint8_t nh) {
    InnerVerdict v;
    InnerInfo info;
    if (!parse_inner(inner, len, nh, &info)) {
        c_.drop(v.why = Drop::bad_inner);
        from.stats[slot_].drops_inner++;
        return v;
    }
    // A server tunnel may send from the nodes held by that server alone:
    // those the route table puts behind it (one hash lookup).
    bool src_ok = from.server_peer ? policy_.routes && policy_.routes->lookup(info.src) == &from
                                   : from.allows_source(info.src);
    if (!src_ok) {
        c_.drop(v.why = Drop::src_not_allowed);
        from.stats[slot_].drops_src++;
        return v;
    }
    if (unsigned limit = inner_limit(from); limit && clamp_mss(inner, info.len, limit)) c_.mss_clamped++;
    v.len = info.len;
    if (policy_.relay && policy_.routes) {
        Tunnel *to = policy_.routes->lookup(info.dst);
        if (to == &from) {
            c_.drop(v.why = Drop::no_route);
            return v;
        }
        if (to) {
            if (policy_.c2c == ClientToClient::off) {
                c_.drop(v.why = Drop::c2c_off);
                return v;
            }
            // No transit between servers: each reaches every other directly
            // (docs/DESIGN.md §11), so a loop cannot form.
            if (from.server_peer && to->server_peer) {
                c_.drop(v.why = Drop::no_route);
                return v;
            }
            // Introduced pairs are the common case: a short scan.  A node on
            // another server is known by its address; what another server
            // relays to us is that server's to introduce.
            if (!from.server_peer)
                v.introduce = to->server_peer ? std::find(from.introduced_remote.begin(), from.introduced_remote.end(),
                                                          info.dst) == from.introduced_remote.end()
                                              : std::find(from.introduced.begin(), from.introduced.end(), to) ==
                                                    from.introduced.end();
            v.dst = info.dst;
            c_.relayed++;
            v.action = InnerVerdict::relay;
            v.to = to;
            return v;
        }
    }
    v.action = InnerVerdict::tun;
    return v;
}

TunVerdict PacketCore::route_tun_packet(uint8_t *p, size_t n) {
    c_.tun_rx++;
    InnerInfo info;
    uint8_t nh = next_header_for(p, n);
    if (!parse_inner(p, n, nh, &info)) {
        c_.drop(Drop::bad_inner);
        TunVerdict v;
        v.why = Drop::bad_inner;
        return v;
    }
    TunVerdict v = route_tun(p, info, info.len, 1);
    v.next_header = nh;
    if (v.action == TunVerdict::send && v.limit && clamp_mss(p, info.len, v.limit)) c_.mss_clamped++;
    return v;
}

TunVerdict PacketCore::route_tun_train(const uint8_t *p, const InnerInfo &info, size_t seg_bytes, uint64_t count) {
    return route_tun(p, info, seg_bytes, count);
}

TunVerdict PacketCore::route_tun(const uint8_t *p, const InnerInfo &info, size_t bytes, uint64_t count) {
    TunVerdict v;
    v.len = info.len;
    Tunnel *to = policy_.routes ? policy_.routes->lookup(info.dst) : nullptr;
    // A client sends to a pair only once it has the pair's SA; until
    // then (and for everything else) the server relays.
    if (policy_.uplink && (!to || !to->out)) to = policy_.uplink;
    if (!to) {
        c_.drops[int(v.why = Drop::no_route)] += count;
        return v;
    }
    v.to = to;   // named in the tun_loop warning too
    if (is_own_outer(*to, p, info)) {
        c_.drops[int(v.why = Drop::tun_loop)] += count;
        return v;
    }
    v.limit = inner_limit(*to);
    if (v.limit && bytes > v.limit) {
        c_.drops[int(v.why = Drop::too_big)] += count;
        v.action = TunVerdict::too_big;
        return v;
    }
    v.action = TunVerdict::send;
    return v;
}

bool PacketCore::is_own_outer(const Tunnel &to, const uint8_t *p, const InnerInfo &info) {
    const Tunnel &path = to.via ? *to.via : to;
    bool to_udp_peer = info.dst == path.udp_peer.addr;
    if (!to_udp_peer && !(info.dst == path.raw_peer)) return false;   // the common case ends here
    size_t l4;
    uint8_t proto;
    if (info.dst.family == AF_INET) {
        l4 = size_t(p[0] & 0x0f) * 4;
        proto = p[9];
    } else {
        l4 = 40;
        proto = p[6];
    }
    if (proto == IPPROTO_ESP) return true;
    return proto == IPPROTO_UDP && to_udp_peer && info.len >= l4 + 4 && load_be16(p + l4 + 2) == path.udp_peer.port;
}

bool PacketCore::path_ready(const Tunnel &path) {
    switch (path.encap) {
    case Encapsulation::udp: return path.udp_sock >= 0 && path.udp_peer.port != 0;
    case Encapsulation::tls: return true;
    default: return path.raw_peer.is_set();
    }
}

}  // namespace lm
