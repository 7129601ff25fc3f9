// SPDX-License-Identifier: MIT
#include "common/printable.h"

#include <cstdio>

namespace lm {

size_t utf8_decode(std::string_view s, size_t i, uint32_t *cp) {
    auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char b0 = byte(i);
    if (b0 < 0x80) {
        *cp = b0;
        return 1;
    }
    size_t len;
    uint32_t v, min;
    if ((b0 & 0xe0) == 0xc0) {
        len = 2, v = b0 & 0x1f, min = 0x80;
    } else if ((b0 & 0xf0) == 0xe0) {
        len = 3, v = b0 & 0x0f, min = 0x800;
    } else if ((b0 & 0xf8) == 0xf0) {
        len = 4, v = b0 & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (s.size() - i < len) return 0;
    for (size_t k = 1; k < len; k++) {
        if ((byte(i + k) & 0xc0) != 0x80) return 0;
        v = (v << 6) | (byte(i + k) & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
    *cp = v;
    return len;
}

bool unsafe_code_point(uint32_t cp) {
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) ||  // C0, DEL, C1
           cp == 0xad ||                                 // soft hyphen (invisible)
           cp == 0x061c ||                               // Arabic letter mark
           cp == 0x180e ||                               // Mongolian vowel separator
           (cp >= 0x200b && cp <= 0x200f) ||             // zero-width space..RLM
           (cp >= 0x2028 && cp <= 0x202e) ||             // LS, PS, LRE..RLO
           (cp >= 0x2060 && cp <= 0x206f) ||             // word joiner, LRI..PDI, deprecated
           cp == 0xfeff ||                               // byte order mark
           (cp >= 0xfff9 && cp <= 0xfffb) ||             // interlinear annotation
           (cp >= 0xe0000 && cp <= 0xe007f);             // tags
}

void append_printable(std::string *out, std::string_view s) {
    char b[16];
    for (size_t i = 0; i < s.size();) {
        uint32_t cp = 0;
        size_t n = utf8_decode(s, i, &cp);
        if (n == 0) {   // one byte that is not well-formed UTF-8
            std::snprintf(b, sizeof b, "\\x%02X", static_cast<unsigned char>(s[i]));
            *out += b;
            i++;
            continue;
        }
        if (cp == '\\') {
            *out += "\\\\";
        } else if (cp == '\t') {
            *out += "\\t";
        } else if (cp == '\n') {
            *out += "\\n";
        } else if (cp == '\r') {
            *out += "\\r";
        } else if (!unsafe_code_point(cp)) {
            out->append(s.substr(i, n));
        } else if (cp < 0x80) {
            std::snprintf(b, sizeof b, "\\x%02X", unsigned(cp));
            *out += b;
        } else if (cp <= 0xffff) {
            std::snprintf(b, sizeof b, "\\u%04X", unsigned(cp));
            *out += b;
        } else {
            std::snprintf(b, sizeof b, "\\U%08X", unsigned(cp));
            *out += b;
        }
        i += n;
    }
}

std::string printable(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    append_printable(&out, s);
    return out;
}

void append_json_string(std::string *out, std::string_view s) {
    char b[16];
    *out += '"';
    for (size_t i = 0; i < s.size();) {
        uint32_t cp = 0;
        size_t n = utf8_decode(s, i, &cp);
        if (n == 0) {
            *out += "\\ufffd";
            i++;
            continue;
        }
        if (cp == '"' || cp == '\\') {
            *out += '\\';
            *out += char(cp);
        } else if (!unsafe_code_point(cp)) {
            out->append(s.substr(i, n));
        } else if (cp <= 0xffff) {
            std::snprintf(b, sizeof b, "\\u%04x", unsigned(cp));
            *out += b;
        } else {   // a surrogate pair (RFC 8259 §7)
            uint32_t v = cp - 0x10000;
            std::snprintf(b, sizeof b, "\\u%04x\\u%04x", unsigned(0xd800 + (v >> 10)), unsigned(0xdc00 + (v & 0x3ff)));
            *out += b;
        }
        i += n;
    }
    *out += '"';
}

}  // namespace lm
