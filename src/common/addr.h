// SPDX-License-Identifier: MIT
// IP addresses, prefixes and UDP endpoints as plain values.  Parsing is strict:
// no leading zeros games, no trailing garbage, prefix lengths in range.
#pragma once
#include <netinet/in.h>
#include <sys/socket.h>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace lm {

struct IpAddr {
    int family = 0;            // AF_INET, AF_INET6, or 0 when unset
    uint8_t b[16] = {};        // network order; IPv4 uses b[0..3]

    static std::optional<IpAddr> parse(std::string_view s);
    static IpAddr v4(uint32_t host_order);
    std::string str() const;
    bool is_set() const { return family != 0; }
    size_t len() const { return family == AF_INET ? 4 : 16; }
    uint32_t v4_host() const;  // IPv4 only
    bool operator==(const IpAddr &o) const {
        return family == o.family && std::memcmp(b, o.b, len()) == 0;
    }
    bool operator<(const IpAddr &o) const;
};

// Address classes, one rule for the parser and the control messages.
bool is_unspecified(const IpAddr &a);   // 0.0.0.0, ::
bool is_multicast(const IpAddr &a);     // 224.0.0.0/4, ff00::/8
// A set address that is neither unspecified, multicast nor IPv4's limited
// broadcast 255.255.255.255: something one host can be reached at.
bool is_unicast(const IpAddr &a);

struct Prefix {
    IpAddr addr;               // host bits cleared by parse()
    int len = 0;

    // "198.18.0.0/24", "2001:db8::/64".  A bare address is a host prefix
    // when allow_bare is true.  Host bits set is an error (like ip(8) warns).
    static std::optional<Prefix> parse(std::string_view s, bool allow_bare = false);
    std::string str() const;
    bool contains(const IpAddr &a) const;
    bool operator==(const Prefix &o) const { return len == o.len && addr == o.addr; }
};

struct Endpoint {
    IpAddr addr;
    uint16_t port = 0;

    // "192.0.2.1:4500", "[2001:db8::1]:4500"; default_port used when absent
    // and default_port != 0.
    static std::optional<Endpoint> parse(std::string_view s, uint16_t default_port = 0);
    static Endpoint from_sockaddr(const sockaddr *sa);
    socklen_t to_sockaddr(sockaddr_storage *ss) const;
    std::string str() const;
    bool is_set() const { return addr.is_set(); }
    bool operator==(const Endpoint &o) const { return port == o.port && addr == o.addr; }
};

}  // namespace lm
