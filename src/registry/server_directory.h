// SPDX-License-Identifier: MIT
// The servers of one network and which of them holds which node, as etcd
// has them (docs/DESIGN.md §11):
//   P server/<name> -> {"address": "IP:port", "nodes": N,
//                       "addr": "IP:port", "peer": "IP:port", "data": "IP:port"}
//                      on that server's etcd lease.  One record, one writer
//                      (registry/registry_thread.h): "address" and "nodes"
//                      always (link show, monitor), the other three with a
//                      PeerAddress: its control port for clients, its
//                      server-to-server channel, its ESP port.
//   P online/<name> -> server name      (registry/etcd_leases.h)
//   P node/<name>   -> IPv4
// Read every poll on the registry thread; the control thread gets a copy
// (server/server_registry.cc, server/server_peers.h).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/addr.h"
#include "common/json.h"
#include "registry/etcd.h"

namespace lm {

// A server's channel endpoints (PeerAddress).
struct ServerRecord {
    Endpoint addr, peer, data;
    bool operator==(const ServerRecord &o) const { return addr == o.addr && peer == o.peer && data == o.data; }
};

struct ServerDirectory {
    std::map<std::string, ServerRecord> servers;   // with a channel, by registry name, ours included
    struct Node {
        std::string server;
        IpAddr addr4;
    };
    std::map<std::string, Node> nodes;             // online nodes only, by name
    bool ok = false;                               // read from etcd this time
    uint64_t skipped = 0;                          // records with a channel that did not parse
};

// The channel's members inside an open JSON object.
void server_record_fields(JsonWriter &j, const ServerRecord &r);
std::string server_record_json(const ServerRecord &r);
// Strict: an object with "peer" and "data" endpoints (with ports), "addr"
// optional; other members are ignored ("address", "nodes").
bool parse_server_record(const std::string &json, ServerRecord *out, std::string *err);

// The whole server/<name> value: what this server writes (`channel` null
// without a PeerAddress).
std::string server_value_json(const std::string &address, uint64_t nodes, const ServerRecord *channel);
// What every reader takes from one server/<name> value.  A value that is
// not a JSON object still names a live server (address "", nodes 0).
struct ServerValue {
    std::string address;     // at most 64 characters
    uint64_t nodes = 0;
    bool has_channel = false;   // "peer" or "data" present
    bool channel_ok = false;    // ... and they parse: `channel` holds them
    ServerRecord channel;
};
ServerValue parse_server_value(const std::string &json);

// online/ and node/ as listed (keys with `prefix`): every online node with
// an IPv4 address in node/, into out->nodes.
void join_online_nodes(const std::string &prefix, const std::vector<EtcdKv> &online, const std::vector<EtcdKv> &node,
                       ServerDirectory *out);

}  // namespace lm
