// SPDX-License-Identifier: MIT
// The key table says what a reload does with each key (config/config.cc,
// OnReload), and the reload (core/reload.cc) goes by it: a changed restart
// key is reported and keeps its value, a changed live key is taken over.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "config/config.h"

namespace lm {
namespace {

const std::string kPath = "/etc/lanmesh/office.conf";

const std::string kServerTls = "[TLS]\nCA = ca.pem\nCertificate = server.crt\nKey = server.key\n";
const std::string kServerNet = "[Network]\nRole = server\nPool = 198.18.0.0/24\n";
const std::string kServerRegistry = "[Registry]\nEndpoint = https://192.0.2.9:2379\nCA = etcd-ca.pem\n"
                                    "Certificate = etcd.crt\nKey = etcd.key\n";
const std::string kClientTls = "[TLS]\nCA = ca.pem\nCertificate = alice.crt\nKey = alice.key\n";
const std::string kClientNet = "[Network]\nRole = client\nServer = 203.0.113.1\nServerName = office-server\n";

// One changed value for each key that a reload compares: the line to add to
// (or replace in) the base file of a role that may use the key.
struct Variant {
    bool server;        // which role's base file
    std::string line;   // "Key = value"
};
const std::map<std::string, Variant> kVariants = {
    {"Network.Role", {true, "Role = client"}},
    {"Network.Device", {true, "Device = lm-other"}},
    {"Network.Topology", {true, "Topology = net30"}},
    {"Network.Pool", {true, "Pool = 198.18.4.0/24"}},
    {"Network.Pool6", {true, "Pool6 = 2001:db8:1::/64"}},
    {"Network.Listen", {true, "Listen = 192.0.2.1"}},
    {"Network.Server", {false, "Server = 203.0.113.2"}},
    {"Network.ServerName", {false, "ServerName = other-server"}},
    {"Network.ControlPort", {true, "ControlPort = 4501"}},
    {"Network.DataPort", {true, "DataPort = 4502"}},
    {"Network.ClientToClient", {true, "ClientToClient = direct"}},
    {"Network.Ciphers", {true, "Ciphers = chacha20-poly1305"}},
    {"Network.Encapsulation", {true, "Encapsulation = raw"}},
    {"Network.MTU", {true, "MTU = 1300"}},
    {"Network.Workers", {true, "Workers = 3"}},
    {"Network.Route", {true, "Route = 198.51.100.0/24"}},
    {"Network.FwMark", {false, "FwMark = 51820"}},
    {"Network.Keepalive", {true, "Keepalive = 5 30"}},
    {"Network.NatKeepalive", {true, "NatKeepalive = 15"}},
    {"Network.HandshakeTimeout", {true, "HandshakeTimeout = 20"}},
    {"Network.RekeyAfterTime", {true, "RekeyAfterTime = 600"}},
    {"Network.RekeyAfterBytes", {true, "RekeyAfterBytes = 1G"}},
    {"Network.RekeyAfterPackets", {true, "RekeyAfterPackets = 1M"}},
    {"Network.RekeyGrace", {true, "RekeyGrace = 20"}},
    {"Network.StateDirectory", {true, "StateDirectory = /var/lib/lanmesh/other"}},
    {"Network.RuntimeDirectory", {true, "RuntimeDirectory = /run/other"}},
    {"Network.DebugKeyFile", {true, "DebugKeyFile = /tmp/keys"}},
    {"Network.MetricsListen", {true, "MetricsListen = 127.0.0.1:9586"}},
    {"Network.LogLevel", {true, "LogLevel = debug"}},
    {"Network.User", {true, "User = nobody"}},
    {"TLS.CRL", {true, "CRL = crl.pem"}},
    {"Registry.Endpoint", {true, "Endpoint = https://192.0.2.10:2379"}},
    {"Registry.Prefix", {true, "Prefix = /other/"}},
    {"Registry.Name", {true, "Name = srv-b"}},
    {"Registry.TTL", {true, "TTL = 20"}},
    {"Registry.CA", {true, "CA = other-ca.pem"}},
    {"Registry.Certificate", {true, "Certificate = other.crt"}},
    {"Registry.Key", {true, "Key = other.key"}},
    {"Registry.PeerAddress", {true, "PeerAddress = 192.0.2.77"}},
    {"Registry.PeerPort", {true, "PeerPort = 4999"}},
};

// The base file of a role with `line` added to its section, or replacing the
// line of the same key.
std::string with_line(bool server, const std::string &section, const std::string &line) {
    std::string tls = server ? kServerTls : kClientTls, net = server ? kServerNet : kClientNet;
    std::string reg = server ? kServerRegistry : "";
    std::string &text = section == "TLS" ? tls : section == "Registry" ? reg : net;
    std::string key = line.substr(0, line.find(' ')) + " = ";
    if (auto at = text.find("\n" + key); at != std::string::npos) {
        auto end = text.find('\n', at + 1);
        text.replace(at + 1, end - at - 1, line);
    } else {
        text += line + "\n";
    }
    return tls + net + reg;
}

Config parsed(const std::string &text) {
    ConfigError err;
    auto c = parse_config(text, kPath, &err);
    EXPECT_TRUE(c.has_value()) << err.message << "\n" << text;
    return c ? *c : Config{};
}

TEST(ConfigReload, EveryKeyHasItsReloadBehaviour) {
    auto keys = config_key_info();
    ASSERT_GT(keys.size(), 30u);
    for (const auto &k : keys) {
        if (k.reload == OnReload::role) {
            EXPECT_EQ(kVariants.count(k.key), 0u) << k.key << " is applied by the role, not compared";
            continue;
        }
        EXPECT_TRUE(k.has_fields) << k.key;
        EXPECT_EQ(kVariants.count(k.key), 1u) << k.key << ": add a changed value to kVariants";
    }
    // Keys that shape the device, the sockets or the addresses wait for a restart.
    std::map<std::string, OnReload> by_key;
    for (const auto &k : keys) by_key[k.key] = k.reload;
    for (const char *k : {"Network.Device", "Network.Pool", "Network.Listen", "Network.ControlPort",
                          "Network.DataPort", "Network.MTU", "Network.Workers", "Network.MetricsListen",
                          "Network.User"})
        EXPECT_EQ(by_key.at(k), OnReload::restart) << k;
    for (const char *k : {"Network.Keepalive", "Network.Ciphers", "Network.Route", "Network.LogLevel", "TLS.CRL"})
        EXPECT_EQ(by_key.at(k), OnReload::live) << k;
    for (const char *k : {"TLS.CA", "TLS.Certificate", "TLS.Key", "Peer.Name", "Peer.Network"})
        EXPECT_EQ(by_key.at(k), OnReload::role) << k;
}

TEST(ConfigReload, ReloadGoesByTheTable) {
    for (const auto &k : config_key_info()) {
        auto v = kVariants.find(k.key);
        if (v == kVariants.end() || k.key == "Network.Role") continue;   // a role change is refused earlier
        SCOPED_TRACE(k.key);
        std::string section = k.key.substr(0, k.key.find('.')), name = k.key.substr(k.key.find('.') + 1);
        Config running = parsed(with_line(v->second.server, "Network", "LogLevel = info"));
        Config next = parsed(with_line(v->second.server, section, v->second.line));
        // The table's fields for the key are what changed, and nothing else.
        EXPECT_EQ(config_changed_keys(running, next), std::vector<std::string>{name});
        auto restart = config_restart_changes(running, next);
        config_take_live(running, next);
        if (k.reload == OnReload::restart) {
            EXPECT_EQ(restart, std::vector<std::string>{name});
            EXPECT_EQ(config_changed_keys(running, next), std::vector<std::string>{name}) << "kept its value";
        } else {
            EXPECT_TRUE(restart.empty());
            EXPECT_TRUE(config_changed_keys(running, next).empty()) << "taken over";
        }
    }
}

}  // namespace
}  // namespace lm
