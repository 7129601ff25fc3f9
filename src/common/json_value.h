// SPDX-License-Identifier: MIT
// JSON as others send it to us: lanmesh(8) from the daemon, the daemon from
// etcd's JSON gateway (registry/).  Parsed strictly (RFC 8259, nesting
// bounded), kept in document order, and written back out compact (-j) or
// indented (-p).  Numbers keep their text, so a 64-bit counter
// passes through unchanged.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lm {

struct Json {
    enum class Type { null, boolean, number, string, array, object };
    Type type = Type::null;
    bool b = false;
    std::string s;                                      // string value or number text
    std::vector<Json> items;                            // array
    std::vector<std::pair<std::string, Json>> members;  // object, in order

    bool is_object() const { return type == Type::object; }
    bool is_array() const { return type == Type::array; }
    const Json *get(std::string_view key) const;
    // Renderers' accessors: a missing member or one of another type gives
    // the fallback.  Strings come back escaped for a terminal
    // (common/printable.h): the daemon passes on names from certificates.
    std::string str(std::string_view key, const std::string &fallback = "") const;
    uint64_t u64(std::string_view key, uint64_t fallback = 0) const;
    int64_t i64(std::string_view key, int64_t fallback = 0) const;
    bool flag(std::string_view key) const;
    // A scalar as text: strings escaped as str() does, numbers and literals
    // as written.
    std::string text() const;
};

constexpr int kMaxJsonDepth = 64;

bool parse_json(std::string_view in, Json *out, std::string *err);
std::string dump_json(const Json &v, bool pretty);

}  // namespace lm
