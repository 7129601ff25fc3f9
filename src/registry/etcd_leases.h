// SPDX-License-Identifier: MIT
// Overlay address leases shared by every server of one network, kept in
// etcd (docs/DESIGN.md §11).  The same rules as the single server's
// LeaseStore (server/leases.h), made safe for several servers admitting at
// the same instant: every change is one etcd transaction that compares what
// it read, so two servers can never hand out one address twice.
//
// Keys, under the network's prefix P (e.g. "/lanmesh/corp/"):
//   P addr/<IPv4>   -> node name       who holds the address
//   P node/<name>   -> IPv4            the address a node holds
//   P online/<name> -> server name     the node is admitted now (attached to
//                                      that server's etcd lease: it vanishes
//                                      within the TTL when the server dies)
// addr/ and node/ change together, always in one transaction.  A lease is
// active while its node is online; an inactive one is reclaimed, least
// recently changed first, only when the pool has no free slot.  Fixed
// addresses ([Peer] Address) are never handed to anyone else.
//
// Blocking (each call is a few etcd round trips): the registry thread only.
#pragma once
#include <map>
#include <optional>
#include <set>
#include <string>

#include "common/addr.h"
#include "registry/etcd.h"
#include "config/topology.h"

namespace lm {

class EtcdLeases {
public:
    // prefix ends with '/'.  server_lease: the etcd lease of this server's
    // registrations (0: none, for tests).
    EtcdLeases(Etcd &etcd, std::string prefix, const TopologyPlan &plan, std::string server_name)
        : etcd_(etcd), prefix_(std::move(prefix)), plan_(plan), server_(std::move(server_name)) {}

    void set_server_lease(int64_t id) { lease_ = id; }
    // Every configured fixed address with its owner (from the config's [Peer]s).
    void set_fixed(std::map<IpAddr, std::string> fixed) { fixed_ = std::move(fixed); }

    // The node's IPv4 address, marked online here.  A known node gets its
    // address back; a fixed one gets that address (taken over from an
    // offline holder; refused while another node holds it online); a new one
    // the lowest free slot, else an offline node's, else the pool is
    // exhausted.  nullopt with *err on refusal or when etcd fails.
    std::optional<IpAddr> acquire(const std::string &name, std::string *err);
    // The node left this server: offline, its address kept for it.
    bool release(const std::string &name, std::string *err);

    std::string addr_key(const IpAddr &a) const { return prefix_ + "addr/" + a.str(); }
    std::string node_key(const std::string &name) const { return prefix_ + "node/" + name; }
    std::string online_key(const std::string &name) const { return prefix_ + "online/" + name; }

private:
    // One attempt (round 0, 1, ...); *retry when another server changed
    // what we read.
    std::optional<IpAddr> try_acquire(const std::string &name, int round, bool *retry, std::string *err);
    bool is_online(const std::string &name, bool *online, std::string *err);
    struct Claim;
    bool claim(const std::string &name, const Claim &c, bool *won, std::string *err);
    const std::string *fixed_owner(const IpAddr &a) const {
        auto it = fixed_.find(a);
        return it == fixed_.end() ? nullptr : &it->second;
    }

    Etcd &etcd_;
    std::string prefix_;
    const TopologyPlan &plan_;
    std::string server_;
    int64_t lease_ = 0;
    std::map<IpAddr, std::string> fixed_;
};

}  // namespace lm
