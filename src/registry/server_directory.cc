// SPDX-License-Identifier: MIT
#include "registry/server_directory.h"

#include "common/json_value.h"
#include "common/names.h"

#include <sys/socket.h>

#include <iterator>

namespace lm {

void server_record_fields(JsonWriter &j, const ServerRecord &r) {
    if (r.addr.port) j.kv("addr", r.addr.str());
    j.kv("peer", r.peer.str()).kv("data", r.data.str());
}

std::string server_record_json(const ServerRecord &r) {
    JsonWriter j;
    j.begin_object();
    server_record_fields(j, r);
    j.end_object();
    return j.str();
}

namespace {

bool parse_record(const Json &v, ServerRecord *out, std::string *err) {
    if (!v.is_object()) {
        *err = "not a JSON object";
        return false;
    }
    auto endpoint = [&](const char *key, bool required, Endpoint *e) {
        const Json *m = v.get(key);
        if (!m) {
            if (required) *err = std::string("no \"") + key + "\"";
            return !required;
        }
        auto p = m->type == Json::Type::string ? Endpoint::parse(m->s) : std::nullopt;
        if (!p || !p->port) {
            *err = std::string("\"") + key + "\" is not an address with a port";
            return false;
        }
        *e = *p;
        return true;
    };
    ServerRecord r;
    if (!endpoint("addr", false, &r.addr) || !endpoint("peer", true, &r.peer) || !endpoint("data", true, &r.data))
        return false;
    *out = r;
    return true;
}

}  // namespace

bool parse_server_record(const std::string &json, ServerRecord *out, std::string *err) {
    Json v;
    if (!parse_json(json, &v, err)) return false;
    return parse_record(v, out, err);
}

std::string server_value_json(const std::string &address, uint64_t nodes, const ServerRecord *channel) {
    JsonWriter j;
    j.begin_object().kv("address", address).kv("nodes", nodes);
    if (channel) server_record_fields(j, *channel);
    j.end_object();
    return j.str();
}

ServerValue parse_server_value(const std::string &json) {
    ServerValue out;
    Json v;
    std::string err;
    if (!parse_json(json, &v, &err) || !v.is_object()) return out;
    out.address = v.str("address").substr(0, 64);
    out.nodes = v.u64("nodes");
    // A server without a PeerAddress has no channel: reachable by its
    // clients only.
    out.has_channel = v.get("peer") || v.get("data");
    if (out.has_channel) out.channel_ok = parse_record(v, &out.channel, &err);
    return out;
}

void join_online_nodes(const std::string &prefix, const std::vector<EtcdKv> &online, const std::vector<EtcdKv> &node,
                       ServerDirectory *out) {
    for (const EtcdKv &kv : online) {
        if (kv.key.size() <= prefix.size() + 7) continue;
        std::string who = kv.key.substr(prefix.size() + 7);
        if (valid_peer_name(who) && valid_peer_name(kv.value)) out->nodes[who].server = kv.value;
    }
    for (const EtcdKv &kv : node) {
        if (kv.key.size() <= prefix.size() + 5) continue;
        auto n = out->nodes.find(kv.key.substr(prefix.size() + 5));
        if (n == out->nodes.end()) continue;
        auto a = IpAddr::parse(kv.value);
        if (a && a->family == AF_INET) n->second.addr4 = *a;
    }
    for (auto it = out->nodes.begin(); it != out->nodes.end();)
        it = it->second.addr4.is_set() ? std::next(it) : out->nodes.erase(it);
}

}  // namespace lm
