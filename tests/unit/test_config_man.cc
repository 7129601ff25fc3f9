// SPDX-License-Identifier: MIT
// Every key the parser accepts is documented in lanmesh.conf(5).
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "config/config.h"
#include "data/counters.h"

namespace {

// The part of the page that documents one section's keys: keys such as
// Name, CA or Key exist in several sections, each documented in its own.
std::string section_text(const std::string &man, const std::string &section) {
    std::string heading = section == "Peer" ? ".SH \"PEER SECTIONS\"" : ".SH \"" + section + " SECTION\"";
    for (auto &ch : heading) ch = char(std::toupper(static_cast<unsigned char>(ch)));
    size_t at = man.find(heading);
    if (at == std::string::npos) return "";
    size_t end = man.find("\n.SH", at + 1);
    return man.substr(at, end == std::string::npos ? std::string::npos : end - at + 1);
}

TEST(ConfigManPage, DocumentsEveryKey) {
    std::ifstream f("man/lanmesh.conf.5");
    ASSERT_TRUE(f) << "run from the top of the source tree";
    std::stringstream ss;
    ss << f.rdbuf();
    const std::string man = ss.str();
    auto keys = lm::config_known_keys();
    ASSERT_GT(keys.size(), 20u);
    for (const auto &k : keys) {
        std::string section = k.substr(0, k.find('.')), key = k.substr(k.find('.') + 1);
        // A key is documented when it starts a .TP (or .TQ) tag line in
        // bold, ".TP\n.B Key" or ".TP\n.BR Key " (followed by a space or
        // newline), in its section's part of the page.
        const std::string text = section_text(man, section);
        EXPECT_FALSE(text.empty()) << "no .SH for [" << section << "]";
        bool found = false;
        for (const char *tp : {".TP\n", ".TQ\n"})
            for (const char *macro : {".B ", ".BR "}) {
                for (const char *end : {" ", "\n"}) {
                    std::string tag = std::string(tp) + macro + key + end;
                    found = found || text.find(tag) != std::string::npos;
                }
            }
        EXPECT_TRUE(found) << k << " is not documented as a .TP/.B entry";
        EXPECT_NE(man.find("[" + section + "]"), std::string::npos) << section;
    }
}

// The description of each key marks it as restart-only exactly when the key
// table does (the reload goes by that table).
TEST(ConfigManPage, MarksRestartOnlyKeys) {
    std::ifstream f("man/lanmesh.conf.5");
    ASSERT_TRUE(f) << "run from the top of the source tree";
    std::stringstream ss;
    ss << f.rdbuf();
    const std::string man = ss.str();
    const std::string mark = "Changing it needs a restart.";
    for (const auto &k : lm::config_key_info()) {
        std::string key = k.key.substr(k.key.find('.') + 1);
        const std::string text = section_text(man, k.key.substr(0, k.key.find('.')));
        size_t at = std::string::npos;
        for (const char *tag : {".TP\n.BR ", ".TP\n.B ", ".TQ\n.BR ", ".TQ\n.B "}) {
            for (const char *end : {" ", "\n"})
                if (at == std::string::npos) at = text.find(tag + key + end);
        }
        ASSERT_NE(at, std::string::npos) << k.key;
        // An entry ends at the next .TP or the section's end; keys sharing
        // a description (.TQ) share its mark.
        size_t end = std::min(text.find("\n.TP\n", at + 1), text.find("\n.SH", at + 1));
        std::string entry = text.substr(at, end == std::string::npos ? std::string::npos : end - at);
        bool marked = entry.find(mark) != std::string::npos;
        EXPECT_EQ(marked, k.reload == lm::OnReload::restart)
            << k.key << (marked ? " says it needs a restart, but reload takes it over"
                                : " needs a restart: add \"" + mark + "\" to its description");
    }
}

}  // namespace

namespace {

// Every drop reason `lanmesh -s link show` can print is explained in lanmesh(8).
TEST(DropReasonsManPage, DocumentsEveryReason) {
    std::ifstream f("man/lanmesh.8");
    ASSERT_TRUE(f) << "run from the top of the source tree";
    std::stringstream ss;
    ss << f.rdbuf();
    const std::string man = ss.str();
    for (int d = 0; d < int(lm::Drop::count_); d++) {
        std::string name = lm::to_string(lm::Drop(d));
        bool found = false;
        // ".B name\n", ".BR name \"", or ", \" name" inside a .BR list.
        for (const std::string &form : {".B " + name + "\n", ".BR " + name + " ", "\" " + name + " ", "\" " + name + "\n"})
            found = found || man.find(form) != std::string::npos;
        EXPECT_TRUE(found) << name << " is not explained in man/lanmesh.8";
    }
}

}  // namespace
