// The data plane: moves packets between the TUN device and ESP on the wire.
// It never allocates per packet: receive and transmit buffers are fixed rings,
// batches go through recvmmsg/sendmmsg, and SAs are looked up by SPI.  All of
// it runs on one thread; state that a second worker would need (buffers,
// counters) lives in this object so workers can each own one later.
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
#include "data/route_table.h"
#include "data/sa.h"
#include "data/tunnel.h"

struct mmsghdr;

namespace lm {

class Dataplane {
public:
    static constexpr int kBatch = 64;
    static constexpr size_t kSlot = 9216 + 256;   // 9000-byte inner MTU plus all headers

    Dataplane(DataCounters &counters, SaTable &sas);
    ~Dataplane();
    Dataplane(const Dataplane &) = delete;
    Dataplane &operator=(const Dataplane &) = delete;

    // UDP sockets for ESP-in-UDP; bind_addr may be null (wildcard of `family`).
    // Returns the socket's index or -1.
    int open_udp(int family, const IpAddr *bind_addr, uint16_t port, std::string *err);
    bool open_raw(int family, const IpAddr *bind_addr, std::string *err);
    void set_tun(int fd) { tun_fd_ = fd; }
    int udp_fd(int idx) const { return udp_[idx].fd; }
    int udp_family(int idx) const { return udp_[idx].family; }
    int udp_count() const { return int(udp_.size()); }
    uint16_t udp_port(int idx) const;
    int raw_fd(int family) const { return family == AF_INET ? raw4_ : raw6_; }
    // Index of a UDP socket that can reach `family`, or -1.
    int udp_for_family(int family) const;

    // Forwarding policy.
    Role role = Role::client;
    ClientToClient c2c = ClientToClient::relay;
    Tunnel *uplink = nullptr;          // client: the server
    RouteTable *routes = nullptr;      // inner destination -> client (server) or pair (client)
    // Server, mesh: pair SPI -> the client that owns it; such ESP is
    // forwarded as it is, without decryption.
    const std::unordered_map<uint32_t, Tunnel *> *forward = nullptr;
    // Server, mesh: called when traffic is relayed between two clients, so
    // the control plane can introduce them.
    std::function<void(Tunnel &from, Tunnel &to)> on_relay;
    // Non-ESP frames (after the 4-byte zero marker check): hole-punch probes.
    std::function<void(const uint8_t *p, size_t len, const Endpoint &from, int udp_idx)> on_non_esp;

    void on_udp_readable(int idx);
    void on_raw_readable(int family);
    void on_tun_readable();

    // Authenticated empty ESP packet (next header 59): registers our outer
    // address with the peer and keeps NAT mappings alive.
    void send_dummy(Tunnel &t);
    void send_nat_keepalive(Tunnel &t);   // RFC 3948 one-byte 0xFF
    // One datagram from a data socket, optionally with a small TTL (the
    // hole-punch opener that must die between the two NATs).
    void send_udp(int udp_idx, const Endpoint &to, const uint8_t *p, size_t len, int ttl = 0);
    void flush();

private:
    struct UdpSock { int fd; int family; };
    struct TxSlot { int fd; socklen_t alen; sockaddr_storage to; size_t len; };

    void handle_esp(uint8_t *esp, size_t len, const Endpoint &from, int udp_idx);
    void deliver(Tunnel &from, uint8_t *inner, size_t len, uint8_t next_header);
    void send_inner(Tunnel &t, uint8_t next_header, const uint8_t *inner, size_t len);
    uint8_t *tx_reserve();
    void tx_commit(Tunnel &t, size_t len);
    void forward_esp(Tunnel &to, const uint8_t *esp, size_t len);
    void tun_write(const uint8_t *p, size_t len);

    DataCounters &c_;
    SaTable &sas_;
    std::vector<UdpSock> udp_;
    int raw4_ = -1, raw6_ = -1, tun_fd_ = -1;

    // Receive ring (shared by UDP, raw and TUN reads: handlers do not nest).
    std::vector<uint8_t> rx_buf_;
    std::array<sockaddr_storage, kBatch> rx_addr_{};
    // Transmit ring, flushed with sendmmsg per socket.
    std::vector<uint8_t> tx_buf_;
    std::array<TxSlot, kBatch> tx_{};
    int tx_n_ = 0;
    mmsghdr *msgs_ = nullptr;          // kBatch entries, reused for rx and tx
    struct iovec *iovs_ = nullptr;
};

}  // namespace lm
