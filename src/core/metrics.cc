// SPDX-License-Identifier: MIT
// What the metrics listener serves (core/metrics_http.h): the same facts as
// `lanmesh -s link show` and `lanmesh -s peer show`, in the Prometheus text
// format.  Runs on the control thread with the workers paused, like every
// control request, so counters are read whole.
#include <ctime>

#include "common/might_block.h"
#include "common/prom.h"
#include "common/version.h"
#include "control/proto_error.h"
#include "core/node.h"
#include "data/tunnel.h"

namespace lm {

void Node::count_refusal(const std::string &reason) {
    // Reasons are a small set of fixed texts, but a TLS error may carry
    // variable detail: the table stays bounded whatever arrives.
    auto it = refused_by_reason_.find(reason);
    if (it == refused_by_reason_.end() && refused_by_reason_.size() >= kMaxRefusalReasons)
        it = refused_by_reason_.try_emplace("other").first;
    else if (it == refused_by_reason_.end())
        it = refused_by_reason_.try_emplace(reason).first;
    it->second++;
}

std::string Node::metrics_text() {
    PromWriter w;
    const std::string role = to_string(cfg_.role);
    w.family("lanmesh_info", "gauge", "The node: network, role, device and version (always 1).")
        .sample({{"network", cfg_.net}, {"role", role}, {"device", dev_}, {"version", lanmesh_version()}},
                uint64_t(1));
    w.family("lanmesh_start_time_seconds", "gauge", "When the daemon started, in seconds since the epoch.")
        .sample({}, int64_t(started_));

    std::vector<PeerView> peers;
    collect_peers(peers);
    w.family("lanmesh_peers", "gauge", "Peers this node knows (lanmesh peer show).").sample(uint64_t(peers.size()));
    w.family("lanmesh_peer_up", "gauge", "1 if the peer is up, else 0.");
    for (const auto &v : peers) w.sample({{"peer", v.tunnel->name}}, uint64_t(v.state == "up"));
    w.family("lanmesh_peer_path", "gauge",
             "How traffic to the peer travels: direct, relay (forwarded by SPI) or via-server (always 1).");
    for (const auto &v : peers)
        if (v.state == "up") w.sample({{"peer", v.tunnel->name}, {"path", v.path}}, uint64_t(1));

    struct PeerStat {
        const char *name, *type, *help;
        uint64_t Tunnel::Stats::*field;
    };
    static const PeerStat stats[] = {
        {"lanmesh_peer_receive_bytes_total", "counter", "Inner bytes received from the peer.",
         &Tunnel::Stats::rx_bytes},
        {"lanmesh_peer_receive_packets_total", "counter", "Packets received from the peer.",
         &Tunnel::Stats::rx_packets},
        {"lanmesh_peer_transmit_bytes_total", "counter", "Inner bytes sent to the peer.", &Tunnel::Stats::tx_bytes},
        {"lanmesh_peer_transmit_packets_total", "counter", "Packets sent to the peer.",
         &Tunnel::Stats::tx_packets},
    };
    std::vector<Tunnel::Stats> totals;
    for (const auto &v : peers) totals.push_back(v.tunnel->total());
    for (const auto &s : stats) {
        w.family(s.name, s.type, s.help);
        for (size_t i = 0; i < peers.size(); i++) w.sample({{"peer", peers[i].tunnel->name}}, totals[i].*s.field);
    }
    w.family("lanmesh_peer_dropped_packets_total", "counter", "Packets on the peer's SAs dropped, by reason.");
    for (size_t i = 0; i < peers.size(); i++) {
        const auto &t = totals[i];
        const std::string &n = peers[i].tunnel->name;
        w.sample({{"peer", n}, {"reason", "src_not_allowed"}}, t.drops_src)
            .sample({{"peer", n}, {"reason", "replay"}}, t.drops_replay)
            .sample({{"peer", n}, {"reason", "bad_icv"}}, t.drops_icv)
            .sample({{"peer", n}, {"reason", "bad_padding"}}, t.drops_padding)
            .sample({{"peer", n}, {"reason", "bad_inner"}}, t.drops_inner);
    }
    w.family("lanmesh_peer_last_receive_time_seconds", "gauge",
             "When the last packet came from the peer, in seconds since the epoch.");
    for (size_t i = 0; i < peers.size(); i++)
        if (totals[i].last_rx) w.sample({{"peer", peers[i].tunnel->name}}, int64_t(totals[i].last_rx));
    w.family("lanmesh_peer_handshake_age_seconds", "gauge", "Age of the peer's current keys (latest handshake).");
    time_t now = time(nullptr);
    for (const auto &v : peers)
        if (v.tunnel->out) w.sample({{"peer", v.tunnel->name}}, int64_t(now - v.tunnel->out->created));
    w.family("lanmesh_peer_rtt_seconds", "gauge",
             "Smoothed round trip of the control channel to the peer (keepalive pings).");
    for (const auto &v : peers)
        if (v.rtt_us >= 0) w.sample({{"peer", v.tunnel->name}}, double(v.rtt_us) / 1e6);
    w.family("lanmesh_peer_key_epoch", "gauge", "Key generation of the peer's SAs (rises with every rekey).");
    for (const auto &v : peers) w.sample({{"peer", v.tunnel->name}}, uint64_t(v.epoch));

    const DataCounters c = data_.totals();
    w.family("lanmesh_dropped_packets_total", "counter", "Packets dropped by the data plane, by reason.");
    for (int d = 0; d < int(Drop::count_); d++) w.sample({{"reason", to_string(Drop(d))}}, c.drops[d]);
    w.family("lanmesh_relayed_packets_total", "counter",
             "Packets decrypted from one client and re-encrypted to another (server).")
        .sample(c.relayed);
    w.family("lanmesh_forwarded_packets_total", "counter",
             "Pair ESP packets forwarded by SPI without decryption (server).")
        .sample(c.forwarded);
    w.family("lanmesh_keepalives_received_total", "counter", "NAT keepalives and ESP dummy packets received.")
        .sample(c.keepalive_rx);
    w.family("lanmesh_probes_total", "counter", "Hole-punch probes, by direction.")
        .sample({{"direction", "rx"}}, c.probe_rx)
        .sample({{"direction", "tx"}}, c.probe_tx);

    const DataWorkers::HoldStats &held = data_.hold_stats();
    w.family("lanmesh_worker_pauses_total", "counter",
             "Times the control thread held every data-plane worker to change shared state.")
        .sample(held.pauses);
    w.family("lanmesh_worker_held_seconds_total", "counter", "Time the data-plane workers spent held, in all.")
        .sample(double(held.held_us) / 1e6);
    w.family("lanmesh_worker_held_longest_seconds", "gauge", "The longest single hold of the data-plane workers.")
        .sample(double(held.longest_us) / 1e6);
    w.family("lanmesh_worker_held_blocking_calls_total", "counter",
             "Blocking calls made while the data-plane workers were held, by kind: a defect when not 0.");
    BlockingCounts blocking = blocking_while_held();
    for (size_t k = 0; k < kBlockingCallKinds; k++)
        w.sample({{"kind", to_string(BlockingCall(k))}}, blocking.by_kind[k]);
    w.family("lanmesh_worker_packets_total", "counter",
             "Packets each data-plane worker moved, by device (tun, udp, raw) and direction.");
    for (int i = 0; i < data_.count(); i++) {
        const DataCounters &k = data_.worker_counters(i);
        std::string id = std::to_string(i);
        w.sample({{"worker", id}, {"device", "tun"}, {"direction", "rx"}}, k.tun_rx)
            .sample({{"worker", id}, {"device", "tun"}, {"direction", "tx"}}, k.tun_tx)
            .sample({{"worker", id}, {"device", "udp"}, {"direction", "rx"}}, k.udp_rx)
            .sample({{"worker", id}, {"device", "udp"}, {"direction", "tx"}}, k.udp_tx)
            .sample({{"worker", id}, {"device", "raw"}, {"direction", "rx"}}, k.raw_rx)
            .sample({{"worker", id}, {"device", "raw"}, {"direction", "tx"}}, k.raw_tx);
    }
    w.family("lanmesh_worker_dropped_packets_total", "counter", "Packets each data-plane worker dropped.");
    for (int i = 0; i < data_.count(); i++)
        w.sample({{"worker", std::to_string(i)}}, data_.worker_counters(i).total_drops());

    const ControlCounters &k = ctl_counters_;
    w.family("lanmesh_tls_handshakes_total", "counter", "TLS handshakes on the control channel, by result.")
        .sample({{"result", "accepted"}}, k.tls_accepted)
        .sample({{"result", "refused"}}, k.tls_refused)
        .sample({{"result", "timeout"}}, k.tls_timeouts);
    if (cfg_.role == Role::server)
        w.family("lanmesh_admissions_total", "counter", "Clients admitted.").sample(k.admitted);
    else
        w.family("lanmesh_server_connect_attempts_total", "counter", "Connections to the server attempted.")
            .sample(k.connects);
    w.family("lanmesh_disconnects_total", "counter", "Sessions that ended.").sample(k.disconnected);
    w.family("lanmesh_rekeys_total", "counter", "Rekeys of SAs with peers.").sample(k.rekeys);
    w.family("lanmesh_protocol_errors_total", "counter",
             "Control connections closed for breaking the protocol, by reason.");
    for (size_t i = 0; i < kProtoErrorCount; i++)
        w.sample({{"reason", json_key(ProtoError(i))}}, k.protocol_errors_by[i]);
    w.family("lanmesh_output_full_cuts_total", "counter",
             "Control connections cut because the peer did not read what it was sent.")
        .sample(k.output_full_cuts);
    w.family("lanmesh_refusals_total", "counter", "Admissions refused, by reason (as lanmesh monitor refused).");
    for (const auto &[reason, n] : refused_by_reason_) w.sample({{"reason", reason}}, n);
    metrics_role(w);
    w.family("lanmesh_metrics_refused_total", "counter", "Metrics connections refused: too many at once.")
        .sample(metrics_.refused());
    return w.str();
}

}  // namespace lm
