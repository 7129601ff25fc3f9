// SPDX-License-Identifier: MIT
#include "common/json_value.h"

#include <cstdio>
#include <cstdlib>

#include "common/printable.h"

namespace lm {

namespace {

class Parser {
public:
    explicit Parser(std::string_view in) : in_(in) {}
    bool document(Json *out, std::string *err);

private:
    bool value(Json *out, int depth);
    bool string(std::string *out);
    bool number(std::string *out);
    bool literal(const char *word);
    bool hex4(uint32_t *out);
    void space() {
        while (i_ < in_.size() && (in_[i_] == ' ' || in_[i_] == '\t' || in_[i_] == '\n' || in_[i_] == '\r')) i_++;
    }
    bool fail(const char *why) {
        if (!why_) why_ = why;
        return false;
    }
    bool eat(char c) {
        if (i_ < in_.size() && in_[i_] == c) return ++i_, true;
        return false;
    }
    static bool digit(char c) { return c >= '0' && c <= '9'; }

    std::string_view in_;
    size_t i_ = 0;
    const char *why_ = nullptr;
};

bool Parser::document(Json *out, std::string *err) {
    space();
    bool ok = value(out, 0);
    space();
    if (ok && i_ != in_.size()) ok = fail("trailing characters");
    if (!ok) *err = std::string(why_ ? why_ : "invalid JSON") + " at offset " + std::to_string(i_);
    return ok;
}

bool Parser::value(Json *out, int depth) {
    if (i_ == in_.size()) return fail("unexpected end");
    char c = in_[i_];
    if (c == '{' || c == '[') {
        if (depth >= kMaxJsonDepth) return fail("nested too deeply");
        bool obj = c == '{';
        out->type = obj ? Json::Type::object : Json::Type::array;
        i_++;
        space();
        if (eat(obj ? '}' : ']')) return true;
        for (;;) {
            space();
            if (obj) {
                std::string key;
                if (i_ == in_.size() || in_[i_] != '"') return fail("expected a member name");
                if (!string(&key)) return false;
                space();
                if (!eat(':')) return fail("expected ':'");
                space();
                out->members.emplace_back(std::move(key), Json{});
                if (!value(&out->members.back().second, depth + 1)) return false;
            } else {
                out->items.emplace_back();
                if (!value(&out->items.back(), depth + 1)) return false;
            }
            space();
            if (eat(obj ? '}' : ']')) return true;
            if (!eat(',')) return fail(obj ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
    if (c == '"') {
        out->type = Json::Type::string;
        return string(&out->s);
    }
    if (c == 't' || c == 'f') {
        out->type = Json::Type::boolean;
        out->b = c == 't';
        return literal(out->b ? "true" : "false");
    }
    if (c == 'n') return literal("null");
    out->type = Json::Type::number;
    return number(&out->s);
}

bool Parser::literal(const char *word) {
    std::string_view w(word);
    if (in_.substr(i_, w.size()) != w) return fail("invalid literal");
    i_ += w.size();
    return true;
}

bool Parser::number(std::string *out) {
    size_t start = i_;
    eat('-');
    if (eat('0')) {
    } else if (i_ < in_.size() && digit(in_[i_])) {
        while (i_ < in_.size() && digit(in_[i_])) i_++;
    } else {
        return fail("invalid value");
    }
    if (eat('.')) {
        if (i_ == in_.size() || !digit(in_[i_])) return fail("invalid number");
        while (i_ < in_.size() && digit(in_[i_])) i_++;
    }
    if (eat('e') || eat('E')) {
        if (!eat('+')) eat('-');
        if (i_ == in_.size() || !digit(in_[i_])) return fail("invalid number");
        while (i_ < in_.size() && digit(in_[i_])) i_++;
    }
    *out = std::string(in_.substr(start, i_ - start));
    return true;
}

bool Parser::hex4(uint32_t *out) {
    if (in_.size() - i_ < 4) return fail("short \\u escape");
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) {
        char c = in_[i_++];
        int d = digit(c) ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
        if (d < 0) return fail("bad \\u escape");
        v = v << 4 | uint32_t(d);
    }
    *out = v;
    return true;
}

void put_utf8(std::string *s, uint32_t cp) {
    if (cp < 0x80) {
        *s += char(cp);
    } else if (cp < 0x800) {
        *s += char(0xc0 | cp >> 6);
        *s += char(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *s += char(0xe0 | cp >> 12);
        *s += char(0x80 | (cp >> 6 & 0x3f));
        *s += char(0x80 | (cp & 0x3f));
    } else {
        *s += char(0xf0 | cp >> 18);
        *s += char(0x80 | (cp >> 12 & 0x3f));
        *s += char(0x80 | (cp >> 6 & 0x3f));
        *s += char(0x80 | (cp & 0x3f));
    }
}

bool Parser::string(std::string *out) {
    if (!eat('"')) return fail("expected a string");
    for (;;) {
        if (i_ == in_.size()) return fail("unterminated string");
        unsigned char c = static_cast<unsigned char>(in_[i_++]);
        if (c == '"') return true;
        if (c < 0x20) return fail("control character in string");
        if (c != '\\') {
            *out += char(c);
            continue;
        }
        if (i_ == in_.size()) return fail("unterminated string");
        char e = in_[i_++];
        switch (e) {
        case '"': case '\\': case '/': *out += e; break;
        case 'b': *out += '\b'; break;
        case 'f': *out += '\f'; break;
        case 'n': *out += '\n'; break;
        case 'r': *out += '\r'; break;
        case 't': *out += '\t'; break;
        case 'u': {
            uint32_t cp;
            if (!hex4(&cp)) return false;
            if (cp >= 0xdc00 && cp <= 0xdfff) return fail("lone low surrogate");
            if (cp >= 0xd800 && cp <= 0xdbff) {   // a pair: \uD8xx\uDCxx
                uint32_t lo;
                if (!eat('\\') || !eat('u') || !hex4(&lo) || lo < 0xdc00 || lo > 0xdfff)
                    return fail("unpaired high surrogate");
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            put_utf8(out, cp);
            break;
        }
        default: return fail("bad escape");
        }
    }
}

void quote(std::string *o, const std::string &s) { append_json_string(o, s); }

void dump(std::string *o, const Json &v, bool pretty, int depth) {
    auto newline = [&](int d) {
        if (!pretty) return;
        *o += '\n';
        o->append(size_t(d) * 4, ' ');
    };
    switch (v.type) {
    case Json::Type::null: *o += "null"; return;
    case Json::Type::boolean: *o += v.b ? "true" : "false"; return;
    case Json::Type::number: *o += v.s; return;
    case Json::Type::string: quote(o, v.s); return;
    case Json::Type::array:
    case Json::Type::object: break;
    }
    bool obj = v.is_object();
    size_t n = obj ? v.members.size() : v.items.size();
    *o += obj ? '{' : '[';
    for (size_t k = 0; k < n; k++) {
        if (k) *o += ',';
        newline(depth + 1);
        if (obj) {
            quote(o, v.members[k].first);
            *o += pretty ? ": " : ":";
        }
        dump(o, obj ? v.members[k].second : v.items[k], pretty, depth + 1);
    }
    if (n) newline(depth);
    *o += obj ? '}' : ']';
}

}  // namespace

const Json *Json::get(std::string_view key) const {
    for (const auto &[k, v] : members)
        if (k == key) return &v;
    return nullptr;
}

std::string Json::str(std::string_view key, const std::string &fallback) const {
    const Json *v = get(key);
    return v && v->type == Type::string ? printable(v->s) : fallback;
}

uint64_t Json::u64(std::string_view key, uint64_t fallback) const {
    const Json *v = get(key);
    if (!v || v->type != Type::number || v->s.empty() || v->s[0] == '-') return fallback;
    return std::strtoull(v->s.c_str(), nullptr, 10);
}

int64_t Json::i64(std::string_view key, int64_t fallback) const {
    const Json *v = get(key);
    if (!v || v->type != Type::number) return fallback;
    return std::strtoll(v->s.c_str(), nullptr, 10);
}

bool Json::flag(std::string_view key) const {
    const Json *v = get(key);
    return v && v->type == Type::boolean && v->b;
}

std::string Json::text() const {
    switch (type) {
    case Type::string: return printable(s);
    case Type::number: return s;
    case Type::boolean: return b ? "true" : "false";
    default: return dump_json(*this, false);
    }
}

bool parse_json(std::string_view in, Json *out, std::string *err) {
    *out = Json{};
    return Parser(in).document(out, err);
}

std::string dump_json(const Json &v, bool pretty) {
    std::string o;
    dump(&o, v, pretty, 0);
    return o;
}

}  // namespace lm
