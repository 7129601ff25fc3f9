// SPDX-License-Identifier: MIT
// Inner destination -> peer.  Host routes (leases) in a hash map; networks
// behind peers in a short list searched longest prefix first.
#pragma once
#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "common/addr.h"

namespace lm {

struct Tunnel;

class RouteTable {
public:
    void add(const Prefix &p, Tunnel *t);
    void remove_tunnel(const Tunnel *t);
    void remove(const Prefix &p);
    // Removes p only while it still leads to t (a newer session for the same
    // client may own it by now).
    void remove(const Prefix &p, const Tunnel *t);
    Tunnel *lookup(const IpAddr &dst) const;
    size_t size() const { return hosts4_.size() + hosts6_.size() + nets_.size(); }

private:
    struct Key6 {
        uint64_t hi, lo;
        bool operator==(const Key6 &o) const { return hi == o.hi && lo == o.lo; }
    };
    struct Hash6 {
        size_t operator()(const Key6 &k) const { return k.hi * 0x9e3779b97f4a7c15ull ^ k.lo; }
    };
    static Key6 key6(const IpAddr &a) {
        Key6 k;
        std::memcpy(&k.hi, a.b, 8);
        std::memcpy(&k.lo, a.b + 8, 8);
        return k;
    }
    std::unordered_map<uint32_t, Tunnel *> hosts4_;
    std::unordered_map<Key6, Tunnel *, Hash6> hosts6_;
    std::vector<std::pair<Prefix, Tunnel *>> nets_;   // sorted by length, longest first
};

}  // namespace lm
