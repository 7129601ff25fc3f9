// SPDX-License-Identifier: MIT
// The daemon's side of lanmesh(8): parses one control request (the wire
// protocol is in core/ctl_socket.h), checks who may run it, and answers with
// one JSON line.  What is common to both roles lives here; each role adds
// its part through Node's *_role hooks.
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>

#include "common/log.h"
#include "common/version.h"
#include "core/events.h"
#include "core/node.h"
#include "data/tunnel.h"

namespace lm {

namespace {

constexpr size_t kMaxWords = 16;

struct Request {
    std::vector<std::string> args;   // the words after OBJECT [COMMAND]
    int stats = 0;                   // number of leading "-s"
    uid_t uid = uid_t(-1);           // the caller (SO_PEERCRED)
};

CtlReply error_reply(const std::string &msg) {
    JsonWriter j;
    j.begin_object().kv("error", msg).end_object();
    return {j.str() + "\n", 0};
}

CtlReply json_reply(const JsonWriter &j) { return {j.str() + "\n", 0}; }

std::vector<std::string> split_words(const std::string &s) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && s[i] == ' ') i++;
        size_t start = i;
        while (i < s.size() && s[i] != ' ') i++;
        if (i > start) out.push_back(s.substr(start, i - start));
    }
    return out;
}

std::string endpoint_of(const Tunnel &t) {
    if (t.encap == Encapsulation::udp) return t.udp_peer.port ? t.udp_peer.str() : "";
    return t.raw_peer.is_set() ? t.raw_peer.str() : "";
}

}  // namespace

// Friend of Node: one static function per command.
struct CtlCommands {
    using Run = CtlReply (*)(Node &, const Request &);
    struct Entry {
        const char *object, *command;   // command "" for the one-word requests
        bool change;                    // root only
        size_t min_args, max_args;
        Run run;
    };
    static const Entry kTable[];

    static CtlReply link_show(Node &n, const Request &r);
    static CtlReply peer_show(Node &n, const Request &r);
    static CtlReply peer_del(Node &n, const Request &r);
    static CtlReply sa_show(Node &n, const Request &r);
    static CtlReply route_show(Node &n, const Request &r);
    static CtlReply route_change(Node &n, const Request &r, bool add);
    static CtlReply route_add(Node &n, const Request &r) { return route_change(n, r, true); }
    static CtlReply route_del(Node &n, const Request &r) { return route_change(n, r, false); }
    static CtlReply lease_show(Node &n, const Request &r);
    static CtlReply monitor(Node &n, const Request &r);
    static CtlReply reload(Node &n, const Request &r);
    static CtlReply status(Node &n, const Request &) { return {n.status_json(), 0}; }

    static void peer_json(Node &n, JsonWriter &j, const PeerView &v, int stats);
    static void sa_json(Node &n, JsonWriter &j, const PeerView &v, bool keys);
};

const CtlCommands::Entry CtlCommands::kTable[] = {
    {"link", "show", false, 0, 0, link_show},
    {"peer", "show", false, 0, 1, peer_show},
    {"peer", "del", true, 1, 1, peer_del},
    {"sa", "show", false, 0, 2, sa_show},
    {"route", "show", false, 0, 0, route_show},
    {"route", "add", true, 3, 4, route_add},
    {"route", "del", true, 1, 1, route_del},
    {"lease", "show", false, 0, 0, lease_show},
    {"monitor", "", false, 0, kMaxWords, monitor},
    {"reload", "", true, 0, 0, reload},
    {"status", "", false, 0, 0, status},
};

CtlReply Node::handle_request(const std::string &req, uid_t uid) {
    for (unsigned char ch : req)
        if (ch < 0x20 || ch > 0x7e) return error_reply("request is not printable ASCII");
    std::vector<std::string> w = split_words(req);
    if (w.size() > kMaxWords) return error_reply("request has too many words");
    Request r;
    r.uid = uid;
    size_t i = 0;
    while (i < w.size() && w[i] == "-s") r.stats++, i++;
    if (i == w.size()) return error_reply("empty request");
    for (const auto &e : CtlCommands::kTable) {
        if (w[i] != e.object) continue;
        size_t first = i + 1;
        if (*e.command) {
            if (first >= w.size() || w[first] != e.command) continue;
            first++;
        }
        r.args.assign(w.begin() + long(first), w.end());
        std::string what = *e.command ? std::string(e.object) + " " + e.command : e.object;
        if (r.args.size() < e.min_args || r.args.size() > e.max_args)
            return error_reply("wrong number of arguments for \"" + what + "\"");
        if (e.change && uid != 0) return error_reply(what + ": permission denied (changes need root)");
        if (e.change) LM_INFO("control: \"%s\" by uid %u", req.c_str(), unsigned(uid));
        return e.run(*this, r);
    }
    return error_reply("unknown request \"" + req.substr(0, 64) + "\"");
}

bool Node::open_control(std::string *err) {
    // The socket's group is User's primary group, the group the daemon
    // runs as after the drop (core/privdrop.h), also when that user is not
    // "lanmesh".  Not started as root: the file system's default stands.
    gid_t group = gid_t(-1);
    if (geteuid() == 0) {
        if (const passwd *pw = getpwnam(cfg_.user.c_str())) group = pw->pw_gid;
    }
    return ctl_.open(loop_, cfg_.runtime_directory + "/" + cfg_.net + ".sock", group,
                     [this](const std::string &r, uid_t uid) { return handle_request(r, uid); }, err);
}

void Node::data_sockets_json(JsonWriter &j) const {
    auto entry = [&](const char *proto, int fd, bool with_port) {
        sockaddr_storage ss{};
        socklen_t sl = sizeof ss;
        if (getsockname(fd, reinterpret_cast<sockaddr *>(&ss), &sl) < 0) return;
        Endpoint ep = Endpoint::from_sockaddr(reinterpret_cast<sockaddr *>(&ss));
        j.begin_object().kv("proto", proto).kv("address", with_port ? ep.str() : ep.addr.str()).end_object();
    };
    for (int i = 0; i < data_.udp_count(); i++) entry("udp", data_.udp_fd(i), true);
    for (int fam : {AF_INET, AF_INET6})
        if (data_.raw_fd(fam) >= 0) entry("esp", data_.raw_fd(fam), false);
}

CtlReply CtlCommands::link_show(Node &n, const Request &r) {
    JsonWriter j;
    j.begin_object();
    j.kv("network", n.cfg_.net).kv("device", n.dev_).kv("role", to_string(n.cfg_.role));
    n.link_role(j, r.stats);
    j.begin_array("ciphers");
    for (Cipher c : n.cfg_.ciphers) j.value(to_string(c));
    j.end_array();
    j.kv("encapsulation", to_string(n.cfg_.encapsulation));
    j.kv("user", n.run_as_).kv("uid", uint64_t(geteuid()));
    j.kv("uptime", int64_t(time(nullptr) - n.started_));
    j.kv("debug_keys", n.keys_.enabled());
    j.kv("version", lanmesh_version());
    j.begin_array("warnings");
    for (const auto &w : n.warnings()) j.value(w);
    j.end_array();
    if (r.stats) n.counters_json(j);
    j.end_object();
    return json_reply(j);
}

void CtlCommands::peer_json(Node &, JsonWriter &j, const PeerView &v, int stats) { peer_view_json(j, v, stats); }

void peer_view_json(JsonWriter &j, const PeerView &v, int stats) {
    const Tunnel &t = *v.tunnel;
    j.begin_object().kv("name", t.name).kv("state", v.state).kv("path", v.path);
    if (v.address.is_set()) j.kv("address", v.address.str());
    if (v.address6.is_set()) j.kv("address6", v.address6.str());
    j.begin_array("networks");
    for (const auto &p : v.networks) j.value(p.str());
    j.end_array();
    j.kv("endpoint", endpoint_of(t)).kv("encapsulation", to_string(t.encap));
    if (!v.data_path.empty()) j.kv("data_path", v.data_path);
    if (!v.data_path_reason.empty()) j.kv("data_path_reason", v.data_path_reason);
    if (!v.control_endpoint.empty()) j.kv("control_endpoint", v.control_endpoint);
    if (v.rtt_us >= 0) j.kv("rtt_us", v.rtt_us);
    // The inner MTU the outer path carries, once a send or the padded
    // probes found it (data/pmtu.h, data/mtu_probe.h); the outer bytes the
    // probes proved.
    if (const Tunnel &path = t.via ? *t.via : t; path.path_mtu) {
        j.kv("path_mtu", uint64_t(path.path_mtu));
        if (path.probed_outer) j.kv("path_mtu_probed", uint64_t(path.probed_outer));
    }
    j.kv("epoch", uint64_t(v.epoch));
    if (v.pair) {
        j.kv("time_to_direct_ms", v.time_to_direct_ms).kv("punch_rounds", v.punch_rounds);
        j.kv("probes_sent", v.probes_sent).kv("punch_reason", v.punch_reason);
    }
    // Like wg's "latest handshake": when the current keys were made.
    j.kv("last_handshake", int64_t(t.out ? t.out->created : 0));
    Tunnel::Stats st = t.total();
    j.kv("rx_bytes", st.rx_bytes).kv("rx_packets", st.rx_packets);
    j.kv("tx_bytes", st.tx_bytes).kv("tx_packets", st.tx_packets);
    j.kv("last_rx", int64_t(st.last_rx)).kv("last_tx", int64_t(st.last_tx));
    if (stats) {
        j.begin_object("drops").kv("src_not_allowed", st.drops_src).kv("replay", st.drops_replay);
        j.kv("bad_icv", st.drops_icv).kv("bad_padding", st.drops_padding).kv("bad_inner", st.drops_inner);
        j.end_object();
    }
    j.end_object();
}

CtlReply CtlCommands::peer_show(Node &n, const Request &r) {
    std::vector<PeerView> peers;
    n.collect_peers(peers);
    const std::string *want = r.args.empty() ? nullptr : &r.args[0];
    JsonWriter j;
    j.begin_array();
    bool found = false;
    for (const auto &v : peers) {
        if (want && v.tunnel->name != *want) continue;
        found = true;
        peer_json(n, j, v, r.stats);
    }
    j.end_array();
    if (want && !found) return error_reply("no peer \"" + *want + "\"");
    return json_reply(j);
}

CtlReply CtlCommands::peer_del(Node &n, const Request &r) {
    std::string err = n.peer_del_role(r.args[0]);
    if (!err.empty()) return error_reply(err);
    JsonWriter j;
    j.begin_object().kv("deleted", r.args[0]).end_object();
    return json_reply(j);
}

void CtlCommands::sa_json(Node &n, JsonWriter &j, const PeerView &v, bool keys) {
    const Tunnel &t = *v.tunnel;
    time_t now = time(nullptr);
    auto one = [&](const char *dir, const char *state, uint32_t spi, uint32_t epoch, Cipher c, uint64_t seq,
                   uint64_t packets, uint64_t bytes, time_t created, time_t expires) {
        j.begin_object().kv("peer", t.name).kv("direction", dir).kv("state", state);
        j.kv("spi", uint64_t(spi)).kv("algorithm", to_string(c)).kv("epoch", uint64_t(epoch));
        j.kv("seq", seq).kv("packets", packets).kv("bytes", bytes);
        j.kv("age", int64_t(now - created)).kv("expires", int64_t(std::max<time_t>(0, expires - now)));
        if (keys) {
            std::string k = n.keys_.key_hex(spi);
            if (!k.empty()) j.kv("key", "0x" + k);
        }
        j.end_object();
    };
    // A current SA is replaced at the rekey time limit (or earlier, by the
    // byte and packet limits); an old inbound SA is removed after its grace.
    auto rekey_at = [&](time_t created) { return created + v.limits.after_time; };
    if (const InboundSa *sa = t.in_cur.get())
        one("in", "current", sa->spi, sa->epoch, sa->cipher, sa->replay.top(), sa->packets(), sa->bytes(), sa->created,
            rekey_at(sa->created));
    if (const InboundSa *sa = t.in_old.get())
        one("in", "old", sa->spi, sa->epoch, sa->cipher, sa->replay.top(), sa->packets(), sa->bytes(), sa->created,
            t.in_old_expires);
    if (const OutboundSa *sa = t.out.get())
        one("out", "current", sa->spi, sa->epoch, sa->cipher, sa->last_seq(), sa->packets(), sa->bytes(), sa->created,
            rekey_at(sa->created));
}

CtlReply CtlCommands::sa_show(Node &n, const Request &r) {
    if (r.args.size() == 1 || (r.args.size() == 2 && r.args[0] != "peer"))
        return error_reply("sa show: expected \"peer NAME\"");
    std::vector<PeerView> peers;
    n.collect_peers(peers);
    const std::string *want = r.args.size() == 2 ? &r.args[1] : nullptr;
    JsonWriter j;
    j.begin_array();
    bool found = false;
    for (const auto &v : peers) {
        if (want && v.tunnel->name != *want) continue;
        found = true;
        // Keys leave the process only when DebugKeyFile already exports
        // them, and only to root, who can read that file anyway.
        sa_json(n, j, v, n.keys_.enabled() && r.uid == 0);
    }
    j.end_array();
    if (want && !found) return error_reply("no peer \"" + *want + "\"");
    return json_reply(j);
}

CtlReply CtlCommands::route_show(Node &n, const Request &) {
    JsonWriter j;
    j.begin_array();
    n.routes_role(j);
    j.end_array();
    return json_reply(j);
}

CtlReply CtlCommands::route_change(Node &n, const Request &r, bool add) {
    auto p = Prefix::parse(r.args[0]);
    if (!p) return error_reply("bad prefix \"" + r.args[0] + "\" (expected ADDRESS/LENGTH without host bits)");
    if (add && (r.args[1] != "via" || (r.args.size() == 4 && r.args[3] != "force")))
        return error_reply("route add: expected \"PREFIX via NAME [force]\"");
    std::string via = add ? r.args[2] : "";
    bool force = add && r.args.size() == 4;
    std::string err = n.route_change_role(add, *p, via, force);
    if (!err.empty()) return error_reply(err);
    JsonWriter j;
    j.begin_object().kv(add ? "added" : "deleted", p->str());
    if (add) j.kv("via", via);
    j.end_object();
    return json_reply(j);
}

CtlReply CtlCommands::lease_show(Node &n, const Request &) {
    JsonWriter j;
    j.begin_array();
    n.leases_role(j);
    j.end_array();
    return json_reply(j);
}

CtlReply CtlCommands::monitor(Node &, const Request &r) {
    unsigned mask = 0;
    for (const auto &a : r.args) {
        unsigned m = event_mask(a);
        if (!m) return error_reply("unknown event kind \"" + a + "\" (all, peer, path, rekey, refused or server)");
        mask |= m;
    }
    if (!mask) mask = kEventAll;
    JsonWriter j;
    j.begin_object().begin_array("monitor");
    for (const char *k : {"peer", "path", "rekey", "refused", "server"})
        if (mask & event_mask(k)) j.value(k);
    j.end_array().end_object();
    return {j.str() + "\n", mask};
}

CtlReply CtlCommands::reload(Node &n, const Request &) {
    ReloadReport rep;
    std::string err;
    if (!n.reload(&rep, &err)) return error_reply(err);
    JsonWriter j;
    j.begin_object().kv("reloaded", n.cfg_.file);
    j.begin_array("cut");
    for (const auto &c : rep.cut) j.begin_object().kv("peer", c.peer).kv("reason", c.reason).end_object();
    j.end_array();
    j.begin_array("restart_needed");
    for (const auto &k : rep.restart_needed) j.value(k);
    j.end_array();
    j.begin_array("routes_added");
    for (const auto &k : rep.routes_added) j.value(k);
    j.end_array();
    j.begin_array("routes_removed");
    for (const auto &k : rep.routes_removed) j.value(k);
    j.end_array();
    j.end_object();
    return json_reply(j);
}

}  // namespace lm
