// SPDX-License-Identifier: MIT
// The servers of one network and which of them holds which node, as etcd
// has them (docs/DESIGN.md §11):
//   P server/<name> -> {"addr": "IP:port", "peer": "IP:port", "data": "IP:port"}
//                      on that server's etcd lease: its control port for
//                      clients, its server-to-server channel, its ESP port
//   P online/<name> -> server name      (registry/etcd_leases.h)
//   P node/<name>   -> IPv4
// Read whole every poll on the registry thread; the control thread gets a
// copy (server/server_peers.h).
#pragma once
#include <map>
#include <string>

#include "common/addr.h"
#include "registry/etcd.h"

namespace lm {

struct ServerRecord {
    Endpoint addr, peer, data;
    bool operator==(const ServerRecord &o) const { return addr == o.addr && peer == o.peer && data == o.data; }
};

struct ServerDirectory {
    std::map<std::string, ServerRecord> servers;   // by registry name, ours included
    struct Node {
        std::string server;
        IpAddr addr4;
    };
    std::map<std::string, Node> nodes;             // online nodes only, by name
    bool ok = false;                               // read from etcd this time
};

std::string server_record_json(const ServerRecord &r);
// Strict: an object with "peer" and "data" endpoints (with ports), "addr"
// optional; other members are ignored (another part may add its own).
bool parse_server_record(const std::string &json, ServerRecord *out, std::string *err);

// Registry thread.  Publishes `mine` under server/<name> on `lease` when
// etcd does not have it so, then reads the three prefixes.  Records that do
// not parse are skipped and counted in *skipped.
bool poll_server_directory(Etcd &etcd, const std::string &prefix, const std::string &name, int64_t lease,
                           const ServerRecord *mine, ServerDirectory *out, size_t *skipped, std::string *err);

}  // namespace lm
