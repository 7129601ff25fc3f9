// SPDX-License-Identifier: MIT
#include "common/prom.h"

#include <cinttypes>
#include <cstdio>

namespace lm {

std::string PromWriter::escape_label(std::string_view v) {
    std::string o;
    o.reserve(v.size());
    for (char c : v) {
        if (c == '\\') o += "\\\\";
        else if (c == '"') o += "\\\"";
        else if (c == '\n') o += "\\n";
        else o += c;
    }
    return o;
}

std::string PromWriter::escape_help(std::string_view v) {
    std::string o;
    for (char c : v) {
        if (c == '\\') o += "\\\\";
        else if (c == '\n') o += "\\n";
        else o += c;
    }
    return o;
}

PromWriter &PromWriter::family(std::string_view name, std::string_view type, std::string_view help) {
    name_ = name;
    out_ += "# HELP " + name_ + " " + escape_help(help) + "\n";
    out_ += "# TYPE " + name_ + " " + std::string(type) + "\n";
    return *this;
}

void PromWriter::head(Labels labels) {
    out_ += name_;
    if (labels.size() == 0) {
        out_ += ' ';
        return;
    }
    char sep = '{';
    for (const auto &[k, v] : labels) {
        out_ += sep;
        out_ += k;
        out_ += "=\"" + escape_label(v) + "\"";
        sep = ',';
    }
    out_ += "} ";
}

PromWriter &PromWriter::sample(Labels labels, uint64_t v) {
    head(labels);
    out_ += std::to_string(v) + "\n";
    return *this;
}

PromWriter &PromWriter::sample(Labels labels, int64_t v) {
    head(labels);
    out_ += std::to_string(v) + "\n";
    return *this;
}

PromWriter &PromWriter::sample(Labels labels, double v) {
    head(labels);
    char b[64];
    std::snprintf(b, sizeof b, "%.6g", v);
    out_ += b;
    out_ += '\n';
    return *this;
}

}  // namespace lm
