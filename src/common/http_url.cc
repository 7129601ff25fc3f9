// SPDX-License-Identifier: MIT
#include "common/http_url.h"

#include <sys/socket.h>

#include "common/addr.h"

namespace lm {

namespace {

bool parse_port(std::string_view s, uint16_t *out) {
    if (s.empty() || s.size() > 5) return false;
    uint32_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + uint32_t(c - '0');
    }
    if (v == 0 || v > 65535) return false;
    *out = uint16_t(v);
    return true;
}

}  // namespace

std::optional<HttpUrl> HttpUrl::parse(std::string_view s, std::string *err) {
    HttpUrl u;
    const std::string_view whole = s;
    if (s.substr(0, 7) == "http://") {
        s.remove_prefix(7);
    } else if (s.substr(0, 8) == "https://") {
        u.tls = true;
        s.remove_prefix(8);
    } else {
        *err = "'" + std::string(whole) + "': expected http://HOST:PORT or https://HOST:PORT";
        return std::nullopt;
    }
    std::string_view host, port;
    if (!s.empty() && s.front() == '[') {
        size_t close = s.find(']');
        if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') {
            *err = "'" + std::string(whole) + "': an IPv6 address is written [ADDR]:PORT";
            return std::nullopt;
        }
        host = s.substr(1, close - 1);
        port = s.substr(close + 2);
        auto a = IpAddr::parse(host);
        if (!a || a->family != AF_INET6) {
            *err = "'" + std::string(whole) + "': '" + std::string(host) + "' is no IPv6 address";
            return std::nullopt;
        }
    } else {
        size_t colon = s.find(':');
        if (colon == std::string_view::npos) {
            *err = "'" + std::string(whole) + "': the port is missing (etcd listens on 2379)";
            return std::nullopt;
        }
        host = s.substr(0, colon);
        port = s.substr(colon + 1);
        if (host.empty() || host.size() > 253) {
            *err = "'" + std::string(whole) + "': the host is missing or too long";
            return std::nullopt;
        }
        for (char c : host) {
            bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
            if (!ok) {
                *err = "'" + std::string(whole) + "': a host name has only letters, digits, '-' and '.'";
                return std::nullopt;
            }
        }
    }
    uint16_t p = 0;
    if (!parse_port(port, &p)) {
        *err = "'" + std::string(whole) + "': the port must be a number from 1 to 65535, with nothing after it";
        return std::nullopt;
    }
    u.host = std::string(host);
    u.port = p;
    return u;
}

std::string HttpUrl::str() const {
    std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    return (tls ? "https://" : "http://") + h + ":" + std::to_string(port);
}

}  // namespace lm
