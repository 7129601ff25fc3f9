// SPDX-License-Identifier: MIT
#include "common/addr.h"

#include <arpa/inet.h>

#include <charconv>

namespace lm {

std::optional<IpAddr> IpAddr::parse(std::string_view s) {
    if (s.empty() || s.size() > INET6_ADDRSTRLEN) return std::nullopt;
    std::string z(s);
    IpAddr a;
    if (inet_pton(AF_INET, z.c_str(), a.b) == 1) {
        a.family = AF_INET;
        return a;
    }
    if (inet_pton(AF_INET6, z.c_str(), a.b) == 1) {
        a.family = AF_INET6;
        return a;
    }
    return std::nullopt;
}

IpAddr IpAddr::v4(uint32_t h) {
    IpAddr a;
    a.family = AF_INET;
    a.b[0] = h >> 24;
    a.b[1] = h >> 16;
    a.b[2] = h >> 8;
    a.b[3] = h;
    return a;
}

uint32_t IpAddr::v4_host() const {
    return uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | b[3];
}

bool IpAddr::operator<(const IpAddr &o) const {
    if (family != o.family) return family < o.family;
    return std::memcmp(b, o.b, len()) < 0;
}

std::string IpAddr::str() const {
    char buf[INET6_ADDRSTRLEN] = "";
    if (family == 0) return "-";
    inet_ntop(family, b, buf, sizeof buf);
    return buf;
}

std::optional<Prefix> Prefix::parse(std::string_view s, bool allow_bare) {
    Prefix p;
    auto slash = s.find('/');
    auto a = IpAddr::parse(s.substr(0, slash));
    if (!a) return std::nullopt;
    int max = a->family == AF_INET ? 32 : 128;
    if (slash == std::string_view::npos) {
        if (!allow_bare) return std::nullopt;
        p.len = max;
    } else {
        auto num = s.substr(slash + 1);
        if (num.empty() || num.size() > 3 || (num.size() > 1 && num[0] == '0')) return std::nullopt;
        auto [ptr, ec] = std::from_chars(num.data(), num.data() + num.size(), p.len);
        if (ec != std::errc() || ptr != num.data() + num.size() || p.len < 0 || p.len > max)
            return std::nullopt;
    }
    p.addr = *a;
    // Host bits must be clear: "198.18.0.1/24" is almost always a typo.
    for (int i = 0; i < (int)a->len(); i++) {
        int keep = std::min(8, std::max(0, p.len - i * 8));
        uint8_t mask = keep == 0 ? 0 : uint8_t(0xff << (8 - keep));
        if (a->b[i] & ~mask) return std::nullopt;
    }
    return p;
}

std::string Prefix::str() const { return addr.str() + "/" + std::to_string(len); }

bool Prefix::contains(const IpAddr &a) const {
    if (a.family != addr.family) return false;
    int full = len / 8, rest = len % 8;
    if (std::memcmp(a.b, addr.b, full) != 0) return false;
    if (rest == 0) return true;
    uint8_t mask = uint8_t(0xff << (8 - rest));
    return (a.b[full] & mask) == (addr.b[full] & mask);
}

std::optional<Endpoint> Endpoint::parse(std::string_view s, uint16_t default_port) {
    Endpoint e;
    std::string_view host = s, port;
    if (!s.empty() && s[0] == '[') {
        auto close = s.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        host = s.substr(1, close - 1);
        auto rest = s.substr(close + 1);
        if (!rest.empty()) {
            if (rest[0] != ':') return std::nullopt;
            port = rest.substr(1);
            if (port.empty()) return std::nullopt;
        }
    } else if (s.find(':') != s.rfind(':')) {
        host = s;  // bare IPv6 without port
    } else if (auto colon = s.find(':'); colon != std::string_view::npos) {
        host = s.substr(0, colon);
        port = s.substr(colon + 1);
        if (port.empty()) return std::nullopt;
    }
    auto a = IpAddr::parse(host);
    if (!a) return std::nullopt;
    if (s[0] == '[' && a->family != AF_INET6) return std::nullopt;
    e.addr = *a;
    if (!port.empty()) {
        unsigned v = 0;
        auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
        if (ec != std::errc() || ptr != port.data() + port.size() || v == 0 || v > 65535)
            return std::nullopt;
        e.port = uint16_t(v);
    } else {
        if (default_port == 0) return std::nullopt;
        e.port = default_port;
    }
    return e;
}

Endpoint Endpoint::from_sockaddr(const sockaddr *sa) {
    Endpoint e;
    if (sa->sa_family == AF_INET) {
        auto *s4 = reinterpret_cast<const sockaddr_in *>(sa);
        e.addr.family = AF_INET;
        std::memcpy(e.addr.b, &s4->sin_addr, 4);
        e.port = ntohs(s4->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        auto *s6 = reinterpret_cast<const sockaddr_in6 *>(sa);
        // A v4-mapped address on a dual-stack socket is really IPv4.
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
            e.addr.family = AF_INET;
            std::memcpy(e.addr.b, s6->sin6_addr.s6_addr + 12, 4);
        } else {
            e.addr.family = AF_INET6;
            std::memcpy(e.addr.b, &s6->sin6_addr, 16);
        }
        e.port = ntohs(s6->sin6_port);
    }
    return e;
}

socklen_t Endpoint::to_sockaddr(sockaddr_storage *ss) const {
    std::memset(ss, 0, sizeof *ss);
    if (addr.family == AF_INET) {
        auto *s4 = reinterpret_cast<sockaddr_in *>(ss);
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        std::memcpy(&s4->sin_addr, addr.b, 4);
        return sizeof *s4;
    }
    auto *s6 = reinterpret_cast<sockaddr_in6 *>(ss);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    std::memcpy(&s6->sin6_addr, addr.b, 16);
    return sizeof *s6;
}

std::string Endpoint::str() const {
    if (addr.family == AF_INET6) return "[" + addr.str() + "]:" + std::to_string(port);
    return addr.str() + ":" + std::to_string(port);
}

bool is_unspecified(const IpAddr &a) {
    if (!a.is_set()) return false;
    for (size_t i = 0; i < a.len(); i++)
        if (a.b[i]) return false;
    return true;
}

bool is_multicast(const IpAddr &a) {
    if (a.family == AF_INET) return (a.b[0] & 0xf0) == 0xe0;
    return a.family == AF_INET6 && a.b[0] == 0xff;
}

bool is_unicast(const IpAddr &a) {
    if (a.family != AF_INET && a.family != AF_INET6) return false;
    if (is_unspecified(a) || is_multicast(a)) return false;
    return !(a.family == AF_INET && a.v4_host() == 0xffffffffu);
}

}  // namespace lm
