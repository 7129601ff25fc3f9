// SPDX-License-Identifier: MIT
// The mesh's pairs as `lanmesh peer show` and `sa show` list them.
#include "mesh/mesh_client.h"

namespace lm {

void MeshClient::collect_peers(std::vector<PeerView> &out) const {
    static const char *const paths[] = {"via-server", "relay", "direct"};
    int64_t now = now_ms();
    for (const auto &[name, pp] : pairs_) {
        const Pair &p = *pp;
        PeerView v;
        v.tunnel = &p.tunnel;
        v.path = paths[int(p.path)];
        // The introduction gave its addresses as host prefixes, then the
        // networks behind it (mesh_client.cc, on_peer_info).
        for (const Prefix &pf : p.tunnel.allowed_src) {
            bool host = pf.len == (pf.addr.family == AF_INET ? 32 : 128);
            if (host && pf.addr.family == AF_INET && !v.address.is_set()) v.address = pf.addr;
            else if (host && pf.addr.family == AF_INET6 && !v.address6.is_set()) v.address6 = pf.addr;
            else v.networks.push_back(pf);
        }
        v.epoch = p.epoch;
        v.limits = limits_;
        v.pair = true;
        v.time_to_direct_ms = p.time_to_direct;
        v.punch_rounds = p.rounds;
        v.probes_sent = p.probes_sent;
        v.punch_reason = punch_reason(facts(p, now));
        out.push_back(std::move(v));
    }
}

}  // namespace lm
