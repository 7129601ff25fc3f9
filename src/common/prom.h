// SPDX-License-Identifier: MIT
// The Prometheus text exposition format (version 0.0.4): metric families
// with # HELP and # TYPE lines, samples with escaped label values.  Names
// follow the Prometheus conventions: lanmesh_ prefix, base units (bytes,
// seconds), _total for counters.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace lm {

class PromWriter {
public:
    using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

    // Starts a family; every sample() until the next family belongs to it.
    PromWriter &family(std::string_view name, std::string_view type, std::string_view help);
    PromWriter &sample(Labels labels, uint64_t v);
    PromWriter &sample(Labels labels, int64_t v);
    PromWriter &sample(Labels labels, double v);
    PromWriter &sample(uint64_t v) { return sample({}, v); }
    const std::string &str() const { return out_; }

    // Label values escape backslash, double quote and newline; HELP text
    // escapes backslash and newline (the format's two rules).
    static std::string escape_label(std::string_view v);
    static std::string escape_help(std::string_view v);

private:
    void head(Labels labels);
    std::string out_;
    std::string name_;
};

}  // namespace lm
