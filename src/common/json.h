// SPDX-License-Identifier: MIT
// A minimal streaming JSON writer for status output.  Commas and nesting are
// tracked so callers only say what they mean.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lm {

class JsonWriter {
public:
    JsonWriter &begin_object(std::string_view key = {});
    JsonWriter &end_object();
    JsonWriter &begin_array(std::string_view key = {});
    JsonWriter &end_array();
    JsonWriter &kv(std::string_view key, std::string_view v);
    JsonWriter &kv(std::string_view key, const char *v) { return kv(key, std::string_view(v)); }
    JsonWriter &kv(std::string_view key, uint64_t v);
    JsonWriter &kv(std::string_view key, int64_t v);
    JsonWriter &kv(std::string_view key, int v) { return kv(key, int64_t(v)); }
    JsonWriter &kv(std::string_view key, unsigned v) { return kv(key, uint64_t(v)); }
    JsonWriter &kv(std::string_view key, bool v);
    JsonWriter &value(std::string_view v);   // array element
    const std::string &str() const { return out_; }

private:
    void sep(std::string_view key);
    void quote(std::string_view s);
    std::string out_;
    std::vector<bool> first_{true};
};

}  // namespace lm
