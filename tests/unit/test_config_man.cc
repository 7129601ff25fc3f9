// Every key the parser accepts is documented in lanmesh.conf(5).
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "config/config.h"

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
        // A key is documented when it starts a .TP tag line in bold.
        std::regex tag("\n\\.TP[^\n]*\n\\.BR? " + key + "\\b");
        EXPECT_TRUE(std::regex_search(man, tag)) << k << " is not documented as a .TP/.B entry";
        EXPECT_NE(man.find("[" + section + "]"), std::string::npos) << section;
    }
}

}  // namespace
