// SPDX-License-Identifier: MIT
// One data-plane worker: moves packets between its TUN queue and its ESP
// sockets.  It never allocates per packet: receive and transmit buffers are
// fixed rings, batches go through recvmmsg/sendmmsg, and SAs are looked up by
// SPI.  Each worker thread owns one of these (data/workers.h) with its own
// buffers and counters; shared state (tunnels, SAs, routes) is only read
// here, except for this worker's slots in it (data/per_worker.h) and the
// lock-free replay windows.  What the control plane must change (a peer's
// new address, a probe, a pair to introduce) goes out through the hooks.
// What to do with each packet is decided by data/packet_core.h; this class
// does the I/O around it and carries its verdicts out.
//
// Offloads (docs/PROTOCOLS.md §6), each probed at start with a clean fallback:
// - TUN with IFF_VNET_HDR and TSO/USO: one read is a super-packet of up to
//   64 KiB, split here into MTU-sized packets (data/offload.h) that are
//   sealed straight into consecutive transmit slots;
// - UDP GSO: runs of equal-size ESP datagrams to one destination leave in one
//   message with a UDP_SEGMENT cmsg (several such messages per sendmmsg);
// - UDP GRO: one received message may hold many datagrams (UDP_GRO cmsg);
// - TCP GRO on the TUN write: decrypted in-order segments of one flow are
//   written as one super-packet with a GSO virtio header.
// Raw ESP has no segmentation offload; it gets recvmmsg/sendmmsg batching.
#pragma once
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <functional>
#include <unordered_map>
#include <string>
#include <vector>

#include "common/addr.h"
#include "config/config.h"
#include "data/counters.h"
#include "data/inner_packet.h"
#include "data/offload.h"
#include "data/packet_core.h"
#include "data/route_table.h"
#include "data/sa.h"
#include "data/stream_queue.h"
#include "data/tunnel.h"

struct mmsghdr;

namespace lm {

class Dataplane {
public:
    static constexpr int kBatch = 64;               // messages per recvmmsg
    static constexpr size_t kSlot = 9216 + 256;   // 9000-byte inner MTU plus all headers
    // A receive slot holds a whole UDP_GRO train or a TUN super-packet with
    // its virtio header.
    static constexpr size_t kRxSlot = 65536 + 64;
    static constexpr int kTxSlots = 256;          // ESP packets queued before a flush
    static constexpr int kGsoMaxSegs = 64;        // per UDP_SEGMENT message (older kernels' limit)
    static constexpr size_t kGsoMaxBytes = 65535 - 40 - 8;

    // `slot` is this worker's index into per-worker state (data/per_worker.h).
    Dataplane(DataCounters &counters, SaTable &sas, int slot);
    ~Dataplane();
    Dataplane(const Dataplane &) = delete;
    Dataplane &operator=(const Dataplane &) = delete;

    // Sockets and the TUN queue are opened and owned by DataWorkers; this
    // object only uses them.  UDP socket indexes are the same in every
    // worker (one socket per worker and address, SO_REUSEPORT).
    void add_udp(int fd, int family) { udp_.push_back({fd, family}); }
    void set_udp_fd(int idx, int fd) { udp_[idx].fd = fd; }
    void drop_last_udp() { udp_.pop_back(); }
    void set_raw(int family, int fd) { (family == AF_INET ? raw4_ : raw6_) = fd; }
    // What the kernel gave us (probed once by DataWorkers).
    void set_tun(int fd, bool vnet, bool gro_tcp, bool gro_udp);
    void set_udp_gso(bool on) { udp_gso_ = on; }
    int udp_fd(int idx) const { return udp_[idx].fd; }
    int udp_count() const { return int(udp_.size()); }
    int raw_fd(int family) const { return family == AF_INET ? raw4_ : raw6_; }
    // Index of a UDP socket that can reach `family`, or -1.
    int udp_for_family(int family) const;
    DataCounters &counters() { return c_; }
    const DataCounters &counters() const { return c_; }

    // What this engine's role does with packets (data/packet_core.h); set
    // before the workers start, and changed only while they are paused.
    DataPolicy policy;
    // Server, mesh: called when traffic is relayed between two clients, so
    // the control plane can introduce them; `to` may be another server's
    // tunnel, and `dst` then says which of its nodes.
    std::function<void(Tunnel &from, Tunnel &to, const IpAddr &dst)> on_relay;
    // Non-ESP frames (after the 4-byte zero marker check): hole-punch probes.
    std::function<void(const uint8_t *p, size_t len, const Endpoint &from, int udp_idx)> on_non_esp;
    // Server, mesh: ESP for an SPI that is neither ours nor a pair's we
    // forward (its owner left), so the control plane can tell the sender.
    std::function<void(uint32_t spi, const Endpoint &from, int udp_idx)> on_unknown_spi;
    // A send to `t`'s endpoint failed with EMSGSIZE: the kernel knows a
    // smaller path MTU now (our sockets set DF), and the control plane asks
    // it for the new value (Node::learn_path_mtu).
    std::function<void(Tunnel &t)> on_path_too_big;
    // An authenticated packet, the newest yet on its SA, came from another
    // outer address than the one we send to (RFC 3948 §3.5 address
    // learning); udp_idx is -1 for raw ESP.  apply_endpoint() does the
    // change unless a packet with a higher sequence number on the same SA
    // moved the endpoint already (workers report in no particular order).
    std::function<void(Tunnel &t, InboundSa &sa, uint32_t seq, const Endpoint &from, int udp_idx)> on_endpoint;
    static void apply_endpoint(Tunnel &t, InboundSa &sa, uint32_t seq, const Endpoint &from, int udp_idx);
    // The outbound SA of `t` has reached RekeyAfterPackets: called once per
    // worker and SA, in the data path, so the control plane starts the
    // rekey now and not at its next tick.
    std::function<void(Tunnel &t)> on_rekey_due;
    // The control thread's engine sends rarely: it takes single fresh
    // sequence numbers, never a block that could be stale by the time it is
    // used (OutboundSa::take_seq).
    void set_fresh_seq(bool on) { fresh_seq_ = on; }

    void on_udp_readable(int idx);
    void on_raw_readable(int family);
    void on_tun_readable();
    // The udp_idx of ESP that came inside a TLS session (IP over TLS).
    static constexpr int kStreamPath = PacketCore::kStreamPath;
    // Control engine: one ESP packet from `session`'s TLS connection, taken
    // as if it had come by UDP (same SA, replay window and forwarding) but
    // never moving an endpoint.  On a server, ESP for another client's SA
    // is dropped (stream_foreign): a session carries only its own.
    void on_stream_esp(Tunnel &session, const uint8_t *esp, size_t len);
    // ESP this engine sealed for peers whose path is TLS, for the control
    // thread to send (data/stream_queue.h).
    StreamQueue stream_out;
    // Server: dummies answered per tunnel, worker and second.
    static constexpr uint32_t kDummyRepliesPerSecond = 4;

    // Authenticated empty ESP packet (next header 59): registers our outer
    // address with the peer and keeps NAT mappings alive.
    void send_dummy(Tunnel &t);
    // The same on a given step of t's data path, whatever t.encap says (the
    // ladder probes a step before it moves to it).
    void send_dummy_on(Tunnel &t, Encapsulation step);
    // A dummy carrying `payload` (a path-MTU probe or result,
    // data/mtu_probe.h) on t's current path.
    void send_mtu_probe(Tunnel &t, const uint8_t *payload, size_t len);
    void send_nat_keepalive(Tunnel &t);   // RFC 3948 one-byte 0xFF
    // One datagram from a data socket, optionally with a small TTL (the
    // hole-punch opener that must die between the two NATs).
    void send_udp(int udp_idx, const Endpoint &to, const uint8_t *p, size_t len, int ttl = 0);
    void flush();

private:
    struct UdpSock { int fd; int family; };
    // An outer path given explicitly, not taken from the tunnel: a dummy
    // answered the way it came, a probe on another step.
    struct OuterPath { Encapsulation encap; Endpoint to; int udp_idx; };
    struct TxSlot { int fd; bool udp; socklen_t alen; sockaddr_storage to; size_t len; Tunnel *t; };
    // An inner packet read from the TUN that the path cannot carry (the
    // core counted the drop): its sender is told with a Packet Too Big
    // (rate-limited).
    void send_ptb(const uint8_t *p, size_t len, unsigned limit);

    void handle_esp(uint8_t *esp, size_t len, const Endpoint &from, int udp_idx);
    void send_inner(Tunnel &t, uint8_t next_header, const uint8_t *inner, size_t len);
    // Seals `inner` (which may already sit at buf + 16) into the reserved
    // slot `buf` and queues it; can_send(t) must have been true.
    void seal_commit(Tunnel &t, uint8_t next_header, const uint8_t *inner, size_t len, uint8_t *buf,
                     const OuterPath *via = nullptr);
    uint8_t *tx_reserve();
    void tx_commit(Tunnel &t, size_t len, const OuterPath *via = nullptr);
    // Server: answers a client's dummy on the path it came by, at most
    // kDummyRepliesPerSecond per tunnel and worker.
    // A probe's echo carries its payload back at the same size.
    void reply_dummy(Tunnel &t, const Endpoint &from, int udp_idx, const uint8_t *payload = nullptr,
                     size_t len = 0);
    void forward_esp(Tunnel &to, const uint8_t *esp, size_t len);
    void tun_write(uint8_t *p, size_t len);
    void tun_flush();                  // writes what TCP GRO holds
    void tun_packet(uint8_t *p, size_t len);   // one IP packet read from the TUN
    void tun_super_packet(uint8_t *p, size_t len, const VnetHdr &h);
    void udp_datagram(uint8_t *p, size_t len, int idx, const sockaddr_storage &from);
    // The core counted the drop; the first of each kind per engine is logged.
    void warn_overlay_src(const Endpoint &from);
    void warn_tun_loop(const Tunnel &to);

    DataCounters &c_;
    SaTable &sas_;
    const int slot_;
    PacketCore core_;                  // every per-packet decision; core_.now is the batch's time
    std::vector<UdpSock> udp_;
    int raw4_ = -1, raw6_ = -1, tun_fd_ = -1;

    // Receive ring (shared by UDP, raw and TUN reads: handlers do not nest).
    std::vector<uint8_t> rx_buf_;
    std::array<sockaddr_storage, kBatch> rx_addr_{};
    // Transmit ring, flushed with sendmmsg per socket.
    std::vector<uint8_t> tx_buf_;
    std::array<TxSlot, kTxSlots> tx_{};
    int tx_n_ = 0;
    mmsghdr *msgs_ = nullptr;          // kTxSlots entries for tx; the first kBatch for rx
    struct iovec *iovs_ = nullptr;     // kTxSlots entries
    int *msg_first_ = nullptr;         // tx message -> its first slot
    int *msg_slots_ = nullptr;         // tx message -> its number of slots
    uint8_t *cmsg_buf_ = nullptr;      // kTxSlots control buffers of kCmsgSpace

    // What the kernel gave us.
    bool vnet_ = false;                // TUN reads/writes carry a virtio header
    bool udp_gso_ = false;             // UDP_SEGMENT works (off after an EIO)
    TcpGro gro_;                       // TUN writes of one receive round
    bool fresh_seq_ = false;
    bool warned_overlay_ = false, warned_loop_ = false;
    static constexpr int kPtbPerSecond = 100;   // per engine, as the kernel's icmp_ratelimit
    uint8_t ptb_[1280];                // kPtbMax: the Packet Too Big being written
    time_t ptb_second_ = 0;
    int ptb_in_second_ = 0;
};

}  // namespace lm
