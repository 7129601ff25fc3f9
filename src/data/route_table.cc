// SPDX-License-Identifier: MIT
#include "data/route_table.h"

namespace lm {

void RouteTable::add(const Prefix &p, Tunnel *t) {
    if (p.addr.family == AF_INET && p.len == 32) {
        hosts4_[p.addr.v4_host()] = t;
    } else if (p.addr.family == AF_INET6 && p.len == 128) {
        hosts6_[key6(p.addr)] = t;
    } else {
        remove(p);
        nets_.emplace_back(p, t);
        std::stable_sort(nets_.begin(), nets_.end(),
                         [](auto &a, auto &b) { return a.first.len > b.first.len; });
    }
}

void RouteTable::remove(const Prefix &p) {
    if (p.addr.family == AF_INET && p.len == 32) {
        hosts4_.erase(p.addr.v4_host());
    } else if (p.addr.family == AF_INET6 && p.len == 128) {
        hosts6_.erase(key6(p.addr));
    } else {
        std::erase_if(nets_, [&](auto &e) { return e.first == p; });
    }
}

void RouteTable::remove(const Prefix &p, const Tunnel *t) {
    bool host = (p.addr.family == AF_INET && p.len == 32) || (p.addr.family == AF_INET6 && p.len == 128);
    if (host) {
        if (lookup(p.addr) == t) remove(p);
        return;
    }
    std::erase_if(nets_, [&](auto &e) { return e.first == p && e.second == t; });
}

void RouteTable::remove_tunnel(const Tunnel *t) {
    std::erase_if(hosts4_, [&](auto &e) { return e.second == t; });
    std::erase_if(hosts6_, [&](auto &e) { return e.second == t; });
    std::erase_if(nets_, [&](auto &e) { return e.second == t; });
}

Tunnel *RouteTable::lookup(const IpAddr &dst) const {
    if (dst.family == AF_INET) {
        auto it = hosts4_.find(dst.v4_host());
        if (it != hosts4_.end()) return it->second;
    } else if (dst.family == AF_INET6) {
        auto it = hosts6_.find(key6(dst));
        if (it != hosts6_.end()) return it->second;
    }
    for (auto &[p, t] : nets_)
        if (p.contains(dst)) return t;
    return nullptr;
}

}  // namespace lm
