// SPDX-License-Identifier: MIT
#include "cli/text.h"

#include <algorithm>
#include <cstdio>
#include <vector>

namespace lm::cli {

std::string human_bytes(uint64_t b) {
    static const char *units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    if (b < 1024) return std::to_string(b) + " B";
    double v = double(b) / 1024;
    int u = 0;
    for (; v >= 1024 && u < 4; u++) v /= 1024;
    char s[32];
    std::snprintf(s, sizeof s, "%.2f %s", v, units[u]);
    return s;
}

std::string human_duration(int64_t secs) {
    if (secs <= 0) return "0 seconds";
    static const std::pair<int64_t, const char *> units[] = {
        {86400 * 365, "year"}, {86400, "day"}, {3600, "hour"}, {60, "minute"}, {1, "second"}};
    std::string s;
    for (auto [size, name] : units) {
        int64_t n = secs / size;
        secs %= size;
        if (!n) continue;
        s += (s.empty() ? "" : ", ") + std::to_string(n) + " " + name + (n == 1 ? "" : "s");
    }
    return s;
}

std::string rtt_text(int64_t us) {
    char b[32];
    double ms = double(us) / 1000.0;
    std::snprintf(b, sizeof b, ms < 10 ? "%.2f ms" : ms < 100 ? "%.1f ms" : "%.0f ms", ms);
    return b;
}

std::string human_ago(int64_t when, time_t now) {
    if (when <= 0) return "never";
    if (now - when <= 0) return "now";
    return human_duration(now - when) + " ago";
}

std::string short_duration(int64_t secs) {
    if (secs <= 0) return "0s";
    std::string s;
    for (auto [size, unit] : {std::pair<int64_t, char>{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}}) {
        if (secs >= size) s += std::to_string(secs / size) + unit;
        secs %= size;
    }
    return s;
}

std::string dashed(std::string_view key) {
    std::string s(key);
    std::replace(s.begin(), s.end(), '_', '-');
    return s;
}

std::string word(const std::string &s) {
    if (!s.empty() && s.find_first_of(" \t\"") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\\\"") : std::string(1, c);
    return q + "\"";
}

static std::string value_text(const Json &v) {
    if (v.type == Json::Type::boolean) return v.b ? "yes" : "no";
    if (!v.is_array()) return word(v.text());
    std::string s;
    for (const auto &item : v.items) s += (s.empty() ? "" : " ") + word(item.text());
    return s.empty() ? "none" : s;
}

std::string pairs(const Json &obj, Labels keys) {
    std::string line;
    for (auto [key, label] : keys) {
        const Json *v = obj.get(key);
        if (!v || (v->type == Json::Type::string && v->s.empty())) continue;
        line += std::string(line.empty() ? "" : "  ") + label + " " + value_text(*v);
    }
    return line;
}

void print_pairs(FILE *f, const Json &obj, Labels keys) {
    std::string line = pairs(obj, keys);
    if (!line.empty()) std::fprintf(f, "    %s\n", line.c_str());
}

void print_table(FILE *f, const Json &obj, const char *indent, size_t per_row) {
    const auto &m = obj.members;
    for (size_t start = 0; start < m.size(); start += per_row) {
        size_t end = std::min(m.size(), start + per_row);
        std::string names = indent, values = indent;
        for (size_t k = start; k < end; k++) {
            std::string n = dashed(m[k].first), v = m[k].second.text();
            size_t w = std::max(n.size(), v.size()) + 2;
            n.resize(w, ' ');
            v.resize(w, ' ');
            names += n;
            values += v;
        }
        while (!names.empty() && names.back() == ' ') names.pop_back();
        while (!values.empty() && values.back() == ' ') values.pop_back();
        std::fprintf(f, "%s\n%s\n", names.c_str(), values.c_str());
    }
}

}  // namespace lm::cli
