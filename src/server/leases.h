// SPDX-License-Identifier: MIT
// Overlay address leases on the server: each client name (certificate CN)
// keeps its address across reconnects and restarts (docs/DESIGN.md §3).
//
// The lease file, STATE_DIRECTORY/leases, has one line per name,
//     name addr4 [addr6]
// ordered from least to most recently used, under a comment header.  It is
// rewritten atomically (temp file, fsync, rename) on every change, so a crash
// leaves either the old or the new file.  addr6 is informational: it always
// follows from addr4's slot in the pool (see TopologyPlan).
//
// Control path only; not thread-safe.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/addr.h"
#include "config/config.h"
#include "config/topology.h"

namespace lm {

class LeaseStore {
  public:
    // The plan is copied.  state_file "" means no persistence.
    LeaseStore(const TopologyPlan &plan, std::string state_file);

    // Replaces the in-memory state with the file's.  A missing file is an
    // empty store.  A malformed line, a duplicate name or a duplicate address
    // fails with "FILE:LINE: ..." and leaves the store empty.  Leases that are
    // no client address of the current pool (the pool or topology changed)
    // are dropped with a warning.  All loaded leases are inactive.
    bool load(std::string *err);

    // The lease for `name`, marked active.  A known name gets its address
    // back.  `fixed` (from the config) asks for that IPv4 address; it must be
    // a client address of the pool and not held by another active name.  An
    // inactive holder loses it (with a warning) so a newly fixed address
    // cannot be blocked forever by a stale lease.
    // A new name gets the lowest free slot that is nobody's fixed address
    // (set_fixed); when none is free, the inactive lease released longest ago
    // is reclaimed.  Active leases are never taken.  A known name whose
    // address has since become another name's fixed one gets a new address.
    // Failure: nullopt and *err ("address pool exhausted", ...).
    // A failed save is logged and does not fail the call: a client should not
    // be refused because the state disk is full.
    std::optional<Lease> acquire(const std::string &name, const IpAddr *fixed, std::string *err);

    // The client is gone.  The lease stays reserved for `name` but becomes
    // reclaimable, oldest release first; one on another name's fixed address
    // is dropped.  Unknown names are ignored.
    void release(const std::string &name);

    // The [Peer] Address of every configured name: those slots are never
    // handed out to anyone else.  Called at start (after load()) and at
    // every reload, with the whole list.  An inactive lease of another name
    // on a fixed address is dropped at once (a lease file or an older
    // config gave it out); an active one is kept until that client
    // disconnects, and the owner is refused meanwhile ("in use by").
    // Addresses that are no client address of the pool are ignored here;
    // acquire() refuses them with the reason.
    void set_fixed(const std::vector<PeerConfig> &peers);

    // Pointers stay valid until the next acquire() or load().
    const Lease *find_by_name(const std::string &name) const;
    const Lease *find_by_addr(const IpAddr &a) const;  // IPv4 or IPv6
    size_t size() const { return by_name_.size(); }
    // Calls f(const Lease &, bool active) for every lease, by name.
    template <typename F>
    void for_each(F f) const {
        for (const auto &[_, e] : by_name_) f(e.lease, e.active);
    }

    // valid_peer_name() (common/names.h): safe in the lease file and in log lines.
    static bool valid_name(std::string_view name);
    // Deferred mode: changes are written by flush() (the server calls it a
    // few times a second and at exit) instead of at once, so a burst of
    // admissions costs one file write, not one per client.  A crash loses
    // at most the last fraction of a second of new leases.
    void set_deferred(bool on) { deferred_ = on; }
    void flush();

  private:
    struct Entry {
        Lease lease;
        size_t index = 0;        // slot in the plan
        bool active = false;
        uint64_t last_used = 0;  // acquire/release order; smallest = reclaimed first
    };

    Entry make_entry(const std::string &name, size_t index);
    bool reserved_for_other(size_t index, const std::string &name) const;
    void yield_fixed();
    std::optional<size_t> first_free() const;
    bool save(std::string *err) const;
    void persist();
    bool deferred_ = false, dirty_ = false;

    TopologyPlan plan_;
    std::string file_;
    std::map<std::string, Entry> by_name_;
    std::map<size_t, std::string> by_index_;
    std::map<size_t, std::string> fixed_;   // slot -> the name it is fixed for
    // Every slot below this one is taken, so the search for a free slot
    // starts here: admitting N clients costs O(N log N), not O(N^2).
    mutable size_t low_free_ = 0;
    void forget_index(size_t index);
    uint64_t clock_ = 0;
};

}  // namespace lm
