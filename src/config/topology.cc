// SPDX-License-Identifier: MIT
#include "config/topology.h"

#include <algorithm>


namespace lm {

namespace {

constexpr size_t kMaxPool6Size = 65536;  // OpenVPN's IFCONFIG_POOL_MAX

// a + n for an IPv6 address, carrying across bytes.
IpAddr add6(const IpAddr &a, uint64_t n) {
    IpAddr r = a;
    unsigned carry = 0;
    for (int i = 15; i >= 0 && (n || carry); i--) {
        unsigned sum = r.b[i] + unsigned(n & 0xff) + carry;
        r.b[i] = uint8_t(sum);
        carry = sum >> 8;
        n >>= 8;
    }
    return r;
}

// The low 64 bits of an IPv6 address as a number.
uint64_t low64(const IpAddr &a) {
    uint64_t v = 0;
    for (int i = 8; i < 16; i++) v = v << 8 | a.b[i];
    return v;
}

bool check_pool6(const std::optional<Prefix> &pool6, std::string *err) {
    if (!pool6) return true;
    if (pool6->addr.family != AF_INET6) {
        *err = "IPv6 pool " + pool6->str() + " is not an IPv6 prefix";
        return false;
    }
    if (pool6->len < kMinPool6Len || pool6->len > kMaxPool6Len) {
        *err = "IPv6 pool " + pool6->str() + ": prefix length must be between /" +
               std::to_string(kMinPool6Len) + " and /" + std::to_string(kMaxPool6Len);
        return false;
    }
    return true;
}

}  // namespace

int max_pool_len(Topology t) { return t == Topology::subnet ? kMaxPoolLenSubnet : kMaxPoolLenP2p; }

namespace {

bool check_pool(Topology t, const Prefix &pool, std::string *err) {
    if (pool.addr.family != AF_INET) {
        *err = "pool " + pool.str() + " is not an IPv4 prefix";
        return false;
    }
    int max = max_pool_len(t);
    if (pool.len < kMinPoolLen || pool.len > max) {
        *err = "pool " + pool.str() + ": prefix length must be between /" +
               std::to_string(kMinPoolLen) + " and /" + std::to_string(max) + " for topology " +
               to_string(t);
        return false;
    }
    return true;
}

}  // namespace

TopologyPlan::TopologyPlan(Topology t, Prefix pool, std::optional<Prefix> pool6)
    : topology_(t), pool_(pool), pool6_(std::move(pool6)) {
    std::string ignored;
    valid_ = check_pool(t, pool_, &ignored) && check_pool6(pool6_, &ignored);
    if (!valid_) return;
    net_ = pool_.addr.v4_host();
    bcast_ = net_ | ((1u << (32 - pool_.len)) - 1);
    capacity_ = capacity4();
    if (pool6_) capacity_ = std::min(capacity_, capacity6());
}

bool TopologyPlan::validate(Topology t, const Prefix &pool, const std::optional<Prefix> &pool6,
                            std::string *err) {
    // Within these bounds every topology has at least one client slot.
    return check_pool(t, pool, err) && check_pool6(pool6, err);
}

// OpenVPN (helper.c): net30/p2p pools run from network+4 to broadcast-4, the
// last four kept back except on a /29 where nothing could be spared; net30
// cuts that range into /30 blocks.  subnet runs from network+2 to broadcast-1.
size_t TopologyPlan::capacity4() const {
    uint64_t net = net_, bcast = bcast_;
    switch (topology_) {
    case Topology::net30: {
        uint64_t end = bcast - (pool_.len == 29 ? 0 : 4);
        uint64_t base = net + 4;
        return end < base ? 0 : size_t(((end | 3) + 1 - base) >> 2);
    }
    case Topology::p2p: {
        uint64_t end = bcast - (pool_.len == 29 ? 0 : 4);
        uint64_t start = net + 4;
        return end < start ? 0 : size_t(end - start + 1);
    }
    case Topology::subnet:
        return bcast - net < 3 ? 0 : size_t(bcast - net - 2);
    }
    return 0;
}

// OpenVPN (helper.c, pool.c): clients start at ::1000, or at ::2 for pools of
// /112 and smaller where ::1000 would not fit; at most 65536 slots.
uint64_t TopologyPlan::offset6() const { return pool6_->len < 112 ? 0x1000 : 2; }

size_t TopologyPlan::capacity6() const {
    if (pool6_->len < 112) return kMaxPool6Size;
    return size_t((uint64_t(1) << (128 - pool6_->len)) - offset6());
}

IpAddr TopologyPlan::nth_client_addr4(size_t i) const {
    if (i >= capacity_) return IpAddr();
    switch (topology_) {
    case Topology::net30: return IpAddr::v4(uint32_t(net_ + 4 + 4 * i + 2));
    case Topology::p2p: return IpAddr::v4(uint32_t(net_ + 4 + i));
    case Topology::subnet: return IpAddr::v4(uint32_t(net_ + 2 + i));
    }
    return IpAddr();
}

IpAddr TopologyPlan::nth_client_addr6(size_t i) const {
    if (!pool6_ || i >= capacity_) return IpAddr();
    return add6(pool6_->addr, offset6() + i);
}

std::optional<size_t> TopologyPlan::index_of(const IpAddr &a) const {
    if (!valid_) return std::nullopt;
    uint64_t i;
    if (a.family == AF_INET) {
        if (!pool_.contains(a)) return std::nullopt;
        uint64_t h = a.v4_host();
        switch (topology_) {
        case Topology::net30:
            // Only b+2 of each block is a client address; b+1 is the
            // client's gateway, b and b+3 the block's network and broadcast.
            if (h < net_ + 4 || (h - net_ - 4) % 4 != 2) return std::nullopt;
            i = (h - net_ - 4) / 4;
            break;
        case Topology::p2p:
            if (h < net_ + 4) return std::nullopt;
            i = h - net_ - 4;
            break;
        case Topology::subnet:
            if (h < net_ + 2) return std::nullopt;
            i = h - net_ - 2;
            break;
        default:
            return std::nullopt;
        }
    } else if (a.family == AF_INET6) {
        if (!pool6_ || !pool6_->contains(a)) return std::nullopt;
        // The pool is /64 or longer, so the host part is within the low 64 bits.
        uint64_t host = low64(a) - low64(pool6_->addr);
        if (host < offset6()) return std::nullopt;
        i = host - offset6();
    } else {
        return std::nullopt;
    }
    if (i >= capacity_) return std::nullopt;
    return size_t(i);
}

IpAddr TopologyPlan::server_addr4() const { return IpAddr::v4(net_ + 1); }

std::optional<IpAddr> TopologyPlan::server_addr6() const {
    if (!pool6_) return std::nullopt;
    return add6(pool6_->addr, 1);
}

IfaceLayout TopologyPlan::server_layout() const {
    IfaceLayout l;
    l.local4 = server_addr4();
    if (topology_ == Topology::subnet) {
        l.prefix4 = pool_.len;
    } else {
        // The server's end of the point-to-point link is .1 and the far end
        // .2, an address no client holds: it is only a label for "into the
        // tunnel", as a TUN device does no neighbour resolution.
        l.prefix4 = 32;
        l.peer4 = IpAddr::v4(net_ + 2);
        l.routes.emplace_back(pool_, l.peer4);
    }
    if (pool6_) {
        l.local6 = *server_addr6();
        l.prefix6 = pool6_->len;
    }
    return l;
}

IpAddr TopologyPlan::client_gateway(const Lease &l) const {
    if (topology_ == Topology::net30) return IpAddr::v4(l.addr4.v4_host() - 1);  // b+1
    return server_addr4();
}

IpAddr TopologyPlan::network_gateway(const Prefix &net, const IpAddr &client4) const {
    if (net.addr.family != AF_INET) return {};
    if (topology_ != Topology::subnet) return server_layout().peer4;
    return client4;
}

IfaceLayout TopologyPlan::client_layout(const Lease &l, bool c2c,
                                        const std::vector<Prefix> &pushed) const {
    IfaceLayout out;
    IpAddr gw = client_gateway(l);
    out.local4 = l.addr4;
    switch (topology_) {
    case Topology::net30:
        out.prefix4 = 32;
        out.peer4 = gw;
        if (c2c)
            out.routes.emplace_back(pool_, gw);
        else
            out.routes.emplace_back(Prefix{server_addr4(), 32}, gw);
        break;
    case Topology::p2p:
        out.prefix4 = 32;
        out.peer4 = gw;
        if (c2c) out.routes.emplace_back(pool_, gw);
        break;
    case Topology::subnet:
        out.prefix4 = pool_.len;
        break;
    }
    std::optional<IpAddr> gw6 = server_addr6();
    if (pool6_ && l.addr6.is_set()) {
        out.local6 = l.addr6;
        out.prefix6 = pool6_->len;
    }
    for (const Prefix &p : pushed) {
        bool dup = std::any_of(out.routes.begin(), out.routes.end(),
                               [&](const auto &r) { return r.first == p; });
        if (dup) continue;
        if (p.addr.family == AF_INET)
            out.routes.emplace_back(p, gw);
        else
            // Without an IPv6 pool the client has no IPv6 next hop; on a TUN
            // device a route without gateway works just as well.
            out.routes.emplace_back(p, gw6 ? *gw6 : IpAddr());
    }
    return out;
}

}  // namespace lm
