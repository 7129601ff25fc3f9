// SPDX-License-Identifier: MIT
// `lanmesh link show`: the device and what the daemon runs it with.
//
//   lm-office: server, state up
//       topology subnet  client-to-client relay  mtu 1400
//       address 198.18.0.1  address6 2001:db8:1::1  pool 198.18.0.0/24
//       ciphers aes-256-gcm chacha20-poly1305  encapsulation auto
//       listen tcp [::]:4500  udp 0.0.0.0:4500  esp 0.0.0.0
//       data-path udp carrying  (no authenticated ESP came back by raw ESP ...)   (a client)
//       peers 2  pending-handshakes 0  user lanmesh  version 0.9.0  uptime 3 minutes
//       handshakes: pending 0  limit 1024  per-source-limit 32  evicted-per-source 0  ...
//       protocol-errors 0  output-full-cuts 0
//       warning: CRL /etc/lanmesh/crl.pem (of /CN=Office CA) expires in 6 days (...)
//
// The protocol errors list their reasons that are not zero (all of them
// with -s -s).
//
// -s adds the counters as `ip -s link` tables, the dropped packets by
// reason, leaving out what is zero (-s -s shows every counter), and one line
// per data-plane worker:
//
//     worker 0  tun-rx 81234  tun-tx 1200  udp-rx 1310  udp-tx 80511  raw-rx 0  raw-tx 0  drops 0
#include "cli/render.h"
#include "cli/text.h"

namespace lm::cli {

static void print_listen(FILE *f, const Json &link) {
    const Json *l = link.get("listen");
    if (!l || !l->is_array() || l->items.empty()) return;
    std::string s;
    for (const auto &e : l->items) s += "  " + e.str("proto") + " " + e.str("address");
    std::fprintf(f, "    listen%s\n", s.c_str() + 1);
}

// The counters at -s leave out those at zero; -s -s shows every one.
static Json nonzero(const Json &obj, int stats) {
    Json out;
    out.type = Json::Type::object;
    for (const auto &m : obj.members)
        if (stats > 1 || m.second.text() != "0") out.members.push_back(m);
    return out;
}

static void print_drops(FILE *f, const Json &drops, int stats) {
    uint64_t total = 0;
    for (const auto &[name, _] : drops.members) total += drops.u64(name);
    Json shown = nonzero(drops, stats);
    std::fprintf(f, "    dropped %llu%s\n", static_cast<unsigned long long>(total), shown.members.empty() ? "" : ":");
    print_table(f, shown, "        ", 6);
}

// How the kernel spread the traffic over the workers' queues and sockets.
static void print_workers(FILE *f, const Json &link) {
    const Json *w = link.get("workers");
    if (!w || !w->is_array()) return;
    for (size_t i = 0; i < w->items.size(); i++)
        std::fprintf(f, "    worker %zu  %s\n", i,
                     pairs(w->items[i], {{"tun_rx", "tun-rx"}, {"tun_tx", "tun-tx"}, {"udp_rx", "udp-rx"},
                                         {"udp_tx", "udp-tx"}, {"raw_rx", "raw-rx"}, {"raw_tx", "raw-tx"},
                                         {"drops", "drops"}})
                         .c_str());
    // What the control plane cost the data path: how often and how long it
    // held every worker to change shared state (docs/DESIGN.md §7).
    if (const Json *h = link.get("workers_held"); h && h->is_object()) {
        std::fprintf(f, "    workers held %llu times, %.1f ms in all, longest %.2f ms\n",
                     static_cast<unsigned long long>(h->u64("pauses")), double(h->u64("held_us")) / 1e3,
                     double(h->u64("longest_us")) / 1e3);
        // Never expected: the daemon logged the first of each kind.
        if (const Json *b = h->get("blocking"); b && b->is_object() && b->u64("total"))
            std::fprintf(f, "    blocking calls while held: %s\n",
                         pairs(*b, {{"total", "total"}, {"netlink", "netlink"}, {"file", "file"},
                                    {"user_db", "user-db"}, {"name_lookup", "name-lookup"}, {"notify", "notify"},
                                    {"log", "log"}})
                             .c_str());
    }
}

// The limits on pending handshakes and what the daemon did about abuse of
// its control channel (lanmesh(8) describes each counter).
static void print_control(FILE *f, const Json &link, int stats) {
    if (const Json *h = link.get("handshakes"); h && h->is_object())
        std::fprintf(f, "    handshakes: %s\n",
                     pairs(*h, {{"pending", "pending"}, {"limit", "limit"}, {"per_source_limit", "per-source-limit"},
                                {"evicted_per_source", "evicted-per-source"}, {"evicted_total", "evicted-total"},
                                {"evicted_no_fds", "evicted-no-fds"}, {"refused_no_fds", "refused-no-fds"}})
                         .c_str());
    const Json *pe = link.get("protocol_errors");
    if (!pe || !pe->is_object()) return;
    uint64_t total = 0;
    std::string reasons;
    for (const auto &[name, v] : pe->members) {
        total += pe->u64(name);
        if (stats > 1 || v.text() != "0") reasons += (reasons.empty() ? "" : "  ") + dashed(name) + " " + v.text();
    }
    std::fprintf(f, "    protocol-errors %llu%s%s%s  output-full-cuts %s\n", static_cast<unsigned long long>(total),
                 reasons.empty() ? "" : " (", reasons.c_str(), reasons.empty() ? "" : ")",
                 link.get("output_full_cuts") ? link.get("output_full_cuts")->text().c_str() : "0");
}

void print_link(FILE *f, const Json &link, int stats, time_t) {
    std::fprintf(f, "%s: %s, state %s\n", link.str("device", "?").c_str(), link.str("role", "?").c_str(),
                 link.str("state", "?").c_str());
    print_pairs(f, link, {{"network", "network"}, {"name", "name"}, {"server", "server"}, {"server_name", "server-name"},
                          {"behind_nat", "behind-nat"}, {"underlay_changes", "underlay-changes"},
                          {"roaming", "roaming"}});
    // A client listing several servers: which ones, and how often it moved.
    if (const Json *sv = link.get("servers"); sv && sv->is_array()) {
        std::string list;
        for (const auto &x : sv->items) list += " " + x.text();
        std::fprintf(f, "    servers%s  (in use %s%s%s)  failovers %s\n", list.c_str(), link.str("server", "?").c_str(),
                     link.get("server_address") ? " at " : "", link.str("server_address").c_str(),
                     link.get("failovers") ? link.get("failovers")->text().c_str() : "0");
    }
    print_pairs(f, link, {{"topology", "topology"}, {"client_to_client", "client-to-client"}, {"mtu", "mtu"},
                          {"cipher", "cipher"}, {"epoch", "epoch"}});
    print_pairs(f, link, {{"address", "address"}, {"address6", "address6"}, {"pool", "pool"}, {"pool6", "pool6"}});
    print_pairs(f, link, {{"ciphers", "ciphers"}, {"encapsulation", "encapsulation"}, {"debug_keys", "debug-keys"}});
    print_listen(f, link);
    // A client: the step its data path is on and whether it carries.
    if (std::string d = link.str("data_path"); !d.empty()) {
        std::string why = link.str("data_path_reason");
        std::fprintf(f, "    data-path %s %s%s%s%s\n", d.c_str(), link.str("data_path_state", "?").c_str(),
                     why.empty() ? "" : "  (", why.c_str(), why.empty() ? "" : ")");
    }
    std::string last = pairs(link, {{"peer_count", "peers"}, {"pending_handshakes", "pending-handshakes"},
                                    {"user", "user"}, {"version", "version"}});
    std::fprintf(f, "    %s%suptime %s\n", last.c_str(), last.empty() ? "" : "  ",
                 human_duration(link.i64("uptime")).c_str());
    print_control(f, link, stats);
    // Servers sharing their leases in etcd (lanmesh.conf(5) [Registry]).
    if (const Json *r = link.get("registry"); r && r->is_object()) {
        std::fprintf(f, "    registry %s  %s\n", r->str("state", "?").c_str(),
                     pairs(*r, {{"server", "as"}, {"prefix", "prefix"}, {"endpoint", "via"}}).c_str());
        if (r->get("error")) std::fprintf(f, "    registry error: %s\n", r->str("error").c_str());
        // The network's servers (health: their etcd lease runs), and where
        // each node is online.
        if (const Json *sv = r->get("servers"); sv && sv->is_array())
            for (const auto &s : sv->items) {
                std::string ch = s.get("channel") ? "  channel " + s.str("channel") : "";
                std::fprintf(f, "    server %s  address %s  nodes %s  %s%s%s\n", s.str("name", "?").c_str(),
                             s.str("address", "-").c_str(), s.get("nodes") ? s.get("nodes")->text().c_str() : "?",
                             s.str("health", "?").c_str(), ch.c_str(), s.flag("self") ? "  (this server)" : "");
            }
        if (const Json *nv = r->get("nodes"); nv && nv->is_array()) {
            std::string list;
            for (const auto &n : nv->items) list += "  " + n.str("name", "?") + "@" + n.str("server", "?");
            std::fprintf(f, "    nodes online %s:%s\n", r->get("nodes_online") ? r->get("nodes_online")->text().c_str() : "0",
                         list.c_str());
        }
    }
    // What the daemon cannot do or will soon stop doing (an expiring CRL).
    if (const Json *w = link.get("warnings"); w && w->is_array())
        for (const auto &x : w->items) std::fprintf(f, "    warning: %s\n", x.text().c_str());
    if (stats <= 0) return;
    if (const Json *c = link.get("counters"); c && c->is_object()) print_table(f, nonzero(*c, stats), "    ", 6);
    if (const Json *d = link.get("drops"); d && d->is_object()) print_drops(f, *d, stats);
    print_workers(f, link);
}

}  // namespace lm::cli
