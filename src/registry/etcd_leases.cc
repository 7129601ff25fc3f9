// SPDX-License-Identifier: MIT
#include "registry/etcd_leases.h"

#include <openssl/rand.h>

#include <map>

namespace lm {

namespace {

constexpr int kAttempts = 16;   // transactions lost to other servers before giving up
constexpr int kRandomDraws = 64;   // random slots tried after a lost race

}  // namespace

bool EtcdLeases::is_online(const std::string &name, bool *online, std::string *err) {
    std::optional<EtcdKv> kv;
    if (!etcd_.get(online_key(name), &kv, err)) return false;
    *online = kv.has_value();
    return true;
}

// What one transaction compares: every record it read is still as read
// (or still absent), and an evicted holder is still offline.
struct EtcdLeases::Claim {
    IpAddr addr;
    std::optional<EtcdKv> holder;      // addr/<addr> as read
    std::optional<EtcdKv> node;        // node/<name> as read
    std::optional<EtcdKv> old_addr;    // addr/<old> when it is ours and we move away
    std::string evict;                 // offline node whose address we take
};

bool EtcdLeases::claim(const std::string &name, const Claim &c, bool *won, std::string *err) {
    using T = EtcdCompare::Target;
    std::vector<EtcdCompare> cmp;
    std::vector<EtcdOp> ops;
    auto unchanged = [&](const std::string &key, const std::optional<EtcdKv> &rec) {
        if (rec) cmp.push_back({key, T::mod_revision, rec->mod_revision, {}});
        else cmp.push_back({key, T::create_revision, 0, {}});
    };
    unchanged(addr_key(c.addr), c.holder);
    unchanged(node_key(name), c.node);
    if (c.old_addr) {
        unchanged(c.old_addr->key, c.old_addr);
        ops.push_back({EtcdOp::Kind::del, c.old_addr->key, {}, 0});
    }
    if (!c.evict.empty()) {
        cmp.push_back({online_key(c.evict), T::create_revision, 0, {}});
        ops.push_back({EtcdOp::Kind::del, node_key(c.evict), {}, 0});
    }
    ops.push_back({EtcdOp::Kind::put, addr_key(c.addr), name, 0});
    ops.push_back({EtcdOp::Kind::put, node_key(name), c.addr.str(), 0});
    ops.push_back({EtcdOp::Kind::put, online_key(name), server_, lease_});
    return etcd_.txn(cmp, ops, won, err);
}

std::optional<IpAddr> EtcdLeases::try_acquire(const std::string &name, int round, bool *retry, std::string *err) {
    *retry = false;
    std::optional<IpAddr> fixed;
    for (const auto &[a, owner] : fixed_)
        if (owner == name) fixed = a;

    Claim c;
    if (!etcd_.get(node_key(name), &c.node, err)) return std::nullopt;
    std::optional<IpAddr> known;
    if (c.node) {
        auto a = IpAddr::parse(c.node->value);
        // A record from another pool or topology, or on an address fixed for
        // someone else since, is moved.
        if (a && a->family == AF_INET && plan_.index_of(*a)) {
            const std::string *owner = fixed_owner(*a);
            if (!owner || *owner == name) known = a;
        }
        // Our old addr/ record goes with a move, if it is still ours.
        if (auto old = IpAddr::parse(c.node->value)) {
            std::optional<EtcdKv> rec;
            if (!etcd_.get(addr_key(*old), &rec, err)) return std::nullopt;
            if (rec && rec->value == name) c.old_addr = rec;
        }
    }

    auto attempt = [&](const IpAddr &a) -> std::optional<IpAddr> {
        c.addr = a;
        if (c.old_addr && c.old_addr->key == addr_key(a)) c.old_addr.reset();   // staying put
        bool won = false;
        if (!claim(name, c, &won, err)) return std::nullopt;
        if (!won) *retry = true;
        return won ? std::optional<IpAddr>(a) : std::nullopt;
    };

    if (std::optional<IpAddr> want = fixed ? fixed : known) {
        if (!etcd_.get(addr_key(*want), &c.holder, err)) return std::nullopt;
        if (!c.holder || c.holder->value == name) return attempt(*want);
        if (fixed) {
            bool online = false;
            if (!is_online(c.holder->value, &online, err)) return std::nullopt;
            if (online) {
                *err = "fixed address " + want->str() + " is in use by " + c.holder->value;
                return std::nullopt;
            }
            c.evict = c.holder->value;
            return attempt(*want);
        }
        // Our record pointed at an address someone else holds now: a new one.
        c.holder.reset();
    }

    // A new address: a free slot, else an offline node's.  The lowest
    // first, so that a network's addresses stay compact; but every server
    // admitting at that moment aims at that one too, and after a lost race
    // the lowest is where the others aim next: random draws instead (a
    // server that lost 16 in a row refused the node).  Draws, not a list of
    // the free slots: a /8 pool has 16 million.  A nearly full pool that
    // the draws miss falls back to the lowest.
    std::vector<EtcdKv> taken;
    if (!etcd_.list(prefix_ + "addr/", &taken, err)) return std::nullopt;
    std::map<IpAddr, EtcdKv> by_addr;
    for (EtcdKv &kv : taken)
        if (auto a = IpAddr::parse(std::string_view(kv.key).substr(prefix_.size() + 5)))
            by_addr.emplace(*a, std::move(kv));
    auto is_free = [&](size_t i, IpAddr *a) {
        *a = plan_.nth_client_addr4(i);
        if (by_addr.count(*a)) return false;
        const std::string *owner = fixed_owner(*a);
        return !owner || *owner == name;
    };
    const size_t cap = plan_.capacity();
    IpAddr slot;
    if (round > 0 && cap > 0) {
        for (int k = 0; k < kRandomDraws; k++) {
            uint64_t r = 0;
            RAND_bytes(reinterpret_cast<unsigned char *>(&r), sizeof r);
            if (is_free(size_t(r % cap), &slot)) return attempt(slot);
        }
    }
    for (size_t i = 0; i < cap; i++)
        if (is_free(i, &slot)) return attempt(slot);
    std::vector<EtcdKv> online;
    if (!etcd_.list(prefix_ + "online/", &online, err)) return std::nullopt;
    std::set<std::string> online_names;
    for (const EtcdKv &kv : online) online_names.insert(kv.key.substr(prefix_.size() + 7));
    const EtcdKv *oldest = nullptr;
    IpAddr oldest_addr;
    for (const auto &[a, kv] : by_addr) {
        if (!plan_.index_of(a) || online_names.count(kv.value) || kv.value == name) continue;
        if (const std::string *owner = fixed_owner(a); owner && *owner != name) continue;
        if (!oldest || kv.mod_revision < oldest->mod_revision) {
            oldest = &kv;
            oldest_addr = a;
        }
    }
    if (!oldest) {
        *err = "address pool exhausted";
        return std::nullopt;
    }
    c.holder = *oldest;
    c.evict = oldest->value;
    return attempt(oldest_addr);
}

std::optional<IpAddr> EtcdLeases::acquire(const std::string &name, std::string *err) {
    for (int i = 0; i < kAttempts; i++) {
        bool retry = false;
        auto a = try_acquire(name, i, &retry, err);
        if (a || !retry) return a;
    }
    *err = "address allocation lost " + std::to_string(kAttempts) + " races to other servers in a row";
    return std::nullopt;
}

bool EtcdLeases::release(const std::string &name, std::string *err) {
    // Only our own registration: the node may be online on another server
    // already (it moved, or a newer session won there).
    bool done = false;
    return etcd_.txn({{online_key(name), EtcdCompare::Target::value, 0, server_}},
                     {{EtcdOp::Kind::del, online_key(name), {}, 0}}, &done, err);
}

}  // namespace lm
