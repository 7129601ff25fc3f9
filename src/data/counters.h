// SPDX-License-Identifier: MIT
// Data-plane counters.  Every dropped packet increments exactly one drop
// reason, so "nothing lost silently" can be checked from the outside.
#pragma once
#include <cstdint>

namespace lm {

#define LM_DROP_REASONS(X)                                                   \
    X(udp_runt)          /* datagram too short to be anything we speak */    \
    X(udp_non_esp)       /* non-ESP marker frame we do not (yet) handle */   \
    X(raw_runt)          /* raw ESP packet too short / bad outer header */   \
    X(unknown_spi)       /* no inbound SA with that SPI */                    \
    X(replay)            /* sequence number seen before or too old */         \
    X(bad_icv)           /* authentication failed */                          \
    X(bad_padding)       /* authenticated but malformed trailer */            \
    X(bad_inner)         /* decrypted payload is not a sane IP packet */      \
    X(src_not_allowed)   /* inner source address not owned by the sender */   \
    X(no_route)          /* no peer owns the inner destination */             \
    X(c2c_off)           /* client-to-client traffic with ClientToClient=off */ \
    X(no_sa)             /* peer known but no outbound SA (yet) */            \
    X(no_endpoint)       /* peer's outer address not learned yet */           \
    X(seq_exhausted)     /* outbound SA used up; waiting for the rekey */     \
    X(too_big)           /* inner packet larger than the buffer */            \
    X(send_error)        /* sendmmsg / write failed */                      \
    X(probe_bad)         /* hole-punch probe failed authentication */       \
    X(backlog)           /* control thread behind: a worker's event was lost */ \
    X(overlay_src)       /* outer packet from inside the network: came through our TUN */ \
    X(tun_loop)          /* our own outer packet read back from the TUN */ \
    X(stream_full)       /* ESP for a TLS-carried path: queue or connection full */ \
    X(stream_foreign)    /* ESP in a client's TLS session for an SA not its own */

enum class Drop : int {
#define LM_X(name) name,
    LM_DROP_REASONS(LM_X)
#undef LM_X
    count_
};

const char *to_string(Drop d);

struct DataCounters {
    uint64_t drops[int(Drop::count_)] = {};
    uint64_t udp_rx = 0, udp_tx = 0, raw_rx = 0, raw_tx = 0;
    uint64_t tun_rx = 0, tun_tx = 0;
    uint64_t keepalive_rx = 0;       // 0xFF NAT keepalives and ESP dummy packets
    uint64_t relayed = 0;            // decrypted from one client, re-encrypted to another
    uint64_t forwarded = 0;          // pair ESP forwarded by SPI, never decrypted (server)
    uint64_t probe_rx = 0, probe_tx = 0;
    // Server: ESP dummies answered on the path they came by (a client's
    // data-path liveness check), and those left unanswered over the rate.
    uint64_t dummy_replies = 0, dummy_replies_limited = 0;
    uint64_t stream_rx = 0, stream_tx = 0;   // ESP carried in TLS
    uint64_t rx_batches = 0, tx_batches = 0;
    // Offloads: UDP_SEGMENT messages sent, UDP_GRO reads that held several
    // datagrams, TUN super-packets read (GSO) and written (GRO).
    uint64_t gso_tx = 0, gro_rx = 0, gso_tun_rx = 0, gro_tun_tx = 0;
    uint64_t mss_clamped = 0;        // TCP SYNs whose MSS was lowered to fit the tunnel (data/pmtu.h)
    uint64_t ptb_sent = 0;           // ICMP/ICMPv6 Packet Too Big written into the TUN
    uint64_t ptb_suppressed = 0;     // ... not written: over the rate limit or none due

    void drop(Drop d) { drops[int(d)]++; }
    uint64_t total_drops() const;
    DataCounters &operator+=(const DataCounters &o);
};

}  // namespace lm
