// SPDX-License-Identifier: MIT
// Path MTU by padded probes (client/mtu_search.h, data/mtu_probe.h,
// docs/PROTOCOLS.md §4): searches once per session and data-path step, then
// every kReprobeMs; tells the server what it found, again every
// kResultEveryMs (a lost result, a server that restarted).
#include "client/client.h"

#include <algorithm>

#include "common/log.h"
#include "data/mtu_probe.h"
#include "data/pmtu.h"
#include "net/route_mtu.h"

namespace lm {

namespace {
constexpr int64_t kReprobeMs = 600000;
constexpr int64_t kResultEveryMs = 30000;
}  // namespace

void Client::mtu_send(MtuProbeKind kind, uint16_t id, unsigned size, size_t len) {
    if (mtu_buf_.size() < len) mtu_buf_.resize(len);
    mtu_probe_write({kind, id, uint16_t(size)}, mtu_buf_.data(), len);
    dp_.send_mtu_probe(tunnel_, mtu_buf_.data(), len);
}

void Client::mtu_tick(int64_t now) {
    Encapsulation e = tunnel_.encap;
    // Inside TLS, TCP finds its own way; without keys there is nothing to send.
    if (e == Encapsulation::tls || !tunnel_.out) return;
    bool udp = e == Encapsulation::udp;
    Endpoint ep = udp ? tunnel_.udp_peer : Endpoint{tunnel_.raw_peer, 1};
    if (!ep.addr.is_set() || !ep.port) return;
    bool v6 = ep.addr.family == AF_INET6;
    std::string where = udp ? ep.str() : ep.addr.str();
    std::string key = std::string(to_string(e)) + " " + where;
    if (!mtu_search_.running() && (key != mtu_key_ || now >= mtu_next_ms_)) {
        int route = route_mtu(ep, data_.fwmark());
        if (route <= 0) return;
        unsigned hi = std::min(unsigned(route), kMtuProbeMax);
        unsigned lo = std::min(std::max(kIpv6MinMtu, kMtuProbeMin), hi);
        if (hi < kMtuProbeMin) return;
        mtu_key_ = key;
        mtu_search_.start(lo, hi, now);
    }
    if (mtu_search_.running()) {
        if (int route = route_mtu(ep, data_.fwmark()); route > 0) mtu_search_.limit(unsigned(route));
        // Taken and cleared with the workers paused, as every tick runs.
        for (int i = 0; i < tunnel_.stats.size(); i++) {
            uint32_t &w = tunnel_.stats[i].mtu_echo;
            if (w) mtu_search_.answered(uint16_t(w >> 16));
            w = 0;
        }
        uint16_t id = 0;
        if (unsigned size = mtu_search_.due(now, &id)) {
            mtu_send(MtuProbeKind::probe, id, size, inner_mtu_for_path(size, v6, udp));
        }
        if (mtu_search_.running()) return;
        mtu_next_ms_ = now + kReprobeMs;
        unsigned found = mtu_search_.result();
        if (!found) {
            if (!mtu_unanswered_logged_)
                LM_INFO("path MTU probes to %s: none answered (an older server?); the kernel's path MTU applies",
                        where.c_str());
            mtu_unanswered_logged_ = true;
            return;
        }
        mtu_unanswered_logged_ = false;
        if (found != tunnel_.probed_outer)
            LM_INFO("path MTU probes to %s (%s): %u bytes make the round trip", tunnel_.name.c_str(),
                    where.c_str(), found);
        probed_path_mtu(tunnel_, found);
        mtu_result_ms_ = 0;
    }
    if (tunnel_.probed_outer && now - mtu_result_ms_ >= kResultEveryMs) {
        mtu_result_ms_ = now;
        mtu_result_id_++;
        mtu_send(MtuProbeKind::result, mtu_result_id_, tunnel_.probed_outer, kMtuProbeHeader);
    }
}

}  // namespace lm
