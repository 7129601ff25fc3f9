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
    : c_(counters), sas_(sas), slot_(slot), core_(counters, sas, slot, policy), rx_buf_(kBatch * kRxSlot), tx_buf_(kTxSlots * kSlot) {
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
    core_.now = time(nullptr);
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
    switch (core_.classify_udp(p, len, from)) {
    case UdpKind::overlay_src:
        warn_overlay_src(from);
        return;
    case UdpKind::drop:
    case UdpKind::keepalive:
        return;
    case UdpKind::non_esp:
        if (on_non_esp)
            on_non_esp(p, len, from, idx);
        else
            c_.drop(Drop::udp_non_esp);
        return;
    case UdpKind::esp:
        handle_esp(p, len, from, idx);
        return;
    }
}

void Dataplane::on_raw_readable(int family) {
    core_.now = time(nullptr);
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
            Endpoint from = Endpoint::from_sockaddr(reinterpret_cast<sockaddr *>(&rx_addr_[i]));
            from.port = 0;
            uint8_t *esp;
            size_t esp_len;
            if (Drop why = core_.strip_raw(p, len, family == AF_INET, from, &esp, &esp_len); why != Drop::count_) {
                if (why == Drop::overlay_src) warn_overlay_src(from);
                continue;
            }
            handle_esp(esp, esp_len, from, -1);
        }
        tun_flush();   // the next round overwrites the buffers GRO points into
        if (n < kBatch) break;
    }
    flush();
}

void Dataplane::handle_esp(uint8_t *esp, size_t len, const Endpoint &from, int udp_idx) {
    EspVerdict v = core_.open_esp(esp, len, from, udp_idx);
    if (v.learn && on_endpoint) on_endpoint(*v.tunnel, *v.sa, v.seq, from, udp_idx);
    switch (v.action) {
    case EspVerdict::drop:
        if (v.why == Drop::overlay_src) warn_overlay_src(from);
        if (v.unknown_pair_spi && on_unknown_spi) on_unknown_spi(esp_spi(esp), from, udp_idx);
        return;
    case EspVerdict::forward:
        forward_esp(*v.tunnel, esp, len);
        return;
    case EspVerdict::answer_dummy:
        reply_dummy(*v.tunnel, from, udp_idx);
        return;
    case EspVerdict::echo_probe:
        reply_dummy(*v.tunnel, from, udp_idx, v.inner, v.inner_len);
        return;
    case EspVerdict::dummy:
        return;
    case EspVerdict::decrypted:
        break;
    }
    InnerVerdict d = core_.route_decrypted(*v.tunnel, v.inner, v.inner_len, v.next_header);
    switch (d.action) {
    case InnerVerdict::drop:
        return;
    case InnerVerdict::relay:
        if (d.introduce && on_relay) on_relay(*v.tunnel, *d.to, d.dst);
        send_inner(*d.to, v.next_header, v.inner, d.len);
        return;
    case InnerVerdict::tun:
        tun_write(v.inner, d.len);
        return;
    }
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
    core_.now = time(nullptr);
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
    TunVerdict v = core_.route_tun_packet(p, n);
    switch (v.action) {
    case TunVerdict::drop:
        if (v.why == Drop::tun_loop) warn_tun_loop(*v.to);
        return;
    case TunVerdict::too_big:
        send_ptb(p, v.len, v.limit);
        return;
    case TunVerdict::send:
        send_inner(*v.to, v.next_header, p, v.len);
        return;
    }
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
    TunVerdict v = core_.route_tun_train(p, info, plan.hdr_len + plan.seg_payload, uint64_t(plan.count));
    if (v.action == TunVerdict::drop) {
        if (v.why == Drop::tun_loop) warn_tun_loop(*v.to);
        return;
    }
    if (v.action == TunVerdict::too_big) {
        send_ptb(p, len, v.limit);
        return;
    }
    Tunnel *to = v.to;
    for (int s = 0; s < plan.count; s++) {
        if (!core_.can_send(*to)) continue;
        uint8_t *buf = tx_reserve();
        size_t n = gso_segment(p, plan, s, buf + kEspPayloadOff);
        seal_commit(*to, nh, buf + kEspPayloadOff, n, buf);
    }
}

void Dataplane::send_ptb(const uint8_t *p, size_t len, unsigned limit) {
    if (core_.now != ptb_second_) {
        ptb_second_ = core_.now;
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

void Dataplane::warn_overlay_src(const Endpoint &from) {
    if (warned_overlay_) return;
    warned_overlay_ = true;
    LM_WARN("data plane: outer packet from %s, an address inside the network (it came back through the TUN): "
            "dropped, counted as overlay_src; reported once", from.str().c_str());
}

void Dataplane::warn_tun_loop(const Tunnel &to) {
    if (warned_loop_) return;
    warned_loop_ = true;
    LM_WARN("data plane: our own outer packet to %s came back from the TUN (does a route send the peer's "
            "address into the tunnel?): dropped, counted as tun_loop; reported once", to.name.c_str());
}

uint8_t *Dataplane::tx_reserve() {
    if (tx_n_ == kTxSlots) flush();
    return tx_buf_.data() + tx_n_ * kSlot;
}

void Dataplane::send_inner(Tunnel &t, uint8_t nh, const uint8_t *inner, size_t len) {
    if (!core_.can_send(t)) return;
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
    t.stats[slot_].last_tx = core_.now;
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

void Dataplane::reply_dummy(Tunnel &t, const Endpoint &from, int udp_idx, const uint8_t *payload, size_t len) {
    if (!t.out) return;
    Tunnel::Stats &ts = t.stats[slot_];
    if (ts.reply_sec != core_.now) {
        ts.reply_sec = core_.now;
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
    seal_commit(t, kNextHeaderDummy, payload, len, tx_reserve(), &via);
}

void Dataplane::on_stream_esp(Tunnel &session, const uint8_t *esp, size_t len) {
    core_.now = time(nullptr);
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
    if (!core_.stream_allowed(session, p)) return;
    handle_esp(p, len, Endpoint{}, kStreamPath);
    tun_flush();
    flush();
}

void Dataplane::forward_esp(Tunnel &to, const uint8_t *esp, size_t len) {
    uint8_t *buf = tx_reserve();
    std::memcpy(buf, esp, len);
    tx_commit(to, len);
}

void Dataplane::send_udp(int udp_idx, const Endpoint &to, const uint8_t *p, size_t len, int ttl) {
    core_.now = time(nullptr);
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
    core_.now = time(nullptr);
    send_inner(t, kNextHeaderDummy, nullptr, 0);
    flush();
}

void Dataplane::send_dummy_on(Tunnel &t, Encapsulation step) {
    core_.now = time(nullptr);
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

void Dataplane::send_mtu_probe(Tunnel &t, const uint8_t *payload, size_t len) {
    core_.now = time(nullptr);
    send_inner(t, kNextHeaderDummy, payload, len);
    flush();
}

void Dataplane::send_nat_keepalive(Tunnel &t) {
    core_.now = time(nullptr);
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
