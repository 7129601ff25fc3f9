// SPDX-License-Identifier: MIT
// Helpers for lanmesh(8)'s text output, which follows wg(8) for peers and
// `ip -s` for counters: human units, and "key value" lines that skip what
// the daemon did not send.
#pragma once
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "common/json_value.h"

namespace lm::cli {

std::string human_bytes(uint64_t b);                       // "1.21 KiB", as wg(8)
std::string human_duration(int64_t secs);                  // "1 hour, 2 minutes, 3 seconds"
std::string human_ago(int64_t when, time_t now);           // "12 seconds ago", "never"
std::string rtt_text(int64_t us);                          // "0.84 ms", "12.3 ms", "215 ms"
std::string short_duration(int64_t secs);                  // "1h2m3s", as ip-xfrm lifetimes
std::string dashed(std::string_view key);                  // "udp_rx" -> "udp-rx"
std::string word(const std::string &s);                    // quoted if it has spaces or is empty

// "label value" pairs for the members that are present, two spaces apart
// (arrays are joined with spaces, booleans are yes/no).
using Labels = std::initializer_list<std::pair<const char *, const char *>>;
std::string pairs(const Json &obj, Labels keys);
// The same as one indented line; nothing if no member is present.
void print_pairs(FILE *f, const Json &obj, Labels keys);

// The members of a flat object as a table: a row of names over a row of
// values, `per_row` columns at a time, as `ip -s link` prints counters.
void print_table(FILE *f, const Json &obj, const char *indent, size_t per_row);

}  // namespace lm::cli
