// SPDX-License-Identifier: MIT
#include "registry/server_directory.h"

#include "common/json.h"
#include "common/json_value.h"
#include "common/names.h"

#include <sys/socket.h>

#include <iterator>

namespace lm {

std::string server_record_json(const ServerRecord &r) {
    JsonWriter j;
    j.begin_object();
    if (r.addr.port) j.kv("addr", r.addr.str());
    j.kv("peer", r.peer.str()).kv("data", r.data.str());
    j.end_object();
    return j.str();
}

bool parse_server_record(const std::string &json, ServerRecord *out, std::string *err) {
    Json v;
    if (!parse_json(json, &v, err)) return false;
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

bool poll_server_directory(Etcd &etcd, const std::string &prefix, const std::string &name, int64_t lease,
                           const ServerRecord *mine, ServerDirectory *out, size_t *skipped, std::string *err) {
    std::vector<EtcdKv> kvs;
    if (!etcd.list(prefix + "server/", &kvs, err)) return false;
    const std::string own_key = prefix + "server/" + name;
    bool published = false;
    for (const EtcdKv &kv : kvs) {
        std::string who = kv.key.substr(prefix.size() + 7);
        if (!valid_peer_name(who)) {
            ++*skipped;
            continue;
        }
        ServerRecord r;
        std::string why;
        if (!parse_server_record(kv.value, &r, &why)) {
            // Another part of the server (or an older version) may publish a
            // record without a peer channel: the server is not reachable.
            ++*skipped;
            continue;
        }
        if (kv.key == own_key && mine && r == *mine && kv.lease == lease) published = true;
        out->servers[who] = r;
    }
    if (mine && lease && !published) {
        if (!etcd.put(own_key, server_record_json(*mine), lease, err)) return false;
        out->servers[name] = *mine;
    }
    kvs.clear();
    if (!etcd.list(prefix + "online/", &kvs, err)) return false;
    for (const EtcdKv &kv : kvs) {
        std::string who = kv.key.substr(prefix.size() + 7);
        if (valid_peer_name(who) && valid_peer_name(kv.value)) out->nodes[who].server = kv.value;
    }
    kvs.clear();
    if (!etcd.list(prefix + "node/", &kvs, err)) return false;
    for (const EtcdKv &kv : kvs) {
        auto n = out->nodes.find(kv.key.substr(prefix.size() + 5));
        if (n == out->nodes.end()) continue;
        auto a = IpAddr::parse(kv.value);
        if (a && a->family == AF_INET) n->second.addr4 = *a;
    }
    for (auto it = out->nodes.begin(); it != out->nodes.end();)
        it = it->second.addr4.is_set() ? std::next(it) : out->nodes.erase(it);
    out->ok = true;
    return true;
}

}  // namespace lm
