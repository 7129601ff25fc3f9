// SPDX-License-Identifier: MIT
// The routes a client's server pushes, and the full tunnel: a pushed route
// that would take the daemon's own traffic to the server or to its direct
// peers (a default route, OpenVPN's def1 halves, anything holding the
// server's address) goes into FwMark's table behind the policy rules of
// net/policy_rules.h, which explains why that scheme (wg-quick's) and not
// pinned host routes (OpenVPN's).  Without those rules such a route is
// refused: installing it would lock the client out of its own server.
#include <errno.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include "client/client.h"
#include "common/log.h"
#include "common/might_block.h"

namespace lm {

void Client::mark_sockets() {
    if (!cfg_.fwmark) {
        mark_error_ = "FwMark = off";
        return;
    }
    std::string e;
    if (!data_.set_fwmark(cfg_.fwmark, &e)) {
        mark_error_ = "data sockets: " + e;
        LM_WARN("cannot mark the data sockets (%s): a pushed default route will be refused", e.c_str());
    }
}

void Client::mark_socket(int fd, const char *what) {
    uint32_t mark = data_.fwmark();
    if (!mark || setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) == 0) return;
    std::string e = std::string(what) + ": SO_MARK: " + strerror(errno);
    if (mark_error_.empty()) LM_WARN("%s: a pushed default route will be refused", e.c_str());
    mark_error_ = e;
}

bool Client::swallows_underlay(const Prefix &p) const {
    // The address in use: with a host name, what it resolved to this time.
    return p.len <= 1 || (server_.addr.is_set() && p.contains(server_.addr));
}

uint32_t Client::route_table_for(const Prefix &p, std::string *why) {
    if (!swallows_underlay(p)) return kMainTable;
    if (!mark_error_.empty()) {
        *why = mark_error_;
        return 0;
    }
    bool first = !rules_.installed(AF_INET) && !rules_.installed(AF_INET6);
    std::string e;
    if (!rules_.install(p.addr.family, cfg_.fwmark, &e)) {
        *why = e;
        return 0;
    }
    // Strict reverse-path filtering checks the server's replies against an
    // unmarked lookup, which now answers with the TUN: they would be
    // dropped.  Loose mode (2) has no such problem (lanmesh.conf(5) FwMark).
    if (first && p.addr.family == AF_INET) {
        might_block(BlockingCall::file, "rp_filter");
        std::ifstream f("/proc/sys/net/ipv4/conf/all/rp_filter");
        int v = 0;
        if (f >> v && v == 1)
            LM_WARN("net.ipv4.conf.all.rp_filter = 1 (strict) drops the server's replies behind a full tunnel; "
                    "set it to 2 (loose)");
    }
    return cfg_.fwmark;
}

// The kernel's routes change with the workers running (netlink blocks,
// common/might_block.h); only the overlay they read changes inside a hold.
void Client::remove_routes() {
    workers_free([&] {
        std::string err;
        for (auto it = kernel_routes_.rbegin(); it != kernel_routes_.rend(); ++it)
            if (!nl_.route_del(dev_, it->dst, it->via.is_set() ? &it->via : nullptr, &err, it->table))
                LM_WARN("%s", err.c_str());
        kernel_routes_.clear();
        return true;
    });
    set_overlay();
}

void Client::sync_routes(const std::vector<std::pair<Prefix, IpAddr>> &want) {
    workers_free([&] {
        sync_kernel_routes(want);
        return true;
    });
    set_overlay();
}

void Client::sync_kernel_routes(const std::vector<std::pair<Prefix, IpAddr>> &want) {
    std::string err;
    for (auto it = kernel_routes_.begin(); it != kernel_routes_.end();) {
        if (std::find(want.begin(), want.end(), std::pair{it->dst, it->via}) != want.end()) {
            ++it;
            continue;
        }
        if (!nl_.route_del(dev_, it->dst, it->via.is_set() ? &it->via : nullptr, &err, it->table))
            LM_WARN("route update: %s", err.c_str());
        it = kernel_routes_.erase(it);
    }
    std::vector<std::pair<Prefix, std::string>> refused;
    for (const auto &[dst, gw] : want) {
        if (std::any_of(kernel_routes_.begin(), kernel_routes_.end(),
                        [&](const KernelRoute &k) { return k.dst == dst && k.via == gw; }))
            continue;
        std::string why;
        uint32_t table = route_table_for(dst, &why);
        if (!table) {
            refused.push_back({dst, why});
            continue;
        }
        if (!nl_.route_add(dev_, dst, gw.is_set() ? &gw : nullptr, &err, table)) {
            LM_WARN("route from the server: %s", err.c_str());
            continue;
        }
        kernel_routes_.push_back({dst, gw, table});
    }
    // Said once per route, not at every reconnect.
    for (const auto &r : refused) {
        bool known = std::any_of(refused_routes_.begin(), refused_routes_.end(),
                                 [&](const auto &o) { return o.first == r.first; });
        if (!known)
            LM_WARN("route %s from the server refused: it would take this daemon's own traffic to %s into the "
                    "tunnel, and that traffic cannot be kept out (%s)",
                    r.first.str().c_str(), server_str().c_str(), r.second.c_str());
    }
    refused_routes_ = std::move(refused);
    route_warning_.clear();
    if (!refused_routes_.empty()) {
        const auto &r = refused_routes_.front();
        route_warning_ = "route " + r.first.str() + " from the server refused: it holds the server's address or "
                         "every peer's, and the daemon's own traffic cannot be kept out of the tunnel (" +
                         r.second + ")";
        if (refused_routes_.size() > 1)
            route_warning_ += " (and " + std::to_string(refused_routes_.size() - 1) + " more)";
    }
}

}  // namespace lm
