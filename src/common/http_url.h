// SPDX-License-Identifier: MIT
// An HTTP endpoint as a config file names it (lanmesh.conf(5) [Registry]
// Endpoint): parsed strictly, so a typo is an error with its reason and not a
// connection attempt to somewhere else.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lm {

// "http://host:port" or "https://host:port" (no path, no user info).  The
// port is required: etcd has no well-known one behind a gateway.  Host is a
// name, an IPv4 address or a bracketed IPv6 address.
struct HttpUrl {
    bool tls = false;
    std::string host;        // without brackets
    uint16_t port = 0;

    static std::optional<HttpUrl> parse(std::string_view s, std::string *err);
    std::string str() const;
    bool operator==(const HttpUrl &) const = default;
};

}  // namespace lm
