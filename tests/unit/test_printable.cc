// SPDX-License-Identifier: MIT
// Escaping of outside text for logs, lanmesh(8)'s text output and JSON
// (common/printable.h): certificate names with controls, bidi overrides or
// invalid UTF-8 come out as escapes; printable text, accents included, stays.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "common/json_value.h"
#include "common/json.h"
#include "common/log.h"
#include "common/printable.h"

namespace lm {
namespace {

TEST(Printable, KeepsPrintableText) {
    EXPECT_EQ(printable("alice-01.example@lan"), "alice-01.example@lan");
    EXPECT_EQ(printable("Jos\xc3\xa9 \xe6\x9d\xb1\xe4\xba\xac"), "Jos\xc3\xa9 \xe6\x9d\xb1\xe4\xba\xac");
}

TEST(Printable, EscapesControlsBidiAndBadUtf8) {
    EXPECT_EQ(printable("a\nb\tc\rd"), "a\\nb\\tc\\rd");
    EXPECT_EQ(printable(std::string("a\x1b[31mb\x7f", 8)), "a\\x1B[31mb\\x7F");
    EXPECT_EQ(printable("back\\slash"), "back\\\\slash");
    // RIGHT-TO-LEFT OVERRIDE, as in "alice\u202Egpj.exe".
    EXPECT_EQ(printable("alice\xe2\x80\xae" "gpj.exe"), "alice\\u202Egpj.exe");
    EXPECT_EQ(printable("\xe2\x81\xa6x\xe2\x81\xa9"), "\\u2066x\\u2069");            // LRI, PDI
    EXPECT_EQ(printable("a\xe2\x80\x8b" "b"), "a\\u200Bb");                            // zero-width space
    EXPECT_EQ(printable("\xc2\x85"), "\\u0085");                                        // C1 NEL
    EXPECT_EQ(printable("\xf3\xa0\x80\x81"), "\\U000E0001");                           // language tag
    EXPECT_EQ(printable("\xff\xc3"), "\\xFF\\xC3");                                     // invalid, cut short
    EXPECT_EQ(printable("\xc0\xaf"), "\\xC0\\xAF");                                     // overlong '/'
    EXPECT_EQ(printable("\xed\xa0\x80"), "\\xED\\xA0\\x80");                            // a surrogate
}

TEST(Printable, JsonStaysValidJson) {
    JsonWriter j;
    j.begin_object().kv("name", std::string_view("al\xe2\x80\xae" "x\xff\n\"\xf3\xa0\x80\x81", 13)).end_object();
    EXPECT_EQ(j.str(), "{\"name\":\"al\\u202ex\\ufffd\\u000a\\\"\\udb40\\udc01\"}");
    Json v;
    std::string err;
    ASSERT_TRUE(parse_json(j.str(), &v, &err)) << err;
    // The CLI writes it back out (-j) as valid JSON, and shows it (text) escaped.
    EXPECT_EQ(dump_json(v, false), "{\"name\":\"al\\u202ex\xef\xbf\xbd\\u000a\\\"\\udb40\\udc01\"}");
    EXPECT_EQ(v.str("name"), "al\\u202Ex\xef\xbf\xbd\\n\"\\U000E0001");  // U+FFFD is printable
    EXPECT_EQ(v.get("name")->text(), v.str("name"));
}

TEST(Printable, LogLinesAreEscaped) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    int saved = dup(2);
    std::fflush(stderr);
    dup2(fds[1], 2);
    LM_WARN("refused %s: %s", "mallory\xe2\x80\xae" "evil", "bad\nline");
    std::fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fds[1]);
    char buf[512] = "";
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    ASSERT_GT(n, 0);
    EXPECT_NE(std::string(buf).find("refused mallory\\u202Eevil: bad\\nline\n"), std::string::npos) << buf;
}

}  // namespace
}  // namespace lm
