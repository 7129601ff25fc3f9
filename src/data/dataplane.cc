#include "data/dataplane.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>

#include "common/bytes.h"
#include "common/log.h"
#include "esp/esp.h"

namespace lm {

namespace {

// Smallest ESP packet we can have made: header, IV, an empty payload padded
// to 4 with its 2-byte trailer, ICV.
constexpr size_t kEspMin = kEspHeaderLen + kEspIvLen + 4 + kAeadTagLen;

struct InnerInfo {
    IpAddr src, dst;
    size_t len;
};

// A decrypted or TUN-read packet must be one sane IP packet whose version
// agrees with the ESP next header.  Its own length field decides its size.
bool parse_inner(const uint8_t *p, size_t len, uint8_t next_header, InnerInfo *info) {
    if (len < 1) return false;
    int version = p[0] >> 4;
    if (version == 4 && next_header == kNextHeaderIpv4) {
        if (len < 20) return false;
        size_t ihl = size_t(p[0] & 0x0f) * 4;
        size_t total = load_be16(p + 2);
        if (ihl < 20 || total < ihl || total > len) return false;
        info->src.family = info->dst.family = AF_INET;
        std::memcpy(info->src.b, p + 12, 4);
        std::memcpy(info->dst.b, p + 16, 4);
        info->len = total;
        return true;
    }
    if (version == 6 && next_header == kNextHeaderIpv6) {
        if (len < 40) return false;
        size_t total = 40 + size_t(load_be16(p + 4));
        if (total > len) return false;
        info->src.family = info->dst.family = AF_INET6;
        std::memcpy(info->src.b, p + 8, 16);
        std::memcpy(info->dst.b, p + 24, 16);
        info->len = total;
        return true;
    }
    return false;
}

uint8_t next_header_for(const uint8_t *p, size_t len) {
    if (len < 1) return 0;
    return (p[0] >> 4) == 6 ? kNextHeaderIpv6 : kNextHeaderIpv4;
}

}  // namespace

Dataplane::Dataplane(DataCounters &counters, SaTable &sas)
    : c_(counters), sas_(sas), rx_buf_(kBatch * kSlot), tx_buf_(kBatch * kSlot) {
    msgs_ = new mmsghdr[kBatch]();
    iovs_ = new iovec[kBatch]();
}

Dataplane::~Dataplane() {
    for (auto &u : udp_) close(u.fd);
    if (raw4_ >= 0) close(raw4_);
    if (raw6_ >= 0) close(raw6_);
    delete[] msgs_;
    delete[] iovs_;
}

int Dataplane::open_udp(int family, const IpAddr *bind_addr, uint16_t port, std::string *err) {
    int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *err = std::string("UDP socket: ") + strerror(errno);
        return -1;
    }
    int one = 1;
    if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    // Room for bursts: a full batch of full-size datagrams several times over.
    int buf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    Endpoint ep;
    if (bind_addr) {
        ep.addr = *bind_addr;
    } else {
        ep.addr.family = family;   // all-zero address = wildcard
    }
    ep.port = port;
    sockaddr_storage ss;
    socklen_t sl = ep.to_sockaddr(&ss);
    if (bind(fd, reinterpret_cast<sockaddr *>(&ss), sl) < 0) {
        *err = "UDP bind " + ep.str() + ": " + strerror(errno);
        close(fd);
        return -1;
    }
    udp_.push_back({fd, family});
    return int(udp_.size()) - 1;
}

uint16_t Dataplane::udp_port(int idx) const {
    sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(udp_[idx].fd, reinterpret_cast<sockaddr *>(&ss), &sl) < 0) return 0;
    return Endpoint::from_sockaddr(reinterpret_cast<sockaddr *>(&ss)).port;
}

int Dataplane::udp_for_family(int family) const {
    for (size_t i = 0; i < udp_.size(); i++)
        if (udp_[i].family == family) return int(i);
    return -1;
}

bool Dataplane::open_raw(int family, const IpAddr *bind_addr, std::string *err) {
    int fd = socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ESP);
    if (fd < 0) {
        *err = std::string("raw ESP socket (needs CAP_NET_RAW): ") + strerror(errno);
        return false;
    }
    // Bound to the service address so replies leave from the address peers
    // talk to (an unbound raw socket picks its source by routing).
    if (bind_addr) {
        Endpoint ep{*bind_addr, 0};
        sockaddr_storage ss;
        socklen_t sl = ep.to_sockaddr(&ss);
        if (bind(fd, reinterpret_cast<sockaddr *>(&ss), sl) < 0) {
            *err = "raw ESP bind " + bind_addr->str() + ": " + strerror(errno);
            close(fd);
            return false;
        }
    }
    (family == AF_INET ? raw4_ : raw6_) = fd;
    return true;
}

void Dataplane::on_udp_readable(int idx) {
    int fd = udp_[idx].fd;
    for (int round = 0; round < 8; round++) {
        for (int i = 0; i < kBatch; i++) {
            iovs_[i] = {rx_buf_.data() + i * kSlot, kSlot};
            msgs_[i].msg_hdr = {};
            msgs_[i].msg_hdr.msg_iov = &iovs_[i];
            msgs_[i].msg_hdr.msg_iovlen = 1;
            msgs_[i].msg_hdr.msg_name = &rx_addr_[i];
            msgs_[i].msg_hdr.msg_namelen = sizeof rx_addr_[i];
        }
        int n = recvmmsg(fd, msgs_, kBatch, MSG_DONTWAIT, nullptr);
        if (n <= 0) break;
        c_.rx_batches++;
        // Copy out lengths and sources first: handle_esp reuses msgs_ when it
        // flushes the transmit ring.
        size_t lens[kBatch];
        int flags[kBatch];
        for (int i = 0; i < n; i++) {
            lens[i] = msgs_[i].msg_len;
            flags[i] = msgs_[i].msg_hdr.msg_flags;
        }
        for (int i = 0; i < n; i++) {
            uint8_t *p = rx_buf_.data() + i * kSlot;
            size_t len = lens[i];
            c_.udp_rx++;
            if (flags[i] & MSG_TRUNC) {
                c_.drop(Drop::too_big);
                continue;
            }
            // RFC 3948 §2 demultiplexing, in the kernel's order.
            if (len == 1 && p[0] == 0xff) {
                c_.keepalive_rx++;
                continue;
            }
            if (len >= 4 && load_be32(p) == 0) {
                Endpoint from = Endpoint::from_sockaddr(reinterpret_cast<sockaddr *>(&rx_addr_[i]));
                if (on_non_esp)
                    on_non_esp(p, len, from, idx);
                else
                    c_.drop(Drop::udp_non_esp);
                continue;
            }
            if (len < kEspMin) {
                c_.drop(Drop::udp_runt);
                continue;
            }
            Endpoint from = Endpoint::from_sockaddr(reinterpret_cast<sockaddr *>(&rx_addr_[i]));
            handle_esp(p, len, from, idx);
        }
        if (n < kBatch) break;
    }
    flush();
}

void Dataplane::on_raw_readable(int family) {
    int fd = raw_fd(family);
    for (int round = 0; round < 8; round++) {
        for (int i = 0; i < kBatch; i++) {
            iovs_[i] = {rx_buf_.data() + i * kSlot, kSlot};
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
            uint8_t *p = rx_buf_.data() + i * kSlot;
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
            if (len < kEspMin) {
                c_.drop(Drop::raw_runt);
                continue;
            }
            Endpoint from = Endpoint::from_sockaddr(reinterpret_cast<sockaddr *>(&rx_addr_[i]));
            from.port = 0;
            handle_esp(p, len, from, -1);
        }
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
                forward_esp(*it->second, esp, len);
                return;
            }
        }
        c_.drop(Drop::unknown_spi);
        return;
    }
    uint32_t seq = esp_seq(esp);
    // Cheap replay pre-check; the window itself moves only after the ICV
    // verifies, so forged packets cannot shift it (RFC 4303 §3.4.3).
    if (!sa->replay.check(seq)) {
        c_.drop(Drop::replay);
        return;
    }
    uint8_t *inner;
    size_t inner_len;
    uint8_t nh;
    switch (esp_open(sa->aead, esp, len, &inner, &inner_len, &nh)) {
    case EspOpen::ok:
    case EspOpen::dummy:
        break;
    case EspOpen::too_short:
        c_.drop(Drop::udp_runt);
        return;
    case EspOpen::bad_icv:
        c_.drop(Drop::bad_icv);
        return;
    case EspOpen::bad_padding:
        c_.drop(Drop::bad_padding);
        return;
    }
    uint32_t old_top = sa->replay.top();
    if (!sa->replay.update(seq)) {
        c_.drop(Drop::replay);
        return;
    }
    Tunnel &t = *sa->tunnel;
    time_t now = time(nullptr);
    t.last_rx = now;
    sa->packets++;
    sa->bytes += len;
    // Address learning (RFC 3948 §3.5): only from authenticated packets newer
    // than anything seen, so a replayed old packet cannot redirect us.
    // A pair tunnel relayed through the server must not learn the server's
    // address as the peer's, nor must a direct pair whose peer fell back.
    bool via_server = uplink && udp_idx >= 0 && from == uplink->udp_peer;
    if (seq > old_top && !t.via && !(via_server && &t != uplink)) {
        if (udp_idx >= 0) {
            t.udp_peer = from;
            t.udp_sock = udp_idx;
        } else if (t.encap == Encapsulation::raw) {
            t.raw_peer = from.addr;
        }
    }
    if (nh == kNextHeaderDummy) {
        c_.keepalive_rx++;
        return;
    }
    t.rx_packets++;
    t.rx_bytes += inner_len;
    deliver(t, inner, inner_len, nh);
}

void Dataplane::deliver(Tunnel &from, uint8_t *inner, size_t len, uint8_t nh) {
    InnerInfo info;
    if (!parse_inner(inner, len, nh, &info)) {
        c_.drop(Drop::bad_inner);
        return;
    }
    if (!from.allows_source(info.src)) {
        c_.drop(Drop::src_not_allowed);
        from.drops_src++;
        return;
    }
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
            if (on_relay) on_relay(from, *to);
            c_.relayed++;
            send_inner(*to, nh, inner, info.len);
            return;
        }
    }
    tun_write(inner, info.len);
}

void Dataplane::tun_write(const uint8_t *p, size_t len) {
    if (write(tun_fd_, p, len) < 0) {
        c_.drop(Drop::send_error);
        return;
    }
    c_.tun_tx++;
}

void Dataplane::on_tun_readable() {
    for (int i = 0; i < 4 * kBatch; i++) {
        uint8_t *p = rx_buf_.data();
        ssize_t n = read(tun_fd_, p, kSlot);
        if (n < 0) break;   // EAGAIN: drained
        c_.tun_rx++;
        InnerInfo info;
        uint8_t nh = next_header_for(p, size_t(n));
        if (!parse_inner(p, size_t(n), nh, &info)) {
            c_.drop(Drop::bad_inner);
            continue;
        }
        Tunnel *to = routes ? routes->lookup(info.dst) : nullptr;
        // A client sends to a pair only once it has the pair's SA; until
        // then (and for everything else) the server relays.
        if (role == Role::client && (!to || !to->out)) to = uplink;
        if (!to) {
            c_.drop(Drop::no_route);
            continue;
        }
        send_inner(*to, nh, p, info.len);
    }
    flush();
}

uint8_t *Dataplane::tx_reserve() {
    if (tx_n_ == kBatch) flush();
    return tx_buf_.data() + tx_n_ * kSlot;
}

void Dataplane::send_inner(Tunnel &t, uint8_t nh, const uint8_t *inner, size_t len) {
    OutboundSa *o = t.out.get();
    if (!o) {
        c_.drop(Drop::no_sa);
        return;
    }
    // Without ESN the counter must never wrap (RFC 4303 §3.3.3): the control
    // plane rekeys long before; if it has not, we stop sending.
    if (o->seq == UINT32_MAX) {
        c_.drop(Drop::seq_exhausted);
        return;
    }
    const Tunnel &path = t.via ? *t.via : t;
    if (path.encap == Encapsulation::udp ? (path.udp_sock < 0 || path.udp_peer.port == 0)
                                         : !path.raw_peer.is_set()) {
        c_.drop(Drop::no_endpoint);
        return;
    }
    uint8_t *buf = tx_reserve();
    size_t n = esp_seal(o->aead, o->spi, o->seq + 1, nh, inner, len, buf, kSlot);
    if (n == 0) {
        c_.drop(Drop::too_big);
        return;
    }
    o->seq++;
    o->packets++;
    o->bytes += n;
    if (nh != kNextHeaderDummy) {
        t.tx_packets++;
        t.tx_bytes += len;
    }
    tx_commit(t, n);
}

void Dataplane::tx_commit(Tunnel &t, size_t len) {
    TxSlot &s = tx_[tx_n_];
    s.len = len;
    const Tunnel &path = t.via ? *t.via : t;
    if (path.encap == Encapsulation::udp) {
        s.fd = udp_[path.udp_sock].fd;
        s.alen = path.udp_peer.to_sockaddr(&s.to);
        c_.udp_tx++;
    } else {
        s.fd = raw_fd(path.raw_peer.family);
        s.alen = Endpoint{path.raw_peer, 0}.to_sockaddr(&s.to);
        c_.raw_tx++;
    }
    t.last_tx = time(nullptr);
    tx_n_++;
}

void Dataplane::forward_esp(Tunnel &to, const uint8_t *esp, size_t len) {
    if (to.encap == Encapsulation::udp ? (to.udp_sock < 0 || to.udp_peer.port == 0) : !to.raw_peer.is_set()) {
        c_.drop(Drop::no_endpoint);
        return;
    }
    uint8_t *buf = tx_reserve();
    std::memcpy(buf, esp, len);
    c_.forwarded++;
    tx_commit(to, len);
}

void Dataplane::send_udp(int udp_idx, const Endpoint &to, const uint8_t *p, size_t len, int ttl) {
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
    send_inner(t, kNextHeaderDummy, nullptr, 0);
    flush();
}

void Dataplane::send_nat_keepalive(Tunnel &t) {
    if (t.encap != Encapsulation::udp || t.udp_sock < 0 || t.udp_peer.port == 0) return;
    uint8_t *buf = tx_reserve();
    buf[0] = 0xff;
    tx_commit(t, 1);
    flush();
}

void Dataplane::flush() {
    int start = 0;
    while (start < tx_n_) {
        // One sendmmsg per run of packets for the same socket.
        int fd = tx_[start].fd;
        int end = start;
        while (end < tx_n_ && tx_[end].fd == fd) {
            int k = end - start;
            iovs_[k] = {tx_buf_.data() + end * kSlot, tx_[end].len};
            msgs_[k].msg_hdr = {};
            msgs_[k].msg_hdr.msg_iov = &iovs_[k];
            msgs_[k].msg_hdr.msg_iovlen = 1;
            msgs_[k].msg_hdr.msg_name = &tx_[end].to;
            msgs_[k].msg_hdr.msg_namelen = tx_[end].alen;
            end++;
        }
        int count = end - start, done = 0;
        while (done < count) {
            int r = sendmmsg(fd, msgs_ + done, count - done, MSG_DONTWAIT);
            if (r > 0) {
                done += r;
                continue;
            }
            // A failed message (ICMP-induced ECONNREFUSED, EAGAIN on a full
            // buffer, no route) is counted and skipped; the rest still goes.
            c_.drop(Drop::send_error);
            done++;
        }
        c_.tx_batches++;
        start = end;
    }
    tx_n_ = 0;
}

}  // namespace lm
