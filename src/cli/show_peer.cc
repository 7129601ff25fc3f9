// SPDX-License-Identifier: MIT
// `lanmesh peer show` in the manner of `wg show`, and `lanmesh sa show` in
// the manner of `ip xfrm state`:
//
//   peer: alice
//     path: direct
//     address: 198.18.0.2, 2001:db8:1::2
//     endpoint: 192.0.2.11 (raw ESP)
//     data path: raw ESP, carrying        (a client's server only)
//     latest handshake: 12 seconds ago (epoch 3)
//     transfer: 1.21 KiB received (12 packets), 3.40 KiB sent (14 packets)
//
//   sa 0x1a2b3c4d in current peer alice
//       aes-256-gcm  epoch 3  seq 1234  age 40s  expires 59m20s
//       bytes 96.45 KiB  packets 1234
#include "cli/render.h"
#include "cli/text.h"

namespace lm::cli {

static std::string joined(const Json *arr, const char *sep) {
    std::string s;
    if (arr && arr->is_array())
        for (const auto &x : arr->items) s += (s.empty() ? "" : sep) + x.text();
    return s;
}

static const char *encap_words(const std::string &e) {
    return e == "raw" ? "raw ESP" : e == "tls" ? "ESP in TLS" : "ESP in UDP";
}

static void print_peer(FILE *f, const Json &p, int stats, time_t now) {
    std::fprintf(f, "peer: %s\n", p.str("name", "?").c_str());
    if (p.str("state") != "up") std::fprintf(f, "  state: %s\n", p.str("state", "?").c_str());
    std::fprintf(f, "  path: %s\n", p.str("path", "?").c_str());
    std::string addr = p.str("address");
    if (!p.str("address6").empty()) addr += (addr.empty() ? "" : ", ") + p.str("address6");
    if (!addr.empty()) std::fprintf(f, "  address: %s\n", addr.c_str());
    if (std::string n = joined(p.get("networks"), ", "); !n.empty()) std::fprintf(f, "  networks: %s\n", n.c_str());
    if (std::string ep = p.str("endpoint"); !ep.empty())
        std::fprintf(f, "  endpoint: %s (%s)\n", ep.c_str(), encap_words(p.str("encapsulation")));
    // A client's server: whether the data path carries, and why it is on
    // this step (client/path_ladder.h).
    if (std::string d = p.str("data_path"); !d.empty()) {
        std::string why = p.str("data_path_reason");
        std::fprintf(f, "  data path: %s, %s%s%s%s\n", encap_words(p.str("encapsulation")), d.c_str(),
                     why.empty() ? "" : " (", why.c_str(), why.empty() ? "" : ")");
    }
    if (std::string c = p.str("control_endpoint"); !c.empty()) {
        // The round trip of the control channel (keepalive pings), when known.
        std::string rtt = p.get("rtt_us") ? ", rtt " + rtt_text(p.i64("rtt_us")) : "";
        std::fprintf(f, "  control: %s%s\n", c.c_str(), rtt.c_str());
    }
    if (p.get("path_mtu")) {
        std::string probed = p.get("path_mtu_probed")
                                 ? ", probed: " + std::to_string(p.u64("path_mtu_probed")) + " bytes make the round trip"
                                 : "";
        std::fprintf(f, "  path mtu: %llu (inner%s)\n", static_cast<unsigned long long>(p.u64("path_mtu")),
                     probed.c_str());
    }
    if (p.get("punch_rounds")) {
        int64_t ttd = p.i64("time_to_direct_ms");
        std::string d = ttd >= 0 ? "direct " + std::to_string(ttd) + " ms after introduction" : "never direct yet";
        std::fprintf(f, "  punching: %s, %llu round(s) since, %llu probes sent\n", d.c_str(),
                     static_cast<unsigned long long>(p.u64("punch_rounds")),
                     static_cast<unsigned long long>(p.u64("probes_sent")));
        if (std::string r = p.str("punch_reason"); !r.empty()) std::fprintf(f, "  reason: %s\n", r.c_str());
    }
    std::fprintf(f, "  latest handshake: %s (epoch %llu)\n", human_ago(p.i64("last_handshake"), now).c_str(),
                 static_cast<unsigned long long>(p.u64("epoch")));
    std::fprintf(f, "  transfer: %s received (%llu packets), %s sent (%llu packets)\n",
                 human_bytes(p.u64("rx_bytes")).c_str(), static_cast<unsigned long long>(p.u64("rx_packets")),
                 human_bytes(p.u64("tx_bytes")).c_str(), static_cast<unsigned long long>(p.u64("tx_packets")));
    if (stats <= 0) return;
    std::fprintf(f, "  last received: %s, last sent: %s\n", human_ago(p.i64("last_rx"), now).c_str(),
                 human_ago(p.i64("last_tx"), now).c_str());
    if (const Json *d = p.get("drops"); d && d->is_object()) {
        std::string s;
        for (const auto &[name, v] : d->members)
            if (stats > 1 || v.text() != "0") s += (s.empty() ? "" : ", ") + dashed(name) + " " + v.text();
        std::fprintf(f, "  drops: %s\n", s.empty() ? "none" : s.c_str());
    }
}

void print_peers(FILE *f, const Json &peers, int stats, time_t now) {
    bool first = true;
    for (const auto &p : peers.items) {
        if (!first) std::fputc('\n', f);
        first = false;
        print_peer(f, p, stats, now);
    }
}

void print_peers_brief(FILE *f, const Json &peers, time_t now) {
    for (const auto &p : peers.items) {
        std::string addr = p.str("address");
        if (!p.str("address6").empty()) addr += (addr.empty() ? "" : " ") + p.str("address6");
        std::string ep = p.str("endpoint");
        if (ep.empty() || ep == "-") ep = "-";
        std::string last = p.i64("last_rx") > 0 ? short_duration(now - p.i64("last_rx")) + " ago" : "never";
        std::fprintf(f, "%-16s %-7s %-10s %-32s %-24s %s\n", p.str("name", "?").c_str(), p.str("state", "?").c_str(),
                     p.str("path", "-").c_str(), addr.empty() ? "-" : addr.c_str(), ep.c_str(), last.c_str());
    }
}

void print_sas(FILE *f, const Json &sas, int) {
    for (const auto &sa : sas.items) {
        std::fprintf(f, "sa 0x%08llx %s %s peer %s\n", static_cast<unsigned long long>(sa.u64("spi")),
                     sa.str("direction").c_str(), sa.str("state").c_str(), sa.str("peer").c_str());
        std::fprintf(f, "    %s  epoch %llu  seq %llu  age %s  expires %s\n", sa.str("algorithm").c_str(),
                     static_cast<unsigned long long>(sa.u64("epoch")), static_cast<unsigned long long>(sa.u64("seq")),
                     short_duration(sa.i64("age")).c_str(), short_duration(sa.i64("expires")).c_str());
        std::fprintf(f, "    bytes %s  packets %llu\n", human_bytes(sa.u64("bytes")).c_str(),
                     static_cast<unsigned long long>(sa.u64("packets")));
        if (std::string k = sa.str("key"); !k.empty()) std::fprintf(f, "    key %s\n", k.c_str());
    }
}

}  // namespace lm::cli
