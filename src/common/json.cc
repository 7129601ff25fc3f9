// SPDX-License-Identifier: MIT
#include "common/json.h"

#include <cstdio>

#include "common/printable.h"

namespace lm {

void JsonWriter::quote(std::string_view s) { append_json_string(&out_, s); }

void JsonWriter::sep(std::string_view key) {
    if (!first_.back()) out_ += ',';
    first_.back() = false;
    if (!key.empty()) {
        quote(key);
        out_ += ':';
    }
}

JsonWriter &JsonWriter::begin_object(std::string_view key) {
    sep(key);
    out_ += '{';
    first_.push_back(true);
    return *this;
}
JsonWriter &JsonWriter::end_object() {
    out_ += '}';
    first_.pop_back();
    return *this;
}
JsonWriter &JsonWriter::begin_array(std::string_view key) {
    sep(key);
    out_ += '[';
    first_.push_back(true);
    return *this;
}
JsonWriter &JsonWriter::end_array() {
    out_ += ']';
    first_.pop_back();
    return *this;
}
JsonWriter &JsonWriter::kv(std::string_view key, std::string_view v) {
    sep(key);
    quote(v);
    return *this;
}
JsonWriter &JsonWriter::kv(std::string_view key, uint64_t v) {
    sep(key);
    out_ += std::to_string(v);
    return *this;
}
JsonWriter &JsonWriter::kv(std::string_view key, int64_t v) {
    sep(key);
    out_ += std::to_string(v);
    return *this;
}
JsonWriter &JsonWriter::kv(std::string_view key, bool v) {
    sep(key);
    out_ += v ? "true" : "false";
    return *this;
}
JsonWriter &JsonWriter::value(std::string_view v) {
    sep({});
    quote(v);
    return *this;
}

}  // namespace lm
