// SPDX-License-Identifier: MIT
// Every key the parser accepts is documented in lanmesh.conf(5).
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "config/config.h"
#include "data/counters.h"

namespace {

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
        // A key is documented when it starts a .TP tag line in bold:
        // ".TP\n.B Key" or ".TP\n.BR Key " (followed by a space or newline).
        bool found = false;
        for (const char *macro : {".B ", ".BR "}) {
            for (const char *end : {" ", "\n"}) {
                std::string tag = std::string(".TP\n") + macro + key + end;
                found = found || man.find(tag) != std::string::npos;
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
        size_t at = std::string::npos;
        for (const char *tag : {".TP\n.BR ", ".TP\n.B "}) {
            for (const char *end : {" ", "\n"})
                if (at == std::string::npos) at = man.find(tag + key + end);
        }
        ASSERT_NE(at, std::string::npos) << k.key;
        size_t end = std::min(man.find("\n.TP\n", at + 1), man.find("\n.SH", at + 1));
        std::string entry = man.substr(at, end == std::string::npos ? std::string::npos : end - at);
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
