// SPDX-License-Identifier: MIT
#include "data/counters.h"

namespace lm {

const char *to_string(Drop d) {
    switch (d) {
#define LM_X(name) \
    case Drop::name: return #name;
        LM_DROP_REASONS(LM_X)
#undef LM_X
    case Drop::count_: break;
    }
    return "?";
}

uint64_t DataCounters::total_drops() const {
    uint64_t n = 0;
    for (auto v : drops) n += v;
    return n;
}

DataCounters &DataCounters::operator+=(const DataCounters &o) {
    for (int i = 0; i < int(Drop::count_); i++) drops[i] += o.drops[i];
    udp_rx += o.udp_rx;
    udp_tx += o.udp_tx;
    raw_rx += o.raw_rx;
    raw_tx += o.raw_tx;
    tun_rx += o.tun_rx;
    tun_tx += o.tun_tx;
    keepalive_rx += o.keepalive_rx;
    relayed += o.relayed;
    forwarded += o.forwarded;
    probe_rx += o.probe_rx;
    probe_tx += o.probe_tx;
    dummy_replies += o.dummy_replies;
    dummy_replies_limited += o.dummy_replies_limited;
    stream_rx += o.stream_rx;
    stream_tx += o.stream_tx;
    rx_batches += o.rx_batches;
    tx_batches += o.tx_batches;
    gso_tx += o.gso_tx;
    gro_rx += o.gro_rx;
    gso_tun_rx += o.gso_tun_rx;
    gro_tun_tx += o.gro_tun_tx;
    mss_clamped += o.mss_clamped;
    ptb_sent += o.ptb_sent;
    ptb_suppressed += o.ptb_suppressed;
    return *this;
}

}  // namespace lm
