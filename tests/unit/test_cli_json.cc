// SPDX-License-Identifier: MIT
// The JSON reader and writer of lanmesh(8) (src/cli/json_value.h): strict
// parsing, document order, numbers passed through as written.
#include <gtest/gtest.h>

#include "common/json_value.h"

namespace lm::cli {
namespace {

Json parsed(const std::string &text) {
    Json v;
    std::string err;
    EXPECT_TRUE(parse_json(text, &v, &err)) << text << ": " << err;
    return v;
}

std::string error_of(const std::string &text) {
    Json v;
    std::string err;
    EXPECT_FALSE(parse_json(text, &v, &err)) << text << " parsed";
    return err;
}

TEST(CliJson, RoundTripKeepsOrderAndNumbers) {
    const std::string doc =
        R"({"name":"alice","spi":4294967295,"bytes":18446744073709551615,"neg":-1.5e+3,)"
        R"("up":true,"none":null,"list":[1,[],{}],"nested":{"z":1,"a":2}})";
    Json v = parsed(doc);
    EXPECT_EQ(dump_json(v, false), doc);
    EXPECT_EQ(v.u64("bytes"), 18446744073709551615ull);
    EXPECT_EQ(v.u64("spi"), 4294967295u);
    EXPECT_EQ(v.i64("neg"), -1);   // strtoll stops at the fraction: callers use integers
    EXPECT_EQ(v.str("name"), "alice");
    EXPECT_TRUE(v.flag("up"));
    EXPECT_EQ(v.str("missing", "-"), "-");
    EXPECT_EQ(v.u64("name", 7), 7u);   // wrong type: the fallback
    EXPECT_EQ(v.get("nested")->members[0].first, "z");
}

TEST(CliJson, PrettyIsIndentedAndParsesBack) {
    Json v = parsed(R"([{"a":1,"b":[true,false]},[]])");
    std::string p = dump_json(v, true);
    EXPECT_EQ(p, "[\n    {\n        \"a\": 1,\n        \"b\": [\n            true,\n            false\n        ]\n"
                 "    },\n    []\n]");
    EXPECT_EQ(dump_json(parsed(p), false), dump_json(v, false));
}

TEST(CliJson, StringsAndEscapes) {
    Json v = parsed(R"(["a\"b\\c\/d\n\t", "\u00e9\u20ac", "\ud83d\ude00", "x\u0001y"])");
    EXPECT_EQ(v.items[0].s, "a\"b\\c/d\n\t");
    EXPECT_EQ(v.items[1].s, "\xc3\xa9\xe2\x82\xac");
    EXPECT_EQ(v.items[2].s, "\xf0\x9f\x98\x80");
    EXPECT_EQ(dump_json(v.items[3], false), R"("x\u0001y")");
    EXPECT_EQ(dump_json(v.items[0], false), R"("a\"b\\c/d\u000a\u0009")");
}

TEST(CliJson, RejectsWhatRfc8259Rejects) {
    EXPECT_NE(error_of("").find("unexpected end"), std::string::npos);
    EXPECT_NE(error_of("{} x").find("trailing characters at offset 3"), std::string::npos);
    EXPECT_NE(error_of("[1,]").find("invalid value"), std::string::npos);
    EXPECT_NE(error_of(R"({"a" 1})").find("expected ':'"), std::string::npos);
    EXPECT_NE(error_of(R"({a:1})").find("expected a member name"), std::string::npos);
    EXPECT_NE(error_of(R"(["abc)").find("unterminated string"), std::string::npos);
    EXPECT_NE(error_of("[\"a\nb\"]").find("control character"), std::string::npos);
    EXPECT_NE(error_of(R"(["\x"])").find("bad escape"), std::string::npos);
    EXPECT_NE(error_of(R"(["\udc00"])").find("lone low surrogate"), std::string::npos);
    EXPECT_NE(error_of(R"(["\ud800x"])").find("unpaired high surrogate"), std::string::npos);
    EXPECT_NE(error_of("01").find("trailing"), std::string::npos);
    EXPECT_NE(error_of("1.").find("invalid number"), std::string::npos);
    EXPECT_NE(error_of("tru").find("invalid literal"), std::string::npos);
    EXPECT_NE(error_of("[1 2]").find("expected ',' or ']'"), std::string::npos);
}

TEST(CliJson, NestingIsBounded) {
    std::string ok(kMaxJsonDepth, '['), deep(kMaxJsonDepth + 1, '[');
    ok += std::string(kMaxJsonDepth, ']');
    deep += std::string(kMaxJsonDepth + 1, ']');
    parsed(ok);
    EXPECT_NE(error_of(deep).find("nested too deeply"), std::string::npos);
}

}  // namespace
}  // namespace lm::cli
