// SPDX-License-Identifier: MIT
#include "data/dataplane.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "common/bytes.h"
#include "common/log.h"
#include "data/inner_packet.h"
#include "data/kernel_compat.h"
#include "data/pmtu.h"
#include "esp/esp.h"

namespace lm {

namespace {

constexpr size_t kCmsgSpace = CMSG_SPACE(sizeof(int));

}  // namespace

Dataplane::Dataplane(DataCounters &counters, SaTable &sas, int slot)
    : c_(counters), sas_(sas), slot_(slot), rx_buf_(kBatch * kRxSlot), tx_buf_(kTxSlots * kSlot) {
    msgs_ = new mmsghdr[kTxSlots]();
    iovs_ = new iovec[kTxSlots]();
    msg_first_ = new int[kTxSlots]();
    msg_slots_ = new int[kTxSlots]();
    cmsg_buf_ = new uint8_t[kTxSlots * kCmsgSpace]();
    gro_.enabled = false;
    gro_.udp = false;
}

Dataplane::~Dataplane() {
    delete[] msgs_;
    delete[] iovs_;
    delete[] msg_first_;
    delete[] msg_slots_;
    delete[] cmsg_buf_;
}

void Dataplane::set_tun(int fd, bool vnet, bool gro_tcp, bool gro_udp) {
    tun_fd_ = fd;
    vnet_ = vnet;
    gro_.enabled = vnet && gro_tcp;
    gro_.udp = vnet && gro_udp;
}

int Dataplane::udp_for_family(int family) const {
    for (size_t i = 0; i < udp_.size(); i++)
        if (udp_[i].family == family) return int(i);
    return -1;
}

void Dataplane::on_udp_readable(int idx) {
    now_ = time(nullptr);
    int fd = udp_[idx].fd;
    for (int round = 0; round < 8; round++) {
        for (int i = 0; i < kBatch; i++) {
            iovs_[i] = {rx_buf_.data() + i * kRxSlot, kRxSlot};
            msgs_[i].msg_hdr = {};
            msgs_[i].msg_hdr.msg_iov = &iovs_[i];
            msgs_[i].msg_hdr.msg_iovlen = 1;
            msgs_[i].msg_hdr.msg_name = &rx_addr_[i];
            msgs_[i].msg_hdr.msg_namelen = sizeof rx_addr_[i];
            msgs_[i].msg_hdr.msg_control = cmsg_buf_ + i * kCmsgSpace;
            msgs_[i].msg_hdr.msg_controllen = kCmsgSpace;
        }
        int n = recvmmsg(fd, msgs_, kBatch, MSG_DONTWAIT, nullptr);
        if (n <= 0) break;
        c_.rx_batches++;
        // Copy out lengths, flags and GRO segment sizes first: handle_esp
        // reuses msgs_ when it flushes the transmit ring.
        size_t lens[kBatch], segs[kBatch];
        int flags[kBatch];
        for (int i = 0; i < n; i++) {
            lens[i] = msgs_[i].msg_len;
            flags[i] = msgs_[i].msg_hdr.msg_flags;
            segs[i] = 0;
            for (cmsghdr *cm = CMSG_FIRSTHDR(&msgs_[i].msg_hdr); cm; cm = CMSG_NXTHDR(&msgs_[i].msg_hdr, cm)) {
                if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO && cm->cmsg_len >= CMSG_LEN(sizeof(int))) {
                    int g;
                    std::memcpy(&g, CMSG_DATA(cm), sizeof g);
                    if (g > 0) segs[i] = size_t(g);
                }
            }
        }
        for (int i = 0; i < n; i++) {
            uint8_t *p = rx_buf_.data() + i * kRxSlot;
            size_t len = lens[i];
            if (flags[i] & MSG_TRUNC) {
                c_.udp_rx++;
                c_.drop(Drop::too_big);
                continue;
            }
            // A UDP_GRO read: datagrams of segs[i] bytes, the last maybe shorter.
            if (segs[i] && segs[i] < len) c_.gro_rx++;
            gro_split(len, segs[i], [&](size_t off, size_t dl) { udp_datagram(p + off, dl, idx, rx_addr_[i]); });
        }
        tun_flush();   // the next round overwrites the buffers GRO points into
        if (n < kBatch) break;
    }
    flush();
}

void Dataplane::udp_datagram(uint8_t *p, size_t len, int idx, const sockaddr_storage &addr) {
    c_.udp_rx++;
    Endpoint from = Endpoint::from_sockaddr(reinterpret_cast<const sockaddr *>(&addr));
    // Nothing from inside the network is outer traffic: it came through our
    // own TUN (docs/PROTOCOLS.md §3).
    if (from_overlay(from.addr)) {
        drop_overlay_src(from);
        return;
    }
    // RFC 3948 §2 demultiplexing, in the kernel's order.
    if (len == 1 && p[0] == 0xff) {
        c_.keepalive_rx++;
        return;
    }
    if (len >= 4 && load_be32(p) == 0) {
        if (on_non_esp)
            on_non_esp(p, len, from, idx);
        else
            c_.drop(Drop::udp_non_esp);
        return;
    }
    if (len < kEspMinLen) {
        c_.drop(Drop::udp_runt);
        return;
    }
    handle_esp(p, len, from, idx);
}

void Dataplane::on_raw_readable(int family) {
    now_ = time(nullptr);
    int fd = raw_fd(family);
    for (int round = 0; round < 8; round++) {
        for (int i = 0; i < kBatch; i++) {
            iovs_[i] = {rx_buf_.data() + i * kRxSlot, kRxSlot};
            msgs_[i].msg_hdr = {};
            msgs_[i].msg_hdr.msg_iov = &iovs_[i];
            msgs_[i].msg_hdr.msg_iovlen = 1;
            msgs_[i].msg_hdr.msg_name = &rx_addr_[i];
            msgs_[i].msg_hdr.msg_namelen = sizeof rx_addr_[i];
        }
        int n = recvmmsg(fd, msgs_, kBatch, MSG_DONTWAIT, nullptr);
        if (n <= 0) break;
        c_.rx_batches++;
        size_t lens[kBatch];
        for (int i = 0; i < n; i++) lens[i] = msgs_[i].msg_len;
        for (int i = 0; i < n; i++) {
            uint8_t *p = rx_buf_.data() + i * kRxSlot;
            size_t len = lens[i];
            c_.raw_rx++;
            // IPv4 raw sockets deliver the IP header; IPv6 ones do not.
            if (family == AF_INET) {
                if (len < 20 || (p[0] >> 4) != 4) {
                    c_.drop(Drop::raw_runt);
                    continue;
                }
                size_t ihl = size_t(p[0] & 0x0f) * 4;
                size_t total = load_be16(p + 2);
                if (ihl < 20 || total > len || total < ihl) {
                    c_.drop(Drop::raw_runt);
                    continue;
                }
                p += ihl;
                len = total - ihl;
            }
            if (len < kEspMinLen) {
                c_.drop(Drop::raw_runt);
                continue;
            }
            Endpoint from = Endpoint::from_sockaddr(reinterpret_cast<sockaddr *>(&rx_addr_[i]));
            from.port = 0;
            if (from_overlay(from.addr)) {
                drop_overlay_src(from);
                continue;
            }
            handle_esp(p, len, from, -1);
        }
        tun_flush();   // the next round overwrites the buffers GRO points into
        if (n < kBatch) break;
    }
    flush();
}

void Dataplane::handle_esp(uint8_t *esp, size_t len, const Endpoint &from, int udp_idx) {
    InboundSa *sa = sas_.find(esp_spi(esp));
    if (!sa) {
        if (forward) {
            auto it = forward->find(esp_spi(esp));
            if (it != forward->end()) {
                // Pair ESP comes from its sender's endpoint, which is never
                // inside the network.
                if (routes && routes->lookup(from.addr)) {
                    drop_overlay_src(from);
                    return;
                }
                forward_esp(*it->second, esp, len);
                return;
            }
        }
        c_.drop(Drop::unknown_spi);
        if (forward && on_unknown_spi) on_unknown_spi(esp_spi(esp), from, udp_idx);
        return;
    }
    Tunnel &t = *sa->tunnel;
    bool stream = udp_idx == kStreamPath;
    // Another address than the peer's endpoint (the start of address
    // learning, or a pair's packets relayed by the server): one route
    // lookup, so an address inside the network is never taken as outer.
    bool new_addr = stream ? false : udp_idx >= 0 ? !(t.udp_peer == from) : !(t.raw_peer == from.addr);
    if (new_addr && routes && routes->lookup(from.addr)) {
        drop_overlay_src(from);
        return;
    }
    uint32_t seq = esp_seq(esp);
    // Cheap replay pre-check; the window itself moves only after the ICV
    // verifies, so forged packets cannot shift it (RFC 4303 §3.4.3).
    if (!sa->replay.check(seq)) {
        c_.drop(Drop::replay);
        sa->tunnel->stats[slot_].drops_replay++;
        return;
    }
    Aead *aead = sa->keys.get(slot_);
    if (!aead) {
        c_.drop(Drop::bad_icv);
        return;
    }
    uint8_t *inner;
    size_t inner_len;
    uint8_t nh;
    switch (esp_open(*aead, esp, len, &inner, &inner_len, &nh)) {
    case EspOpen::ok:
    case EspOpen::dummy:
        break;
    case EspOpen::too_short:
        c_.drop(Drop::udp_runt);
        return;
    case EspOpen::bad_icv:
        c_.drop(Drop::bad_icv);
        sa->tunnel->stats[slot_].drops_icv++;
        return;
    case EspOpen::bad_padding:
        c_.drop(Drop::bad_padding);
        sa->tunnel->stats[slot_].drops_padding++;
        return;
    }
    bool newest = false;
    if (!sa->replay.update(seq, &newest)) {
        c_.drop(Drop::replay);
        sa->tunnel->stats[slot_].drops_replay++;
        return;
    }
    Tunnel::Stats &ts = t.stats[slot_];
    ts.last_rx = now_;
    ts.path_rx[stream ? 2 : udp_idx >= 0 ? 1 : 0]++;
    sa->stats[slot_].packets++;
    sa->stats[slot_].bytes += len;
    // Address learning (RFC 3948 §3.5): only from authenticated packets newer
    // than anything seen, so a replayed old packet cannot redirect us.
    // A pair tunnel relayed through the server must not learn the server's
    // address as the peer's, nor must a direct pair whose peer fell back.
    bool via_server = uplink && udp_idx >= 0 && from == uplink->udp_peer;
    // After a rekey, a late packet on the old SA does not move the endpoint
    // once the peer uses the new one.
    // The change itself is the control thread's (other workers read the
    // endpoint); it is asked for only when something differs.
    bool current = sa == t.in_cur.get() || !t.in_cur || t.in_cur->replay.top() == 0;
    if (newest && current && !stream && !t.via && !(via_server && &t != uplink) && on_endpoint) {
        bool moved = udp_idx >= 0 ? new_addr || t.udp_sock != udp_idx : t.encap == Encapsulation::raw && new_addr;
        if (moved) on_endpoint(t, *sa, seq, from, udp_idx);
    }
    if (nh == kNextHeaderDummy) {
        c_.keepalive_rx++;
        // A client proves its path by our answer (client/path_ladder.h).
        if (role == Role::server && t.is_client) reply_dummy(t, from, udp_idx);
        return;
    }
    ts.rx_packets++;
    ts.rx_bytes += inner_len;
    deliver(t, inner, inner_len, nh);
}

void Dataplane::apply_endpoint(Tunnel &t, InboundSa &sa, uint32_t seq, const Endpoint &from, int udp_idx) {
    if (seq <= sa.endpoint_seq) return;   // a newer packet moved it already
    sa.endpoint_seq = seq;
    if (udp_idx >= 0) {
        t.udp_peer = from;
        t.udp_sock = udp_idx;
    } else if (t.encap == Encapsulation::raw) {
        t.raw_peer = from.addr;
    }
}

void Dataplane::deliver(Tunnel &from, uint8_t *inner, size_t len, uint8_t nh) {
    InnerInfo info;
    if (!parse_inner(inner, len, nh, &info)) {
        c_.drop(Drop::bad_inner);
        from.stats[slot_].drops_inner++;
        return;
    }
    // A server tunnel may send from the nodes held by that server alone:
    // those the route table puts behind it (one hash lookup).
    if (from.server_peer ? !routes || routes->lookup(info.src) != &from : !from.allows_source(info.src)) {
        c_.drop(Drop::src_not_allowed);
        from.stats[slot_].drops_src++;
        return;
    }
    if (unsigned limit = inner_limit(from); limit && clamp_mss(inner, info.len, limit)) c_.mss_clamped++;
    if (role == Role::server && routes) {
        Tunnel *to = routes->lookup(info.dst);
        if (to == &from) {
            c_.drop(Drop::no_route);
            return;
        }
        if (to) {
            if (c2c == ClientToClient::off) {
                c_.drop(Drop::c2c_off);
                return;
            }
            // No transit between servers: each reaches every other directly
            // (docs/DESIGN.md §11), so a loop cannot form.
            if (from.server_peer && to->server_peer) {
                c_.drop(Drop::no_route);
                return;
            }
            // Introduced pairs are the common case: a short scan, no call.
            // A node on another server is known by its address.
            if (on_relay && !from.server_peer) {
                bool known = to->server_peer ? std::find(from.introduced_remote.begin(), from.introduced_remote.end(),
                                                         info.dst) != from.introduced_remote.end()
                                             : std::find(from.introduced.begin(), from.introduced.end(), to) !=
                                                   from.introduced.end();
                if (!known) on_relay(from, *to, info.dst);
            }
            c_.relayed++;
            send_inner(*to, nh, inner, info.len);
            return;
        }
    }
    tun_write(inner, info.len);
}

void Dataplane::tun_write(uint8_t *p, size_t len) {
    if (vnet_) {
        // Held until the end of the receive round (tun_flush); there is
        // always room for the virtio header in front of a decrypted packet
        // (the ESP header and IV were there).
        if (gro_.full()) tun_flush();
        gro_.add(p, len);
        return;
    }
    if (write(tun_fd_, p, len) < 0) {
        c_.drop(Drop::send_error);
        return;
    }
    c_.tun_tx++;
}

void Dataplane::tun_flush() {
    int items = gro_.items();
    for (int i = 0; i < items; i++) {
        iovec iov[TcpGro::kMaxSegs];
        int packets = 0;
        int n = gro_.item_iov(i, iov, &packets);
        if (writev(tun_fd_, iov, n) < 0) {
            c_.drops[int(Drop::send_error)] += uint64_t(packets);
            continue;
        }
        c_.tun_tx += uint64_t(packets);
        if (packets > 1) c_.gro_tun_tx++;
    }
    gro_.clear();
}

void Dataplane::on_tun_readable() {
    now_ = time(nullptr);
    tun_flush();   // nothing is pending here; the buffers are about to be reused
    // Bounded work per wakeup, counted in packets (a read may be 45 of
    // them), so the receive side gets its turn: ACKs wait behind us.
    uint64_t stop_at = c_.tun_rx + 4 * kTxSlots;
    for (int i = 0; i < 4 * kBatch && c_.tun_rx < stop_at; i++) {
        uint8_t *buf = rx_buf_.data();
        ssize_t n = read(tun_fd_, buf, kRxSlot);
        if (n < 0) break;   // EAGAIN: drained
        if (!vnet_) {
            tun_packet(buf, size_t(n));
            continue;
        }
        if (size_t(n) < kVnetHdrLen) {
            c_.tun_rx++;
            c_.drop(Drop::bad_inner);
            continue;
        }
        VnetHdr h = vnet_load(buf);
        uint8_t *p = buf + kVnetHdrLen;
        size_t len = size_t(n) - kVnetHdrLen;
        if ((h.gso_type & uint8_t(~kGsoEcn)) != kGsoNone) {
            tun_super_packet(p, len, h);
            continue;
        }
        if ((h.flags & kVnetNeedsCsum) && !csum_complete_partial(p, len, h.csum_start, h.csum_offset)) {
            c_.tun_rx++;
            c_.drop(Drop::bad_inner);
            continue;
        }
        tun_packet(p, len);
    }
    flush();
}

void Dataplane::tun_packet(uint8_t *p, size_t n) {
    c_.tun_rx++;
    InnerInfo info;
    uint8_t nh = next_header_for(p, n);
    if (!parse_inner(p, n, nh, &info)) {
        c_.drop(Drop::bad_inner);
        return;
    }
    Tunnel *to = routes ? routes->lookup(info.dst) : nullptr;
    // A client sends to a pair only once it has the pair's SA; until
    // then (and for everything else) the server relays.
    if (role == Role::client && (!to || !to->out)) to = uplink;
    if (!to) {
        c_.drop(Drop::no_route);
        return;
    }
    if (is_own_outer(*to, p, info)) {
        drop_tun_loop(*to);
        return;
    }
    unsigned limit = inner_limit(*to);
    if (limit && info.len > limit) {
        too_big_for_path(p, info.len, limit, 1);
        return;
    }
    if (limit && clamp_mss(p, info.len, limit)) c_.mss_clamped++;
    send_inner(*to, nh, p, info.len);
}

// A TSO/USO super-packet: every segment is built straight into its transmit
// slot behind the ESP header and sealed in place, so consecutive slots hold
// a train of equal-size ESP packets for one UDP_SEGMENT send.
void Dataplane::tun_super_packet(uint8_t *p, size_t len, const VnetHdr &h) {
    GsoPlan plan;
    InnerInfo info;
    uint8_t nh = next_header_for(p, len);
    if (!gso_plan(p, len, h, &plan) || !parse_inner(p, len, nh, &info)) {
        c_.tun_rx++;
        c_.drop(Drop::bad_inner);
        return;
    }
    c_.tun_rx += uint64_t(plan.count);
    c_.gso_tun_rx++;
    if (plan.hdr_len + plan.seg_payload + kEspPayloadOff + kEspOverheadMax > kSlot) {
        c_.drops[int(Drop::too_big)] += uint64_t(plan.count);
        return;
    }
    Tunnel *to = routes ? routes->lookup(info.dst) : nullptr;
    if (role == Role::client && (!to || !to->out)) to = uplink;
    if (!to) {
        c_.drops[int(Drop::no_route)] += uint64_t(plan.count);
        return;
    }
    if (is_own_outer(*to, p, info)) {
        c_.drops[int(Drop::tun_loop)] += uint64_t(plan.count) - 1;
        drop_tun_loop(*to);
        return;
    }
    if (unsigned limit = inner_limit(*to); limit && plan.hdr_len + plan.seg_payload > limit) {
        too_big_for_path(p, len, limit, uint64_t(plan.count));
        return;
    }
    for (int s = 0; s < plan.count; s++) {
        if (!can_send(*to)) continue;
        uint8_t *buf = tx_reserve();
        size_t n = gso_segment(p, plan, s, buf + kEspPayloadOff);
        seal_commit(*to, nh, buf + kEspPayloadOff, n, buf);
    }
}

bool Dataplane::is_own_outer(const Tunnel &to, const uint8_t *p, const InnerInfo &info) const {
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

void Dataplane::too_big_for_path(const uint8_t *p, size_t len, unsigned limit, uint64_t packets) {
    c_.drops[int(Drop::too_big)] += packets;
    if (now_ != ptb_second_) {
        ptb_second_ = now_;
        ptb_in_second_ = 0;
    }
    size_t n = ptb_in_second_ < kPtbPerSecond ? build_ptb(p, len, limit, ptb_, sizeof ptb_) : 0;
    if (n == 0) {
        c_.ptb_suppressed++;
        return;
    }
    ptb_in_second_++;
    // Written at once, beside TCP GRO (which holds only decrypted packets).
    uint8_t vnet[kVnetHdrLen] = {};
    iovec iov[2] = {{vnet, kVnetHdrLen}, {ptb_, n}};
    if (writev(tun_fd_, vnet_ ? iov : iov + 1, vnet_ ? 2 : 1) < 0) {
        c_.drop(Drop::send_error);
        return;
    }
    c_.ptb_sent++;
}

void Dataplane::drop_overlay_src(const Endpoint &from) {
    c_.drop(Drop::overlay_src);
    if (warned_overlay_) return;
    warned_overlay_ = true;
    LM_WARN("data plane: outer packet from %s, an address inside the network (it came back through the TUN): "
            "dropped, counted as overlay_src; reported once", from.str().c_str());
}

void Dataplane::drop_tun_loop(const Tunnel &to) {
    c_.drop(Drop::tun_loop);
    if (warned_loop_) return;
    warned_loop_ = true;
    LM_WARN("data plane: our own outer packet to %s came back from the TUN (does a route send the peer's "
            "address into the tunnel?): dropped, counted as tun_loop; reported once", to.name.c_str());
}

uint8_t *Dataplane::tx_reserve() {
    if (tx_n_ == kTxSlots) flush();
    return tx_buf_.data() + tx_n_ * kSlot;
}

bool Dataplane::path_ready(const Tunnel &path) {
    switch (path.encap) {
    case Encapsulation::udp: return path.udp_sock >= 0 && path.udp_peer.port != 0;
    case Encapsulation::tls: return true;
    default: return path.raw_peer.is_set();
    }
}

bool Dataplane::can_send(Tunnel &t) {
    OutboundSa *o = t.out.get();
    if (!o) {
        c_.drop(Drop::no_sa);
        return false;
    }
    if (!path_ready(t.via ? *t.via : t)) {
        c_.drop(Drop::no_endpoint);
        return false;
    }
    return true;
}

void Dataplane::send_inner(Tunnel &t, uint8_t nh, const uint8_t *inner, size_t len) {
    if (!can_send(t)) return;
    seal_commit(t, nh, inner, len, tx_reserve());
}

void Dataplane::seal_commit(Tunnel &t, uint8_t nh, const uint8_t *inner, size_t len, uint8_t *buf,
                            const OuterPath *via) {
    OutboundSa *o = t.out.get();
    // Without ESN the counter must never wrap (RFC 4303 §3.3.3): the control
    // plane rekeys long before; if it has not, we stop sending.
    uint32_t seq;
    bool rekey_due = false;
    if (!o->take_seq(slot_, &seq, fresh_seq_, &rekey_due)) {
        c_.drop(Drop::seq_exhausted);
        return;
    }
    if (rekey_due && on_rekey_due) on_rekey_due(t);
    Aead *aead = o->keys.get(slot_);
    size_t n = aead ? esp_seal(*aead, o->spi, seq, nh, inner, len, buf, kSlot) : 0;
    if (n == 0) {
        c_.drop(Drop::too_big);
        return;
    }
    OutboundSa::Stats &os = o->stats[slot_];
    os.packets++;
    os.bytes += n;
    if (nh != kNextHeaderDummy) {
        t.stats[slot_].tx_packets++;
        t.stats[slot_].tx_bytes += len;
    }
    tx_commit(t, n, via);
}

// The packet sits in slot tx_n_ (tx_reserve).  For a path in TLS it is
// copied into the stream queue and the slot is used again.
void Dataplane::tx_commit(Tunnel &t, size_t len, const OuterPath *via) {
    TxSlot &s = tx_[tx_n_];
    s.len = len;
    const Tunnel &path = t.via ? *t.via : t;
    Encapsulation encap = via ? via->encap : path.encap;
    t.stats[slot_].last_tx = now_;
    if (encap == Encapsulation::tls) {
        if (stream_out.push(&path, tx_buf_.data() + size_t(tx_n_) * kSlot, len))
            c_.stream_tx++;
        else
            c_.drop(Drop::stream_full);
        return;
    }
    if (encap == Encapsulation::udp) {
        int idx = via ? via->udp_idx : path.udp_sock;
        s.fd = udp_[idx].fd;
        s.udp = true;
        s.alen = (via ? via->to : path.udp_peer).to_sockaddr(&s.to);
        c_.udp_tx++;
    } else {
        const IpAddr &to = via ? via->to.addr : path.raw_peer;
        s.fd = raw_fd(to.family);
        s.udp = false;
        s.alen = Endpoint{to, 0}.to_sockaddr(&s.to);
        c_.raw_tx++;
    }
    s.t = &t;
    tx_n_++;
}

void Dataplane::reply_dummy(Tunnel &t, const Endpoint &from, int udp_idx) {
    if (!t.out) return;
    Tunnel::Stats &ts = t.stats[slot_];
    if (ts.reply_sec != now_) {
        ts.reply_sec = now_;
        ts.replies = 0;
    }
    if (ts.replies >= kDummyRepliesPerSecond) {
        c_.dummy_replies_limited++;
        return;
    }
    OuterPath via{udp_idx == kStreamPath ? Encapsulation::tls
                  : udp_idx >= 0         ? Encapsulation::udp
                                         : Encapsulation::raw,
                  from, udp_idx};
    if (via.encap == Encapsulation::raw && raw_fd(from.addr.family) < 0) return;
    ts.replies++;
    c_.dummy_replies++;
    seal_commit(t, kNextHeaderDummy, nullptr, 0, tx_reserve(), &via);
}

void Dataplane::on_stream_esp(Tunnel &session, const uint8_t *esp, size_t len) {
    now_ = time(nullptr);
    c_.stream_rx++;
    if (len < kEspMinLen || len > kRxSlot) {
        c_.drop(Drop::udp_runt);
        return;
    }
    // Decrypted in place, and the virtio header goes where the ESP header
    // was (tun_write): a copy of our own.
    uint8_t *p = rx_buf_.data();
    std::memcpy(p, esp, len);
    // A client takes whatever its server forwards (pair ESP relayed by SPI
    // included); the server takes from a session only that client's own.
    InboundSa *sa = sas_.find(esp_spi(p));
    if (sa && role == Role::server && sa->tunnel != &session) {
        c_.drop(Drop::stream_foreign);
        return;
    }
    handle_esp(p, len, Endpoint{}, kStreamPath);
    tun_flush();
    flush();
}

void Dataplane::forward_esp(Tunnel &to, const uint8_t *esp, size_t len) {
    if (!path_ready(to)) {
        c_.drop(Drop::no_endpoint);
        return;
    }
    uint8_t *buf = tx_reserve();
    std::memcpy(buf, esp, len);
    c_.forwarded++;
    tx_commit(to, len);
}

void Dataplane::send_udp(int udp_idx, const Endpoint &to, const uint8_t *p, size_t len, int ttl) {
    now_ = time(nullptr);
    if (udp_idx < 0 || udp_idx >= int(udp_.size())) return;
    flush();   // keep ordering with what is queued
    int fd = udp_[udp_idx].fd;
    int v6 = udp_[udp_idx].family == AF_INET6;
    int old = 64;
    socklen_t ol = sizeof old;
    if (ttl > 0) {
        getsockopt(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_UNICAST_HOPS : IP_TTL, &old, &ol);
        setsockopt(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_UNICAST_HOPS : IP_TTL, &ttl, sizeof ttl);
    }
    sockaddr_storage ss;
    socklen_t sl = to.to_sockaddr(&ss);
    if (sendto(fd, p, len, MSG_DONTWAIT, reinterpret_cast<sockaddr *>(&ss), sl) < 0)
        c_.drop(Drop::send_error);
    else
        c_.udp_tx++;
    if (ttl > 0) setsockopt(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_UNICAST_HOPS : IP_TTL, &old, sizeof old);
}

void Dataplane::send_dummy(Tunnel &t) {
    now_ = time(nullptr);
    send_inner(t, kNextHeaderDummy, nullptr, 0);
    flush();
}

void Dataplane::send_dummy_on(Tunnel &t, Encapsulation step) {
    now_ = time(nullptr);
    if (!t.out) return;
    OuterPath via{step, Endpoint{t.raw_peer, 0}, -1};
    if (step == Encapsulation::udp) {
        via.to = t.udp_peer;
        via.udp_idx = t.udp_sock;
        if (via.udp_idx < 0 || via.udp_idx >= udp_count() || via.to.port == 0) return;
    } else if (step == Encapsulation::raw) {
        if (!t.raw_peer.is_set() || raw_fd(t.raw_peer.family) < 0) return;
    }
    seal_commit(t, kNextHeaderDummy, nullptr, 0, tx_reserve(), &via);
    flush();
}

void Dataplane::send_nat_keepalive(Tunnel &t) {
    now_ = time(nullptr);
    if (t.encap != Encapsulation::udp || t.udp_sock < 0 || t.udp_peer.port == 0) return;
    uint8_t *buf = tx_reserve();
    buf[0] = 0xff;
    tx_commit(t, 1);
    flush();
}

// One sendmmsg per run of slots for the same socket.  Within the run, UDP
// slots to one destination whose lengths are equal (the last may be shorter)
// become one message with a UDP_SEGMENT cmsg; everything else is one message
// per packet.
void Dataplane::flush() {
    int start = 0;
    int no_gso_end = 0;   // slots before this go without GSO (a GSO retry)
    while (start < tx_n_) {
        int fd = tx_[start].fd;
        int m = 0, end = start;
        while (end < tx_n_ && tx_[end].fd == fd) {
            const TxSlot &first = tx_[end];
            int k = end + 1;
            size_t total = first.len;
            if (udp_gso_ && first.udp && end >= no_gso_end) {
                while (k < tx_n_ && k - end < kGsoMaxSegs) {
                    const TxSlot &s = tx_[k];
                    if (s.fd != fd || s.len > first.len || total + s.len > kGsoMaxBytes ||
                        s.alen != first.alen || std::memcmp(&s.to, &first.to, first.alen) != 0)
                        break;
                    total += s.len;
                    k++;
                    if (s.len < first.len) break;   // a short one ends the train
                }
            }
            for (int j = end; j < k; j++) iovs_[j] = {tx_buf_.data() + j * kSlot, tx_[j].len};
            msghdr &h = msgs_[m].msg_hdr;
            h = {};
            h.msg_iov = &iovs_[end];
            h.msg_iovlen = size_t(k - end);
            h.msg_name = const_cast<sockaddr_storage *>(&first.to);
            h.msg_namelen = first.alen;
            if (k - end > 1) {
                h.msg_control = cmsg_buf_ + m * kCmsgSpace;
                h.msg_controllen = CMSG_SPACE(sizeof(uint16_t));
                std::memset(h.msg_control, 0, h.msg_controllen);
                cmsghdr *cm = CMSG_FIRSTHDR(&h);
                cm->cmsg_level = SOL_UDP;
                cm->cmsg_type = UDP_SEGMENT;
                cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
                uint16_t seg = uint16_t(first.len);
                std::memcpy(CMSG_DATA(cm), &seg, sizeof seg);
            }
            msg_first_[m] = end;
            msg_slots_[m] = k - end;
            m++;
            end = k;
        }
        int done = 0;
        int restart = -1;
        while (done < m) {
            int r = sendmmsg(fd, msgs_ + done, unsigned(m - done), MSG_DONTWAIT);
            c_.tx_batches++;
            if (r > 0) {
                for (int j = done; j < done + r; j++)
                    if (msg_slots_[j] > 1) c_.gso_tx++;
                done += r;
                continue;
            }
            int e = errno;
            if (msg_slots_[done] > 1 && (e == EIO || e == EINVAL)) {
                // EIO: the egress device cannot checksum for us, so GSO can
                // never work; EINVAL: this train does not fit (e.g. larger
                // than the path MTU).  Either way it goes again unsegmented.
                if (e == EIO) {
                    udp_gso_ = false;
                    LM_WARN("data plane: UDP GSO refused by the kernel (%s); sendmmsg only from now on",
                            strerror(e));
                }
                restart = msg_first_[done];
                no_gso_end = restart + msg_slots_[done];
                break;
            }
            // Larger than the path MTU the kernel has learnt (DF is set on
            // every data socket): counted, and the control plane lowers
            // the tunnel's limit so the next ones get a Packet Too Big.
            if (e == EMSGSIZE) {
                c_.drops[int(Drop::too_big)] += uint64_t(msg_slots_[done]);
                if (Tunnel *t = tx_[msg_first_[done]].t; t && on_path_too_big) on_path_too_big(*t);
                done++;
                continue;
            }
            // A failed message (ICMP-induced ECONNREFUSED, EAGAIN on a full
            // buffer, no route) is counted and skipped; the rest still goes.
            c_.drops[int(Drop::send_error)] += uint64_t(msg_slots_[done]);
            done++;
        }
        start = restart >= 0 ? restart : end;
    }
    tx_n_ = 0;
}

}  // namespace lm
