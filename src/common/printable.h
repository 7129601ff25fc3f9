// SPDX-License-Identifier: MIT
// Text from outside (certificate names, bye reasons, error strings) is shown
// to people in logs and in lanmesh(8)'s text output, and to programs as
// JSON.  A name may carry control characters, invalid UTF-8 or Unicode
// bidirectional overrides that make a log line read differently from what
// it says; these are escaped, everything else printable (accented letters
// too) is kept.  One policy for the log, the text renderers and JSON.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace lm {

// Decodes the UTF-8 sequence at s[i]: its length, or 0 when the bytes there
// are not well-formed UTF-8 (overlong, surrogate, above U+10FFFF, cut short).
size_t utf8_decode(std::string_view s, size_t i, uint32_t *cp);

// Code points that must not reach a terminal or a log raw: C0 and C1
// controls, DEL, bidirectional formatting (LRM, RLM, ALM, LRE..RLO,
// LRI..PDI), zero-width and other invisible format characters, line and
// paragraph separators, the byte order mark and tag characters.
bool unsafe_code_point(uint32_t cp);

// For people: backslash as "\\", tab, newline and carriage return as "\t",
// "\n", "\r", other bytes that are not well-formed UTF-8 or are unsafe
// ASCII as "\xNN", unsafe code points beyond ASCII as "\u202E" (or
// "\U000E0001"), the rest unchanged.
std::string printable(std::string_view s);
void append_printable(std::string *out, std::string_view s);

// For programs: a JSON string literal, quotes included (RFC 8259), with
// every unsafe code point as a \u escape and each byte that is not
// well-formed UTF-8 as \ufffd, so the document is valid JSON whatever the
// input.
void append_json_string(std::string *out, std::string_view s);

}  // namespace lm
