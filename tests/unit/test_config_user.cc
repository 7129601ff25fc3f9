// SPDX-License-Identifier: MIT
// The User key (least privilege): a default, the accepted spellings, and
// the exact message for a bad one.
#include <gtest/gtest.h>

#include "config/config.h"

namespace lm {
namespace {

const std::string kPath = "/etc/lanmesh/office.conf";
const std::string kClient =
    "[Network]\n"
    "Role = client\n"
    "Server = 192.0.2.1\n"
    "ServerName = server\n"
    "[TLS]\n"
    "CA = ca.pem\n"
    "Certificate = alice.crt\n"
    "Key = alice.key\n"
    "[Network]\n";

std::optional<Config> with_user(const std::string &line, ConfigError *err) {
    std::string text = kClient;
    text.insert(text.find("[TLS]"), line + "\n");
    return parse_config(text.substr(0, text.rfind("[Network]")), kPath, err);
}

TEST(ConfigUser, DefaultsToLanmesh) {
    ConfigError err;
    auto c = parse_config(kClient.substr(0, kClient.rfind("[Network]")), kPath, &err);
    ASSERT_TRUE(c) << err.message;
    EXPECT_EQ(c->user, "lanmesh");
}

TEST(ConfigUser, AcceptsSystemUserNames) {
    for (const char *name : {"vpn", "_lanmesh", "lm-office", "a1_b2-c3", "abcdefghijklmnopqrstuvwxyz012345"}) {
        ConfigError err;
        auto c = with_user(std::string("User = ") + name, &err);
        ASSERT_TRUE(c) << name << ": " << err.message;
        EXPECT_EQ(c->user, name);
    }
}

TEST(ConfigUser, RefusesOthersWithTheRule) {
    for (const char *name : {"Root", "1vpn", "-vpn", "vpn user", "vpn$", "abcdefghijklmnopqrstuvwxyz0123456"}) {
        ConfigError err;
        EXPECT_FALSE(with_user(std::string("User = ") + name, &err)) << name;
        EXPECT_NE(err.message.find("/etc/lanmesh/office.conf:5: bad user name '"), std::string::npos) << err.message;
        EXPECT_NE(err.message.find("for User (1-32 characters of a-z 0-9 _ -, starting with a letter or _)"),
                  std::string::npos)
            << err.message;
    }
}

}  // namespace
}  // namespace lm
