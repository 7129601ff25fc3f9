// SPDX-License-Identifier: MIT
// Tests for the configuration parser (src/config): good files land in the
// struct field by field; every bad one fails with the exact "file:line:" message.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>

#include "common/names.h"
#include "config/config.h"
#include "config/topology.h"

namespace lm {
namespace {

const std::string kPath = "/etc/lanmesh/office.conf";

// Lines 1-7; whatever is appended starts at line 8, inside [Network].
const std::string kServerBase =
    "[TLS]\n"
    "CA = ca.pem\n"
    "Certificate = server.crt\n"
    "Key = server.key\n"
    "[Network]\n"
    "Role = server\n"
    "Pool = 198.18.0.0/24\n";

// Lines 1-8; appended lines start at line 9, inside [Network].
const std::string kClientBase =
    "[TLS]\n"
    "CA = ca.pem\n"
    "Certificate = alice.crt\n"
    "Key = alice.key\n"
    "[Network]\n"
    "Role = client\n"
    "Server = 203.0.113.1\n"
    "ServerName = office-server\n";

std::optional<Config> parse(const std::string &text, ConfigError *err, const std::string &path = kPath) {
    return parse_config(text, path, err);
}

// The error message of a text that must not parse.
std::string error_of(const std::string &text, const std::string &path = kPath) {
    ConfigError err;
    auto c = parse_config(text, path, &err);
    EXPECT_FALSE(c.has_value()) << "parsed although it should not:\n" << text;
    return err.message;
}

Config ok(const std::string &text, const std::string &path = kPath) {
    ConfigError err;
    auto c = parse_config(text, path, &err);
    EXPECT_TRUE(c.has_value()) << err.message;
    return c ? *c : Config{};
}

Prefix pfx(const char *s) { return *Prefix::parse(s); }
IpAddr ip(const char *s) { return *IpAddr::parse(s); }

// ---- Good files -------------------------------------------------------------

TEST(ConfigParse, FullServer) {
    const std::string text =
        "# office network, server side\n"
        "; both comment styles\n"
        "\n"
        "[Network]\n"
        "  Role=server  \n"
        "Device = lm-office0\n"
        "Topology = subnet\n"
        "Pool = 198.18.0.0/24\n"
        "Pool6 = 2001:db8:1::/64\n"
        "Listen = 192.0.2.1 2001:db8::1\n"
        "Listen = 198.51.100.1\n"
        "ControlPort = 4443\n"
        "DataPort = 4501\n"
        "ClientToClient = direct\n"
        "Ciphers = chacha20-poly1305 aes-256-gcm\n"
        "Encapsulation = udp\n"
        "MTU = 1380\n"
        "Route = 198.18.100.0/24\n"
        "Route = 2001:db8:2::/48 198.18.101.0/24\n"
        "Keepalive = 5 30\n"
        "NatKeepalive = 20\n"
        "HandshakeTimeout = 15\n"
        "RekeyAfterTime = 1800\n"
        "RekeyAfterBytes = 64G\n"
        "RekeyAfterPackets = 512M\n"
        "RekeyGrace = 20\n"
        "StateDirectory = /var/lib/lanmesh/office-state\n"
        "RuntimeDirectory = /run/lanmesh-test\n"
        "DebugKeyFile = /tmp/lanmesh-keys.txt\n"
        "LogLevel = debug\n"
        "\n"
        "[TLS]\n"
        "CA = ca.pem\n"
        "Certificate = pki/server.crt\n"
        "Key = /etc/ssl/private/server.key\n"
        "CRL = ./crl.pem\n"
        "\n"
        "[Peer]\n"
        "Name = alice\n"
        "Address = 198.18.0.10\n"
        "Network = 198.18.64.0/24\n"
        "\n"
        "[Peer]\n"
        "Name = bob@example.org\n"
        "Network = 198.18.65.0/24 2001:db8:3::/48\n"
        "Network = 198.18.66.0/24\n";
    Config c = ok(text);
    EXPECT_EQ(c.file, kPath);
    EXPECT_EQ(c.net, "office");
    EXPECT_EQ(c.role, Role::server);
    EXPECT_EQ(c.device, "lm-office0");
    EXPECT_EQ(c.topology, Topology::subnet);
    ASSERT_TRUE(c.pool);
    EXPECT_EQ(*c.pool, pfx("198.18.0.0/24"));
    ASSERT_TRUE(c.pool6);
    EXPECT_EQ(*c.pool6, pfx("2001:db8:1::/64"));
    ASSERT_EQ(c.listen.size(), 3u);
    EXPECT_EQ(c.listen[0], ip("192.0.2.1"));
    EXPECT_EQ(c.listen[1], ip("2001:db8::1"));
    EXPECT_EQ(c.listen[2], ip("198.51.100.1"));
    EXPECT_FALSE(c.server);
    EXPECT_EQ(c.control_port, 4443);
    EXPECT_EQ(c.data_port, 4501);
    EXPECT_EQ(c.client_to_client, ClientToClient::direct);
    EXPECT_EQ(c.ciphers, (std::vector<Cipher>{Cipher::chacha20poly1305, Cipher::aes256gcm}));
    EXPECT_EQ(c.encapsulation, Encapsulation::udp);
    EXPECT_EQ(c.mtu, 1380);
    ASSERT_EQ(c.routes.size(), 3u);
    EXPECT_EQ(c.routes[0], pfx("198.18.100.0/24"));
    EXPECT_EQ(c.routes[1], pfx("2001:db8:2::/48"));
    EXPECT_EQ(c.routes[2], pfx("198.18.101.0/24"));
    EXPECT_EQ(c.keepalive_interval, 5);
    EXPECT_EQ(c.keepalive_timeout, 30);
    EXPECT_EQ(c.nat_keepalive, 20);
    EXPECT_EQ(c.handshake_timeout, 15);
    EXPECT_EQ(c.rekey_after_time, 1800);
    EXPECT_EQ(c.rekey_after_bytes, 64ull << 30);
    EXPECT_EQ(c.rekey_after_packets, 512ull << 20);
    EXPECT_EQ(c.rekey_grace, 20);
    EXPECT_EQ(c.state_directory, "/var/lib/lanmesh/office-state");
    EXPECT_EQ(c.runtime_directory, "/run/lanmesh-test");
    EXPECT_EQ(c.debug_key_file, "/tmp/lanmesh-keys.txt");
    EXPECT_EQ(c.log_level, "debug");
    EXPECT_EQ(c.ca, "/etc/lanmesh/ca.pem");
    EXPECT_EQ(c.certificate, "/etc/lanmesh/pki/server.crt");
    EXPECT_EQ(c.key, "/etc/ssl/private/server.key");
    EXPECT_EQ(c.crl, "/etc/lanmesh/crl.pem");
    ASSERT_EQ(c.peers.size(), 2u);
    EXPECT_EQ(c.peers[0].name, "alice");
    EXPECT_EQ(c.peers[0].line, 38);
    ASSERT_TRUE(c.peers[0].address);
    EXPECT_EQ(*c.peers[0].address, ip("198.18.0.10"));
    ASSERT_EQ(c.peers[0].networks.size(), 1u);
    EXPECT_EQ(c.peers[0].networks[0], pfx("198.18.64.0/24"));
    EXPECT_EQ(c.peers[1].name, "bob@example.org");
    EXPECT_EQ(c.peers[1].line, 43);
    EXPECT_FALSE(c.peers[1].address);
    ASSERT_EQ(c.peers[1].networks.size(), 3u);
    EXPECT_EQ(c.peers[1].networks[1], pfx("2001:db8:3::/48"));
    EXPECT_EQ(c.peers[1].networks[2], pfx("198.18.66.0/24"));

    ASSERT_NE(c.find_peer("bob@example.org"), nullptr);
    EXPECT_EQ(c.find_peer("bob@example.org")->line, 43);
    EXPECT_EQ(c.find_peer("alice"), &c.peers[0]);
    EXPECT_EQ(c.find_peer("carol"), nullptr);
    EXPECT_EQ(c.find_peer("Alice"), nullptr);
}

// A full tunnel's mark and table (net/policy_rules.h): a number or off.
TEST(ConfigParse, FwMark) {
    EXPECT_EQ(ok(kClientBase).fwmark, 0x6c6du);
    EXPECT_EQ(ok(kClientBase + "FwMark = 51820\n").fwmark, 51820u);
    EXPECT_EQ(ok(kClientBase + "FwMark = 4294967295\n").fwmark, 4294967295u);
    EXPECT_EQ(ok(kClientBase + "FwMark = off\n").fwmark, 0u);
    EXPECT_EQ(error_of(kClientBase + "FwMark = 0\n"),
              "/etc/lanmesh/office.conf:9: FwMark 0 out of range (1..4294967295, or off)");
    EXPECT_EQ(error_of(kClientBase + "FwMark = 4294967296\n"),
              "/etc/lanmesh/office.conf:9: FwMark 4294967296 out of range (1..4294967295, or off)");
    EXPECT_NE(error_of(kClientBase + "FwMark = 0x6c6d\n").find("bad integer"), std::string::npos);
    EXPECT_NE(error_of(kServerBase + "FwMark = 1\n").find("FwMark"), std::string::npos);
}

TEST(ConfigParse, ClientDefaults) {
    // ControlPort after Server still becomes Server's default port.
    Config c = ok(kClientBase + "ControlPort = 4443\n");
    EXPECT_EQ(c.role, Role::client);
    ASSERT_TRUE(c.server);
    EXPECT_EQ(c.server->addr, ip("203.0.113.1"));
    EXPECT_EQ(c.server->port, 4443);
    EXPECT_EQ(c.server_name, "office-server");
    EXPECT_EQ(c.device, "lm-office");
    EXPECT_EQ(c.topology, Topology::subnet);
    EXPECT_FALSE(c.pool);
    EXPECT_FALSE(c.pool6);
    EXPECT_TRUE(c.listen.empty());
    EXPECT_EQ(c.data_port, 4500);
    EXPECT_EQ(c.client_to_client, ClientToClient::relay);
    EXPECT_EQ(c.ciphers, (std::vector<Cipher>{Cipher::aes256gcm, Cipher::chacha20poly1305}));
    EXPECT_EQ(c.encapsulation, Encapsulation::auto_);
    EXPECT_EQ(c.mtu, 0);
    EXPECT_TRUE(c.routes.empty());
    EXPECT_EQ(c.keepalive_interval, 10);
    EXPECT_EQ(c.keepalive_timeout, 60);
    EXPECT_EQ(c.nat_keepalive, 25);
    EXPECT_EQ(c.handshake_timeout, 10);
    EXPECT_EQ(c.rekey_after_time, 3600);
    EXPECT_EQ(c.rekey_after_bytes, 1ull << 40);
    EXPECT_EQ(c.rekey_after_packets, 1ull << 30);
    EXPECT_EQ(c.rekey_grace, 30);
    EXPECT_EQ(c.state_directory, "/var/lib/lanmesh/office");
    EXPECT_EQ(c.runtime_directory, "/run/lanmesh");
    EXPECT_EQ(c.debug_key_file, "");
    EXPECT_EQ(c.log_level, "info");
    EXPECT_EQ(c.ca, "/etc/lanmesh/ca.pem");
    EXPECT_EQ(c.certificate, "/etc/lanmesh/alice.crt");
    EXPECT_EQ(c.key, "/etc/lanmesh/alice.key");
    EXPECT_EQ(c.crl, "");
    EXPECT_TRUE(c.remote_cert_tls);
    EXPECT_TRUE(c.peers.empty());
}

// RemoteCertTls (OpenVPN's remote-cert-tls): on unless a PKI without
// extendedKeyUsage needs it off.
TEST(ConfigParse, RemoteCertTls) {
    EXPECT_FALSE(ok(kServerBase.substr(0, kServerBase.find("[Network]")) + "RemoteCertTls = no\n" +
                    kServerBase.substr(kServerBase.find("[Network]")))
                     .remote_cert_tls);
    EXPECT_FALSE(ok(kClientBase.substr(0, kClientBase.find("[Network]")) + "RemoteCertTls = no\n" +
                    kClientBase.substr(kClientBase.find("[Network]")))
                     .remote_cert_tls);
    std::string base = kClientBase.substr(0, kClientBase.find("[Network]"));
    EXPECT_TRUE(ok(base + "RemoteCertTls = yes\n" + kClientBase.substr(base.size())).remote_cert_tls);
    EXPECT_EQ(error_of(base + "RemoteCertTls = maybe\n" + kClientBase.substr(base.size())),
              kPath + ":5: bad value 'maybe' for RemoteCertTls (expected yes or no)");
}

TEST(ConfigParse, ClientServerForms) {
    std::string base = kClientBase.substr(0, kClientBase.find("Server ="));
    std::string tail = "ServerName = office-server\n";
    Config c = ok(base + "Server = 203.0.113.1:443\n" + tail);
    EXPECT_EQ(c.server->str(), "203.0.113.1:443");
    c = ok(base + "Server = [2001:db8::1]:4501\n" + tail);
    EXPECT_EQ(c.server->str(), "[2001:db8::1]:4501");
    c = ok(base + "Server = 2001:db8::1\n" + tail);
    EXPECT_EQ(c.server->str(), "[2001:db8::1]:4500");
    c = ok(base + "Server = [2001:db8:ffff::1:4500]\n" + tail);
    EXPECT_EQ(c.server->str(), "[2001:db8:ffff::1:4500]:4500");
    // Both an address and an address with a port: the user must say which.
    EXPECT_EQ(error_of(base + "Server = 2001:db8:ffff::1:4500\n" + tail),
              "/etc/lanmesh/office.conf:7: ambiguous Server '2001:db8:ffff::1:4500': write "
              "[2001:db8:ffff::1]:4500 for an address and port, or [2001:db8:ffff::1:4500] for an address alone");
    EXPECT_NE(error_of(base + "Server = 2001:db8::1:2\n" + tail), "");
    c = ok(base + "Server = 2001:db8::abcd\n" + tail);   // ":abcd" is no port
    EXPECT_EQ(c.server->str(), "[2001:db8::abcd]:4500");
    EXPECT_FALSE(c.server->is_name());
}

// Several servers of one network (docs/DESIGN.md §11): the key repeated
// and/or a list; tried in order, each with ControlPort unless it names one.
TEST(ConfigParse, ClientServerList) {
    std::string base = kClientBase.substr(0, kClientBase.find("Server ="));
    std::string tail = "ServerName = office-server\n";
    Config c = ok(base + "Server = 203.0.113.1 vpn.example:443\nServer = [2001:db8::1]\nControlPort = 4443\n" + tail);
    ASSERT_EQ(c.servers.size(), 3u);
    EXPECT_EQ(c.servers[0].str(), "203.0.113.1:4443");
    EXPECT_EQ(c.servers[1].str(), "vpn.example:443");
    EXPECT_EQ(c.servers[2].str(), "[2001:db8::1]:4443");
    ASSERT_TRUE(c.server);
    EXPECT_EQ(*c.server, c.servers[0]);
    EXPECT_EQ(error_of(base + "Server = 203.0.113.1\nServer = 203.0.113.1\n" + tail),
              "/etc/lanmesh/office.conf:8: Server '203.0.113.1' is listed twice");
    EXPECT_EQ(error_of(base + "Server = vpn.example vpn.example:4500\n" + tail),
              "/etc/lanmesh/office.conf:7: Server 'vpn.example:4500' is listed twice");
    c = ok(base + "Server = vpn.example:443 vpn.example:444\n" + tail);
    EXPECT_EQ(c.servers.size(), 2u);
    std::string many = "Server =";
    for (int i = 1; i <= 17; i++) many += " 203.0.113." + std::to_string(i);
    EXPECT_EQ(error_of(base + many + "\n" + tail), "/etc/lanmesh/office.conf:7: more than 16 servers listed");
}

// Host names are resolved when connecting; the file is checked only for
// their syntax (RFC 1123, last label not all digits).
TEST(ConfigParse, ClientServerNames) {
    std::string base = kClientBase.substr(0, kClientBase.find("Server ="));
    std::string tail = "ServerName = office-server\n";
    Config c = ok(base + "Server = vpn.example\n" + tail);
    ASSERT_TRUE(c.server);
    EXPECT_TRUE(c.server->is_name());
    EXPECT_EQ(c.server->host, "vpn.example");
    EXPECT_FALSE(c.server->addr.is_set());
    EXPECT_EQ(c.server->port, 4500);
    EXPECT_EQ(c.server->str(), "vpn.example:4500");
    c = ok(base + "Server = vpn.example:443\n" + tail);
    EXPECT_EQ(c.server->str(), "vpn.example:443");
    // The default port is ControlPort, wherever it stands.
    c = ok(base + "Server = vpn.example\nControlPort = 4443\n" + tail);
    EXPECT_EQ(c.server->port, 4443);
    c = ok(base + "Server = vpn.example:443\nControlPort = 4443\n" + tail);
    EXPECT_EQ(c.server->port, 443);
    c = ok(base + "Server = Gw-1.Office.example.\n" + tail);
    EXPECT_EQ(c.server->host, "Gw-1.Office.example.");
    c = ok(base + "Server = localhost\n" + tail);
    EXPECT_EQ(c.server->host, "localhost");
    c = ok(base + "Server = 1a.example\n" + tail);
    EXPECT_EQ(c.server->host, "1a.example");
    for (const char *bad : {"vpn.example:", "vpn.example:0", "vpn.example:65536", "vpn.example:44x", "vpn..example",
                            "-vpn.example", "vpn-.example", "vpn_1.example", "vpn.example:443:1", ".example",
                            "192.0.2", "192.0.2.300", "vpn.example/24", "[vpn.example]:443"}) {
        EXPECT_EQ(error_of(base + "Server = " + bad + "\n" + tail),
                  std::string("/etc/lanmesh/office.conf:7: bad Server '") + bad +
                      "' (expected HOST, HOST:PORT, ADDRESS, IPv4:PORT or [IPv6]:PORT)")
            << bad;
    }
    EXPECT_NE(error_of(base + "Server = " + std::string(64, 'a') + ".example\n" + tail), "");
    std::string label(63, 'a');
    // 263 characters: each label fits, the name does not.
    EXPECT_NE(error_of(base + "Server = " + label + "." + label + "." + label + "." + label + ".example\n" + tail), "");
    EXPECT_NE(error_of(base + "Server = v\xc3\xa9pn.example\n" + tail), "");
    c = ok(base + "Server = " + std::string(63, 'a') + ".example\n" + tail);
    EXPECT_EQ(c.server->host.size(), 71u);
}

TEST(ConfigParse, MinimalServerDefaults) {
    Config c = ok(kServerBase);
    EXPECT_EQ(c.topology, Topology::subnet);
    EXPECT_EQ(c.client_to_client, ClientToClient::relay);
    EXPECT_TRUE(c.listen.empty());
    EXPECT_TRUE(c.peers.empty());
    EXPECT_FALSE(c.server);
}

TEST(ConfigParse, CrLfAndTabsAndNoFinalNewline) {
    std::string text = kServerBase;
    for (size_t pos = 0; (pos = text.find('\n', pos)) != std::string::npos; pos += 2) text.replace(pos, 1, "\r\n");
    text += "MTU\t=\t1400";
    Config c = ok(text);
    EXPECT_EQ(c.mtu, 1400);
}

TEST(ConfigParse, DeviceDefaultIsCut) {
    Config c = ok(kClientBase, "/etc/lanmesh/a-very-long-network.conf");
    EXPECT_EQ(c.net, "a-very-long-network");
    EXPECT_EQ(c.device, "lm-a-very-long-");
    EXPECT_EQ(c.device.size(), 15u);
    EXPECT_EQ(c.state_directory, "/var/lib/lanmesh/a-very-long-network");
}

TEST(ConfigParse, SizesAndSuffixes) {
    EXPECT_EQ(ok(kClientBase + "RekeyAfterBytes = 1M\n").rekey_after_bytes, 1ull << 20);
    EXPECT_EQ(ok(kClientBase + "RekeyAfterBytes = 1048576\n").rekey_after_bytes, 1ull << 20);
    EXPECT_EQ(ok(kClientBase + "RekeyAfterBytes = 3T\n").rekey_after_bytes, 3ull << 40);
    EXPECT_EQ(ok(kClientBase + "RekeyAfterBytes = 1024T\n").rekey_after_bytes, 1ull << 50);
    EXPECT_EQ(ok(kClientBase + "RekeyAfterBytes = 2048K\n").rekey_after_bytes, 2ull << 20);
    EXPECT_EQ(ok(kClientBase + "RekeyAfterPackets = 1000\n").rekey_after_packets, 1000u);
    EXPECT_EQ(ok(kClientBase + "RekeyAfterPackets = 2G\n").rekey_after_packets, 1ull << 31);
    EXPECT_EQ(ok(kClientBase + "RekeyAfterPackets = 64K\n").rekey_after_packets, 65536u);
    EXPECT_EQ(ok(kClientBase + "MTU = 0\n").mtu, 0);
    EXPECT_EQ(ok(kClientBase + "MTU = 576\n").mtu, 576);
    EXPECT_EQ(ok(kClientBase + "MTU = 9000\n").mtu, 9000);
    EXPECT_EQ(ok(kClientBase + "Keepalive = 1 2\n").keepalive_timeout, 2);
    EXPECT_EQ(ok(kClientBase + "Keepalive = 1800 3600\n").keepalive_interval, 1800);
}

TEST(ConfigParse, KnownKeys) {
    auto keys = config_known_keys();
    std::set<std::string> unique(keys.begin(), keys.end());
    EXPECT_EQ(unique.size(), keys.size());
    for (const char *k : {"Network.Role", "Network.Device", "Network.Topology", "Network.Pool", "Network.Pool6",
                          "Network.Listen", "Network.Server", "Network.ServerName", "Network.ControlPort",
                          "Network.DataPort", "Network.ClientToClient", "Network.Ciphers",
                          "Network.Encapsulation", "Network.MTU", "Network.Workers", "Network.Route", "Network.FwMark", "Network.Keepalive",
                          "Network.NatKeepalive", "Network.HandshakeTimeout", "Network.RekeyAfterTime",
                          "Network.RekeyAfterBytes", "Network.RekeyAfterPackets", "Network.RekeyGrace",
                          "Network.StateDirectory", "Network.RuntimeDirectory", "Network.DebugKeyFile",
                          "Network.LogLevel", "Network.User", "TLS.CA", "TLS.Certificate", "TLS.Key", "TLS.CRL",
                          "TLS.RemoteCertTls", "Peer.Name", "Peer.Address", "Peer.Network", "Registry.Endpoint",
                          "Registry.Prefix", "Registry.Name", "Registry.TTL", "Registry.CA",
                          "Registry.Certificate", "Registry.Key", "Registry.PeerAddress",
                          "Registry.PeerPort"})
        EXPECT_EQ(unique.count(k), 1u) << k;
    EXPECT_EQ(keys.size(), 47u);
}

TEST(ConfigParse, EnumStrings) {
    EXPECT_STREQ(to_string(Role::server), "server");
    EXPECT_STREQ(to_string(Role::client), "client");
    EXPECT_STREQ(to_string(Topology::net30), "net30");
    EXPECT_STREQ(to_string(Topology::p2p), "p2p");
    EXPECT_STREQ(to_string(Topology::subnet), "subnet");
    EXPECT_STREQ(to_string(ClientToClient::off), "off");
    EXPECT_STREQ(to_string(ClientToClient::relay), "relay");
    EXPECT_STREQ(to_string(ClientToClient::direct), "direct");
    EXPECT_STREQ(to_string(Encapsulation::auto_), "auto");
    EXPECT_STREQ(to_string(Encapsulation::udp), "udp");
    EXPECT_STREQ(to_string(Encapsulation::raw), "raw");
    EXPECT_STREQ(to_string(Cipher::aes256gcm), "aes-256-gcm");
    EXPECT_STREQ(to_string(Cipher::chacha20poly1305), "chacha20-poly1305");
    EXPECT_EQ(cipher_from_string("aes-256-gcm"), Cipher::aes256gcm);
    EXPECT_EQ(cipher_from_string("chacha20-poly1305"), Cipher::chacha20poly1305);
    EXPECT_EQ(cipher_from_string("AES-256-GCM"), std::nullopt);
    EXPECT_EQ(cipher_from_string("aes-128-gcm"), std::nullopt);
    EXPECT_EQ(cipher_from_string(""), std::nullopt);
}

// ---- Line syntax ------------------------------------------------------------

TEST(ConfigSyntax, UnknownKey) {
    EXPECT_EQ(error_of(kServerBase + "\n\n\n\nFoo = 1\n"),
              "/etc/lanmesh/office.conf:12: unknown key 'Foo' in [Network]");
    EXPECT_EQ(error_of(kServerBase + "mtu = 1400\n"),
              "/etc/lanmesh/office.conf:8: unknown key 'mtu' in [Network] (did you mean 'MTU'?)");
    EXPECT_EQ(error_of(kServerBase + "CA = ca.pem\n"),
              "/etc/lanmesh/office.conf:8: unknown key 'CA' in [Network] (it belongs in [TLS])");
    EXPECT_EQ(error_of("[TLS]\nRole = server\n"), "/etc/lanmesh/office.conf:2: unknown key 'Role' in [TLS] "
                                                  "(it belongs in [Network])");
    EXPECT_EQ(error_of(kServerBase + "[Peer]\nName = a\nPool = 198.18.0.0/24\n"),
              "/etc/lanmesh/office.conf:10: unknown key 'Pool' in [Peer] (it belongs in [Network])");
    EXPECT_EQ(error_of(kServerBase + "Ro-le = server\n"), "/etc/lanmesh/office.conf:8: bad key name 'Ro-le'");
    EXPECT_EQ(error_of(kServerBase + "= server\n"), "/etc/lanmesh/office.conf:8: missing key name before '='");
}

TEST(ConfigSyntax, UnknownSection) {
    EXPECT_EQ(error_of(kServerBase + "[Interface]\n"),
              "/etc/lanmesh/office.conf:8: unknown section [Interface] (expected [Network], [TLS], [Peer] or [Registry])");
    EXPECT_EQ(error_of(kServerBase + "[peer]\n"),
              "/etc/lanmesh/office.conf:8: unknown section [peer] (did you mean [Peer]?)");
    EXPECT_EQ(error_of(kServerBase + "[Peer\n"),
              "/etc/lanmesh/office.conf:8: bad section header '[Peer' (expected [Network], [TLS], [Peer] or [Registry])");
    EXPECT_EQ(error_of(kServerBase + "[Peer] # x\n"),
              "/etc/lanmesh/office.conf:8: bad section header '[Peer] # x' (expected [Network], [TLS], [Peer] or [Registry])");
    EXPECT_EQ(error_of(kServerBase + "[]\n"),
              "/etc/lanmesh/office.conf:8: unknown section [] (expected [Network], [TLS], [Peer] or [Registry])");
}

TEST(ConfigSyntax, KeyBeforeSection) {
    EXPECT_EQ(error_of("# leading comment\nRole = server\n[Network]\n"),
              "/etc/lanmesh/office.conf:2: key 'Role' outside of any section (put it under [Network], [TLS] or "
              "[Peer])");
}

TEST(ConfigSyntax, DuplicateKey) {
    EXPECT_EQ(error_of(kServerBase + "MTU = 1400\nMTU = 1400\n"),
              "/etc/lanmesh/office.conf:9: duplicate key 'MTU' in [Network] (first at line 8)");
    EXPECT_EQ(error_of(kServerBase + "Role = server\n"),
              "/etc/lanmesh/office.conf:8: duplicate key 'Role' in [Network] (first at line 6)");
    EXPECT_EQ(error_of(kServerBase + "[Peer]\nName = a\nName = b\n"),
              "/etc/lanmesh/office.conf:10: duplicate key 'Name' in [Peer] (first at line 9)");
    // Per [Peer] section, not per file.
    ok(kServerBase + "[Peer]\nName = a\nAddress = 198.18.0.2\n[Peer]\nName = b\nAddress = 198.18.0.3\n");
}

TEST(ConfigSyntax, DuplicateSection) {
    EXPECT_EQ(error_of(kServerBase + "[TLS]\n"),
              "/etc/lanmesh/office.conf:8: duplicate section [TLS] (first at line 1)");
    EXPECT_EQ(error_of(kServerBase + "[Network]\n"),
              "/etc/lanmesh/office.conf:8: duplicate section [Network] (first at line 5)");
}

TEST(ConfigSyntax, EmptyValue) {
    EXPECT_EQ(error_of(kServerBase + "MTU =\n"), "/etc/lanmesh/office.conf:8: empty value for MTU");
    EXPECT_EQ(error_of(kServerBase + "Device = \t \n"), "/etc/lanmesh/office.conf:8: empty value for Device");
}

TEST(ConfigSyntax, NotAnAssignment) {
    EXPECT_EQ(error_of(kServerBase + "MTU 1400\n"),
              "/etc/lanmesh/office.conf:8: expected 'Key = Value', a [Section] header or a comment, got 'MTU 1400'");
}

TEST(ConfigSyntax, CommentsOnlyOnTheirOwnLine) {
    ok(kServerBase + "   # indented comment\n\t; another\n");
    EXPECT_EQ(error_of(kServerBase + "MTU = 1400 # small\n"),
              "/etc/lanmesh/office.conf:8: '#' or ';' in the value of MTU: comments must be on a line of their own");
    EXPECT_EQ(error_of(kServerBase + "Device = lm;x\n"),
              "/etc/lanmesh/office.conf:8: '#' or ';' in the value of Device: comments must be on a line of their "
              "own");
}

TEST(ConfigSyntax, LongLine) {
    std::string comment = "#" + std::string(4095, 'x') + "\n";  // exactly 4096 bytes: fine
    ok(kServerBase + comment);
    std::string longer = "#" + std::string(4096, 'x') + "\n";
    EXPECT_EQ(error_of(kServerBase + longer), "/etc/lanmesh/office.conf:8: line too long (4097 bytes, limit 4096)");
    std::string value = "Device = " + std::string(5000, 'a') + "\n";
    EXPECT_EQ(error_of(kServerBase + value), "/etc/lanmesh/office.conf:8: line too long (5009 bytes, limit 4096)");
}

TEST(ConfigSyntax, NulAndControlBytes) {
    std::string nul = kServerBase + "MTU = 14";
    nul += '\0';
    nul += "00\n";
    EXPECT_EQ(error_of(nul), "/etc/lanmesh/office.conf:8: NUL byte in line");
    std::string nul_comment = kServerBase + "# comment";
    nul_comment += '\0';
    nul_comment += "\n";
    EXPECT_EQ(error_of(nul_comment), "/etc/lanmesh/office.conf:8: NUL byte in line");
    EXPECT_EQ(error_of(kServerBase + "MTU = 1400\x1b[0m\n"),
              "/etc/lanmesh/office.conf:8: control character 0x1b in line");
    EXPECT_EQ(error_of(kServerBase + "MTU = 14\r00\n"), "/etc/lanmesh/office.conf:8: control character 0x0d in line");
}

TEST(ConfigSyntax, LongValuesAreCutInMessages) {
    std::string msg = error_of(kServerBase + "Device = " + std::string(200, 'd') + "\n");
    EXPECT_EQ(msg, "/etc/lanmesh/office.conf:8: bad interface name '" + std::string(80, 'd') +
                       "...' for Device (1-15 characters of A-Z a-z 0-9 _ . -, not '.' or '..')");
}

TEST(ConfigSyntax, EmptyFile) {
    EXPECT_EQ(error_of(""), "/etc/lanmesh/office.conf: [Network] Role is required");
    EXPECT_EQ(error_of("# nothing\n\n"), "/etc/lanmesh/office.conf: [Network] Role is required");
}

TEST(ConfigSyntax, TooLarge) {
    std::string big(1100000, '\n');
    EXPECT_EQ(error_of(big), "/etc/lanmesh/office.conf: file too large (1100000 bytes, limit 1048576)");
}

// ---- Values ------------------------------------------------------------------

TEST(ConfigValues, BadAddress) {
    EXPECT_EQ(error_of(kServerBase + "Listen = 192.0.2.300\n"),
              "/etc/lanmesh/office.conf:8: bad address '192.0.2.300' for Listen");
    EXPECT_EQ(error_of(kServerBase + "Listen = 192.0.2.1 nowhere\n"),
              "/etc/lanmesh/office.conf:8: bad address 'nowhere' for Listen");
    EXPECT_EQ(error_of(kServerBase + "Listen = 192.0.2.1\nListen = 198.51.100.1 192.0.2.1\n"),
              "/etc/lanmesh/office.conf:9: duplicate Listen address 192.0.2.1");
    EXPECT_EQ(error_of(kServerBase + "Listen = 224.0.0.1\n"),
              "/etc/lanmesh/office.conf:8: Listen address 224.0.0.1 is a multicast address");
    EXPECT_EQ(error_of(kServerBase + "[Peer]\nName = a\nAddress = 198.18.0.x\n"),
              "/etc/lanmesh/office.conf:10: bad address '198.18.0.x' for Address");
    EXPECT_EQ(error_of(kServerBase + "[Peer]\nName = a\nAddress = 2001:db8::5\n"),
              "/etc/lanmesh/office.conf:10: peer Address must be an IPv4 address inside Pool, got '2001:db8::5'");
}

TEST(ConfigValues, BadEndpoint) {
    std::string base = kClientBase.substr(0, kClientBase.find("Server ="));
    for (const char *bad : {"203.0.113.1:0", "203.0.113.1:65536", "[203.0.113.1]:4500"})
        EXPECT_EQ(error_of(base + "Server = " + bad + "\n"),
                  std::string("/etc/lanmesh/office.conf:7: bad Server '") + bad +
                      "' (expected HOST, HOST:PORT, ADDRESS, IPv4:PORT or [IPv6]:PORT)");
    // A host name is no error (ConfigParse.ClientServerNames).
    EXPECT_EQ(error_of(base + "Server = 0.0.0.0\n"),
              "/etc/lanmesh/office.conf:7: Server address 0.0.0.0 is not a unicast address");
}

TEST(ConfigValues, BadPrefix) {
    EXPECT_EQ(error_of(kServerBase.substr(0, kServerBase.find("Pool")) + "Pool = 198.18.0.1/24\n"),
              "/etc/lanmesh/office.conf:7: bad prefix '198.18.0.1/24' for Pool (host bits set?)");
    EXPECT_EQ(error_of(kServerBase + "Route = 198.18.5.0\n"),
              "/etc/lanmesh/office.conf:8: bad prefix '198.18.5.0' for Route (expected ADDRESS/LENGTH)");
    EXPECT_EQ(error_of(kServerBase + "Route = 198.18.5.0/33\n"),
              "/etc/lanmesh/office.conf:8: bad prefix '198.18.5.0/33' for Route (bad prefix length)");
    EXPECT_EQ(error_of(kServerBase + "Route = 198.18.5.0/024\n"),
              "/etc/lanmesh/office.conf:8: bad prefix '198.18.5.0/024' for Route (bad prefix length)");
    EXPECT_EQ(error_of(kServerBase + "Route = 198.18.5/24\n"),
              "/etc/lanmesh/office.conf:8: bad prefix '198.18.5/24' for Route (bad address)");
    EXPECT_EQ(error_of(kServerBase + "Route = 2001:db8::1/64\n"),
              "/etc/lanmesh/office.conf:8: bad prefix '2001:db8::1/64' for Route (host bits set?)");
    EXPECT_EQ(error_of(kServerBase + "Route = 198.18.5.0/24\nRoute = 198.18.5.0/24\n"),
              "/etc/lanmesh/office.conf:9: duplicate Route 198.18.5.0/24");
    EXPECT_EQ(error_of(kServerBase + "[Peer]\nName = a\nNetwork = 198.18.64.1/24\n"),
              "/etc/lanmesh/office.conf:10: bad prefix '198.18.64.1/24' for Network (host bits set?)");
    EXPECT_EQ(error_of(kServerBase + "Pool6 = 198.18.2.0/24\n"),
              "/etc/lanmesh/office.conf:8: Pool6 must be an IPv6 prefix, got '198.18.2.0/24' (use Pool)");
    EXPECT_EQ(error_of(kServerBase + "Pool6 = 2001:db8::/48\n"),
              "/etc/lanmesh/office.conf:8: Pool6 prefix length /48 out of range (/64../124)");
    EXPECT_EQ(error_of(kServerBase + "Pool6 = 2001:db8::/125\n"),
              "/etc/lanmesh/office.conf:8: Pool6 prefix length /125 out of range (/64../124)");
    EXPECT_EQ(error_of(kServerBase.substr(0, kServerBase.find("Pool")) + "Pool = 2001:db8::/64\n"),
              "/etc/lanmesh/office.conf:7: Pool must be an IPv4 prefix, got '2001:db8::/64' (use Pool6)");
}

TEST(ConfigValues, BadInteger) {
    for (const char *v : {"-1", "+1400", "1 400", "0x578", "1400s", "01400", "1e3", "١٤٠٠"}) {
        EXPECT_EQ(error_of(kServerBase + "MTU = " + v + "\n"),
                  std::string("/etc/lanmesh/office.conf:8: bad integer '") + v +
                      "' for MTU (expected a plain decimal number)")
            << v;
    }
    EXPECT_EQ(error_of(kServerBase + "Keepalive = 10 x\n"),
              "/etc/lanmesh/office.conf:8: bad integer 'x' for Keepalive (expected a plain decimal number)");
}

TEST(ConfigValues, Overflow) {
    EXPECT_EQ(error_of(kServerBase + "ControlPort = 18446744073709551616\n"),
              "/etc/lanmesh/office.conf:8: integer '18446744073709551616' for ControlPort is too large");
    EXPECT_EQ(error_of(kServerBase + "ControlPort = 18446744073709551615\n"),
              "/etc/lanmesh/office.conf:8: ControlPort 18446744073709551615 out of range (1..65535)");
    EXPECT_EQ(error_of(kServerBase + "RekeyAfterBytes = 99999999999999999999\n"),
              "/etc/lanmesh/office.conf:8: size '99999999999999999999' for RekeyAfterBytes is too large");
    EXPECT_EQ(error_of(kServerBase + "RekeyAfterBytes = 17179869184T\n"),
              "/etc/lanmesh/office.conf:8: size '17179869184T' for RekeyAfterBytes is too large");
}

TEST(ConfigValues, OutOfRange) {
    struct Case {
        const char *line, *message;
    } cases[] = {
        {"ControlPort = 0", "ControlPort 0 out of range (1..65535)"},
        {"DataPort = 65536", "DataPort 65536 out of range (1..65535)"},
        {"MTU = 575", "MTU 575 out of range (576..9000, or 0 for automatic)"},
        {"MTU = 9001", "MTU 9001 out of range (576..9000, or 0 for automatic)"},
        {"NatKeepalive = 0", "NatKeepalive 0 out of range (1..3600)"},
        {"NatKeepalive = 3601", "NatKeepalive 3601 out of range (1..3600)"},
        {"HandshakeTimeout = 301", "HandshakeTimeout 301 out of range (1..300)"},
        {"RekeyAfterTime = 9", "RekeyAfterTime 9 out of range (10..86400)"},
        {"RekeyAfterTime = 86401", "RekeyAfterTime 86401 out of range (10..86400)"},
        {"RekeyGrace = 0", "RekeyGrace 0 out of range (1..3600)"},
        {"Keepalive = 0 10", "Keepalive 0 out of range (1..3600)"},
        {"Keepalive = 10 3601", "Keepalive 3601 out of range (1..3600)"},
        {"RekeyAfterBytes = 1023K",
         "RekeyAfterBytes 1023K out of range (1M..1048576G, i.e. 1048576..1125899906842624 bytes)"},
        {"RekeyAfterBytes = 1025T",
         "RekeyAfterBytes 1025T out of range (1M..1048576G, i.e. 1048576..1125899906842624 bytes)"},
        {"RekeyAfterPackets = 999", "RekeyAfterPackets 999 out of range (1000..2G, i.e. 1000..2147483648 packets)"},
        {"RekeyAfterPackets = 2147483649",
         "RekeyAfterPackets 2147483649 out of range (1000..2G, i.e. 1000..2147483648 packets)"},
    };
    for (const auto &t : cases)
        EXPECT_EQ(error_of(kServerBase + t.line + "\n"), std::string("/etc/lanmesh/office.conf:8: ") + t.message)
            << t.line;
}

TEST(ConfigValues, BadSize) {
    EXPECT_EQ(error_of(kServerBase + "RekeyAfterBytes = 1P\n"),
              "/etc/lanmesh/office.conf:8: bad size '1P' for RekeyAfterBytes (expected a decimal number with an "
              "optional KMGT suffix)");
    EXPECT_EQ(error_of(kServerBase + "RekeyAfterBytes = 1m\n"),
              "/etc/lanmesh/office.conf:8: bad size '1m' for RekeyAfterBytes (expected a decimal number with an "
              "optional KMGT suffix)");
    EXPECT_EQ(error_of(kServerBase + "RekeyAfterBytes = M\n"),
              "/etc/lanmesh/office.conf:8: bad size 'M' for RekeyAfterBytes (expected a decimal number with an "
              "optional KMGT suffix)");
    EXPECT_EQ(error_of(kServerBase + "RekeyAfterPackets = 1T\n"),
              "/etc/lanmesh/office.conf:8: bad size '1T' for RekeyAfterPackets (expected a decimal number with an "
              "optional KMG suffix)");
}

TEST(ConfigValues, KeepaliveRatio) {
    EXPECT_EQ(error_of(kServerBase + "Keepalive = 10 19\n"),
              "/etc/lanmesh/office.conf:8: Keepalive timeout 19 must be at least twice the interval 10");
    EXPECT_EQ(ok(kServerBase + "Keepalive = 10 20\n").keepalive_timeout, 20);
    EXPECT_EQ(error_of(kServerBase + "Keepalive = 10\n"),
              "/etc/lanmesh/office.conf:8: bad value '10' for Keepalive (expected two numbers: INTERVAL TIMEOUT)");
    EXPECT_EQ(error_of(kServerBase + "Keepalive = 10 30 60\n"),
              "/etc/lanmesh/office.conf:8: bad value '10 30 60' for Keepalive (expected two numbers: INTERVAL "
              "TIMEOUT)");
}

TEST(ConfigValues, BadEnum) {
    EXPECT_EQ(error_of(kServerBase.substr(0, kServerBase.find("Role")) + "Role = Server\n"),
              "/etc/lanmesh/office.conf:6: bad value 'Server' for Role (expected server or client)");
    EXPECT_EQ(error_of(kServerBase + "Topology = tap\n"),
              "/etc/lanmesh/office.conf:8: bad value 'tap' for Topology (expected net30, p2p or subnet)");
    EXPECT_EQ(error_of(kServerBase + "ClientToClient = yes\n"),
              "/etc/lanmesh/office.conf:8: bad value 'yes' for ClientToClient (expected off, relay or direct)");
    EXPECT_EQ(error_of(kServerBase + "Encapsulation = esp\n"),
              "/etc/lanmesh/office.conf:8: bad value 'esp' for Encapsulation (expected auto, udp, raw or tls)");
    EXPECT_EQ(error_of(kServerBase + "LogLevel = warn\n"),
              "/etc/lanmesh/office.conf:8: bad value 'warn' for LogLevel (expected debug, info, warning or error)");
    EXPECT_EQ(ok(kServerBase + "LogLevel = warning\n").log_level, "warning");
}

TEST(ConfigValues, Ciphers) {
    EXPECT_EQ(error_of(kServerBase + "Ciphers = aes-256-gcm aes-128-gcm\n"),
              "/etc/lanmesh/office.conf:8: unknown cipher 'aes-128-gcm' in Ciphers "
              "(expected aes-256-gcm or chacha20-poly1305)");
    EXPECT_EQ(error_of(kServerBase + "Ciphers = aes-256-gcm chacha20-poly1305 aes-256-gcm\n"),
              "/etc/lanmesh/office.conf:8: duplicate cipher 'aes-256-gcm' in Ciphers");
    EXPECT_EQ(error_of(kServerBase + "Ciphers = aes-256-gcm,chacha20-poly1305\n"),
              "/etc/lanmesh/office.conf:8: unknown cipher 'aes-256-gcm,chacha20-poly1305' in Ciphers "
              "(expected aes-256-gcm or chacha20-poly1305)");
    EXPECT_EQ(ok(kServerBase + "Ciphers = chacha20-poly1305\n").ciphers, std::vector<Cipher>{Cipher::chacha20poly1305});
}

TEST(ConfigValues, Device) {
    const std::string suffix = "' for Device (1-15 characters of A-Z a-z 0-9 _ . -, not '.' or '..')";
    for (const char *v : {"lm-office-12345", "a", "x.y_z-0"}) EXPECT_EQ(ok(kServerBase + "Device = " + v + "\n").device, v);
    for (const char *v : {"lm-office-123456", ".", "..", "lm/x", "lm:0", "lm x", "lm\xc3\xa9"})
        EXPECT_EQ(error_of(kServerBase + "Device = " + v + "\n"),
                  std::string("/etc/lanmesh/office.conf:8: bad interface name '") + v + suffix)
            << v;
}

TEST(ConfigValues, Names) {
    EXPECT_EQ(error_of(kServerBase + "[Peer]\nName = alice smith\n"),
              "/etc/lanmesh/office.conf:9: bad peer Name 'alice smith' (1-64 characters of A-Z a-z 0-9 _ . @ -)");
    EXPECT_EQ(error_of(kServerBase + "[Peer]\nName = " + std::string(65, 'n') + "\n"),
              "/etc/lanmesh/office.conf:9: bad peer Name '" + std::string(65, 'n') +
                  "' (1-64 characters of A-Z a-z 0-9 _ . @ -)");
    ok(kServerBase + "[Peer]\nName = " + std::string(64, 'n') + "\n");
    std::string base = kClientBase.substr(0, kClientBase.find("ServerName"));
    EXPECT_EQ(ok(base + "ServerName = Office VPN server\n").server_name, "Office VPN server");
    EXPECT_EQ(error_of(base + "ServerName = caf\xc3\xa9\n"),
              "/etc/lanmesh/office.conf:8: bad ServerName 'caf\xc3\xa9' (1-64 printable ASCII characters)");
}

TEST(ConfigValues, AbsolutePaths) {
    EXPECT_EQ(error_of(kServerBase + "StateDirectory = var/lib/lanmesh\n"),
              "/etc/lanmesh/office.conf:8: StateDirectory must be an absolute path, got 'var/lib/lanmesh'");
    EXPECT_EQ(error_of(kServerBase + "RuntimeDirectory = /run/../etc\n"),
              "/etc/lanmesh/office.conf:8: RuntimeDirectory must not contain '.' or '..' components, got "
              "'/run/../etc'");
    EXPECT_EQ(error_of(kServerBase + "DebugKeyFile = keys.txt\n"),
              "/etc/lanmesh/office.conf:8: DebugKeyFile must be an absolute path, got 'keys.txt'");
    EXPECT_EQ(ok(kServerBase + "DebugKeyFile = /run/lanmesh/office.keys\n").debug_key_file, "/run/lanmesh/office.keys");
}

// ---- Roles and required keys ---------------------------------------------

TEST(ConfigRoles, ServerKeysOnClient) {
    EXPECT_EQ(error_of(kClientBase + "Pool = 198.18.0.0/24\n"),
              "/etc/lanmesh/office.conf:9: Pool is only valid for Role = server");
    EXPECT_EQ(error_of(kClientBase + "MTU = 1400\nTopology = p2p\nRoute = 198.18.9.0/24\n"),
              "/etc/lanmesh/office.conf:10: Topology is only valid for Role = server");
    EXPECT_EQ(error_of(kClientBase + "Listen = 192.0.2.1\n"),
              "/etc/lanmesh/office.conf:9: Listen is only valid for Role = server");
    EXPECT_EQ(error_of(kClientBase + "ClientToClient = off\n"),
              "/etc/lanmesh/office.conf:9: ClientToClient is only valid for Role = server");
    EXPECT_EQ(error_of(kClientBase + "[Peer]\nName = bob\n"),
              "/etc/lanmesh/office.conf:9: [Peer] sections are only valid for Role = server");
}

TEST(ConfigRoles, ClientKeysOnServer) {
    EXPECT_EQ(error_of(kServerBase + "ServerName = office\n"),
              "/etc/lanmesh/office.conf:8: ServerName is only valid for Role = client");
    EXPECT_EQ(error_of(kServerBase + "Server = 192.0.2.1\n"),
              "/etc/lanmesh/office.conf:8: Server is only valid for Role = client");
}

TEST(ConfigRoles, RoleAfterTheKeys) {
    // The role is known only at the end; the message still names the key's line.
    EXPECT_EQ(error_of("[Network]\nPool = 198.18.0.0/24\nRole = client\n"),
              "/etc/lanmesh/office.conf:2: Pool is only valid for Role = server");
}

TEST(ConfigRequired, Role) {
    EXPECT_EQ(error_of("[TLS]\nCA = ca.pem\n"), "/etc/lanmesh/office.conf: [Network] Role is required");
    EXPECT_EQ(error_of("[TLS]\nCA = ca.pem\n[Network]\nMTU = 1400\n"),
              "/etc/lanmesh/office.conf:3: [Network] Role is required");
}

TEST(ConfigRequired, ServerAndClientKeys) {
    EXPECT_EQ(error_of("[Network]\nRole = server\n"), "/etc/lanmesh/office.conf:2: Pool is required for Role = server");
    EXPECT_EQ(error_of("[Network]\n\nRole = client\nServerName = s\n"),
              "/etc/lanmesh/office.conf:3: Server is required for Role = client");
    EXPECT_EQ(error_of("[Network]\nRole = client\nServer = 192.0.2.1\n"),
              "/etc/lanmesh/office.conf:2: ServerName is required for Role = client");
}

TEST(ConfigRequired, Tls) {
    std::string net = "[Network]\nRole = server\nPool = 198.18.0.0/24\n";
    EXPECT_EQ(error_of(net), "/etc/lanmesh/office.conf: [TLS] CA is required");
    EXPECT_EQ(error_of(net + "[TLS]\nCertificate = c\nKey = k\n"), "/etc/lanmesh/office.conf:4: [TLS] CA is required");
    EXPECT_EQ(error_of(net + "[TLS]\nCA = ca\nKey = k\n"),
              "/etc/lanmesh/office.conf:4: [TLS] Certificate is required");
    EXPECT_EQ(error_of(net + "[TLS]\nCA = ca\nCertificate = c\n"), "/etc/lanmesh/office.conf:4: [TLS] Key is required");
}

// ---- Topology, pool and peers ------------------------------------------------

TEST(ConfigTopology, PoolLength) {
    std::string head = kServerBase.substr(0, kServerBase.find("Pool"));
    EXPECT_EQ(error_of(head + "Pool = 198.18.0.0/30\nTopology = net30\n"),
              "/etc/lanmesh/office.conf:7: Pool prefix length /30 out of range for Topology = net30 (/8../29)");
    EXPECT_EQ(error_of(head + "Pool = 198.18.0.0/30\nTopology = p2p\n"),
              "/etc/lanmesh/office.conf:7: Pool prefix length /30 out of range for Topology = p2p (/8../29)");
    EXPECT_EQ(ok(head + "Pool = 198.18.0.0/30\n").pool->len, 30);
    EXPECT_EQ(error_of(head + "Pool = 198.18.0.0/31\n"),
              "/etc/lanmesh/office.conf:7: Pool prefix length /31 out of range for Topology = subnet (/8../30)");
    EXPECT_EQ(error_of(head + "Pool = 198.0.0.0/7\n"),
              "/etc/lanmesh/office.conf:7: Pool prefix length /7 out of range for Topology = subnet (/8../30)");
    EXPECT_EQ(ok(head + "Pool = 198.0.0.0/8\nTopology = net30\n").topology, Topology::net30);
    EXPECT_EQ(ok(head + "Pool = 198.18.0.0/29\nTopology = p2p\n").topology, Topology::p2p);
}

TEST(ConfigTopology, Pool6NeedsSubnet) {
    EXPECT_EQ(error_of(kServerBase + "Pool6 = 2001:db8::/64\nTopology = net30\n"),
              "/etc/lanmesh/office.conf:8: Pool6 requires Topology = subnet, not net30");
    EXPECT_EQ(error_of(kServerBase + "Pool6 = 2001:db8::/64\nMTU = 1200\n"),
              "/etc/lanmesh/office.conf:9: MTU 1200 is below 1280, the IPv6 minimum (Pool6 is set)");
}

TEST(ConfigPeers, DuplicateName) {
    EXPECT_EQ(error_of(kServerBase + "[Peer]\nName = alice\n\n[Peer]\nName = alice\n"),
              "/etc/lanmesh/office.conf:12: duplicate peer Name 'alice' (first at line 9)");
}

TEST(ConfigPeers, MissingName) {
    EXPECT_EQ(error_of(kServerBase + "[Peer]\nName = alice\n[Peer]\nNetwork = 198.18.64.0/24\n"),
              "/etc/lanmesh/office.conf:10: [Peer] without Name");
}

TEST(ConfigPeers, AddressInsidePool) {
    auto peer = [](const char *addr) { return "[Peer]\nName = a\nAddress = " + std::string(addr) + "\n"; };
    EXPECT_EQ(error_of(kServerBase + peer("198.18.1.5")),
              "/etc/lanmesh/office.conf:10: peer Address 198.18.1.5 is outside Pool 198.18.0.0/24");
    EXPECT_EQ(error_of(kServerBase + peer("198.18.0.0")),
              "/etc/lanmesh/office.conf:10: peer Address 198.18.0.0 is the network or broadcast address of Pool "
              "198.18.0.0/24");
    EXPECT_EQ(error_of(kServerBase + peer("198.18.0.255")),
              "/etc/lanmesh/office.conf:10: peer Address 198.18.0.255 is the network or broadcast address of Pool "
              "198.18.0.0/24");
    EXPECT_EQ(error_of(kServerBase + peer("198.18.0.1")),
              "/etc/lanmesh/office.conf:10: peer Address 198.18.0.1 is the server's own address");
    EXPECT_EQ(ok(kServerBase + peer("198.18.0.2")).peers[0].address->str(), "198.18.0.2");
    EXPECT_EQ(ok(kServerBase + peer("198.18.0.254")).peers[0].address->str(), "198.18.0.254");
    EXPECT_EQ(error_of(kServerBase + peer("198.18.0.7") + "[Peer]\nName = b\nAddress = 198.18.0.7\n"),
              "/etc/lanmesh/office.conf:13: peer Address 198.18.0.7 already given to another peer (line 10)");
}

TEST(ConfigPeers, AddressPerTopology) {
    auto text = [](const char *topo, const char *addr) {
        return kServerBase + "Topology = " + topo + "\n[Peer]\nName = a\nAddress = " + addr + "\n";
    };
    const std::string net30 =
        " is not a client address for Topology = net30 (the third address of a /30 block, not the first block: "
        ".6, .10, .14, ...)";
    EXPECT_EQ(error_of(text("net30", "198.18.0.2")), "/etc/lanmesh/office.conf:11: peer Address 198.18.0.2" + net30);
    EXPECT_EQ(error_of(text("net30", "198.18.0.5")), "/etc/lanmesh/office.conf:11: peer Address 198.18.0.5" + net30);
    EXPECT_EQ(error_of(text("net30", "198.18.0.7")), "/etc/lanmesh/office.conf:11: peer Address 198.18.0.7" + net30);
    ok(text("net30", "198.18.0.6"));
    ok(text("net30", "198.18.0.10"));
    EXPECT_NE(error_of(text("net30", "198.18.0.254")).find("is not a client address of Pool"), std::string::npos);
    ok(text("net30", "198.18.0.250"));
    EXPECT_EQ(error_of(text("p2p", "198.18.0.2")),
              "/etc/lanmesh/office.conf:11: peer Address 198.18.0.2 is the server's peer address (Topology = p2p)");
    // The allocator's plan (OpenVPN's layout) is the authority: p2p clients
    // start at .4, and the last net30 block is the broadcast's.
    EXPECT_EQ(error_of(text("p2p", "198.18.0.3")),
              "/etc/lanmesh/office.conf:11: peer Address 198.18.0.3 is not a client address of Pool 198.18.0.0/24 "
              "with Topology = p2p (first 198.18.0.4, last 198.18.0.251)");
    ok(text("p2p", "198.18.0.4"));
    ok(text("subnet", "198.18.0.2"));
    ok(text("subnet", "198.18.0.254"));
}

TEST(ConfigPeers, TooManyPushedRoutes) {
    std::string text = kServerBase;
    for (int i = 0; i < 49; i++) text += "Route = 198.19." + std::to_string(i) + ".0/24\n";
    EXPECT_NE(error_of(text).find("too many routes: Route and [Peer] Network add up to 49, at most 48"),
              std::string::npos);
}

TEST(ConfigPeers, NetworkOverlaps) {
    EXPECT_EQ(error_of(kServerBase + "[Peer]\nName = a\nNetwork = 198.18.0.128/25\n"),
              "/etc/lanmesh/office.conf:10: Network 198.18.0.128/25 of peer 'a' overlaps Pool 198.18.0.0/24 (line 7)");
    EXPECT_EQ(error_of(kServerBase + "[Peer]\nName = a\nNetwork = 198.18.64.0/22\n"
                                     "[Peer]\nName = b\nNetwork = 198.18.66.0/24\n"),
              "/etc/lanmesh/office.conf:13: Network 198.18.66.0/24 of peer 'b' overlaps Network 198.18.64.0/22 of "
              "peer 'a' (line 10)");
    EXPECT_EQ(error_of(kServerBase + "[Peer]\nName = a\nNetwork = 198.18.64.0/24 198.18.64.0/24\n"),
              "/etc/lanmesh/office.conf:10: Network 198.18.64.0/24 of peer 'a' overlaps Network 198.18.64.0/24 of "
              "peer 'a' (line 10)");
    EXPECT_EQ(error_of(kServerBase + "Pool6 = 2001:db8:1::/64\n[Peer]\nName = a\nNetwork = 2001:db8::/32\n"),
              "/etc/lanmesh/office.conf:11: Network 2001:db8::/32 of peer 'a' overlaps Pool6 2001:db8:1::/64 (line 8)");
    // Disjoint neighbours of either family are fine, and so is one between two others.
    Config c = ok(kServerBase + "[Peer]\nName = a\nNetwork = 198.18.64.0/24 198.18.66.0/24 2001:db8:5::/48\n"
                                "[Peer]\nName = b\nNetwork = 198.18.65.0/24 2001:db8:6::/48\n");
    EXPECT_EQ(c.peers[1].networks.size(), 2u);
}

TEST(ConfigTiming, RekeyGraceShorterThanRekeyTime) {
    EXPECT_EQ(error_of(kServerBase + "RekeyAfterTime = 60\nRekeyGrace = 60\n"),
              "/etc/lanmesh/office.conf:9: RekeyGrace (60 s) must be shorter than RekeyAfterTime (60 s)");
    EXPECT_EQ(error_of(kServerBase + "RekeyAfterTime = 20\n"),
              "/etc/lanmesh/office.conf:8: RekeyGrace (30 s) must be shorter than RekeyAfterTime (20 s)");
    ok(kServerBase + "RekeyAfterTime = 31\n");
}

// ---- Paths and files -------------------------------------------------------

TEST(ConfigPaths, RelativeTlsPaths) {
    auto tls = [](const std::string &ca) {
        return "[Network]\nRole = server\nPool = 198.18.0.0/24\n[TLS]\nCA = " + ca +
               "\nCertificate = /abs/s.crt\nKey = s.key\n";
    };
    EXPECT_EQ(ok(tls("ca.pem")).ca, "/etc/lanmesh/ca.pem");
    EXPECT_EQ(ok(tls("./ca.pem")).ca, "/etc/lanmesh/ca.pem");
    EXPECT_EQ(ok(tls("pki/ca.pem")).ca, "/etc/lanmesh/pki/ca.pem");
    EXPECT_EQ(ok(tls("../pki/ca.pem")).ca, "/etc/lanmesh/../pki/ca.pem");
    EXPECT_EQ(ok(tls("/srv/pki/ca file.pem")).ca, "/srv/pki/ca file.pem");
    EXPECT_EQ(ok(tls("ca.pem"), "/office.conf").ca, "/ca.pem");
    EXPECT_EQ(ok(tls("ca.pem"), "/etc/lanmesh/office.conf").key, "/etc/lanmesh/s.key");
    EXPECT_EQ(error_of(tls("./")), "/etc/lanmesh/office.conf:5: CA must name a file, got './'");
    EXPECT_EQ(error_of(tls("..")), "/etc/lanmesh/office.conf:5: CA must name a file, got '..'");

    // A relative config path is anchored at the working directory.
    char cwd[4096];
    ASSERT_NE(getcwd(cwd, sizeof cwd), nullptr);
    std::string here(cwd);
    EXPECT_EQ(ok(tls("ca.pem"), "office.conf").ca, here + "/ca.pem");
    EXPECT_EQ(ok(tls("ca.pem"), "conf/office.conf").ca, here + "/conf/ca.pem");
}

TEST(ConfigPaths, NetworkNameFromFileName) {
    EXPECT_EQ(ok(kServerBase, "/etc/lanmesh/lab_2.conf").net, "lab_2");
    EXPECT_EQ(ok(kServerBase, "/etc/lanmesh/lab.v2.conf").net, "lab.v2");
    EXPECT_EQ(ok(kServerBase, "lab").net, "lab");
    const std::string rule =
        ": the file must be named NET.conf, NET being 1-32 characters of A-Z a-z 0-9 _ . - and not starting with "
        "'.' or '-'";
    EXPECT_EQ(error_of(kServerBase, "/etc/lanmesh/.conf"), "/etc/lanmesh/.conf: bad network name '.conf'" + rule);
    EXPECT_EQ(error_of(kServerBase, "/etc/lanmesh/.hidden.conf"),
              "/etc/lanmesh/.hidden.conf: bad network name '.hidden'" + rule);
    EXPECT_EQ(error_of(kServerBase, "/etc/lanmesh/-x.conf"), "/etc/lanmesh/-x.conf: bad network name '-x'" + rule);
    EXPECT_EQ(error_of(kServerBase, "/etc/lanmesh/my net.conf"),
              "/etc/lanmesh/my net.conf: bad network name 'my net'" + rule);
    EXPECT_EQ(error_of(kServerBase, "/etc/lanmesh/"), "/etc/lanmesh/: bad network name ''" + rule);
    std::string long_name(33, 'n');
    EXPECT_EQ(error_of(kServerBase, "/etc/lanmesh/" + long_name + ".conf"),
              "/etc/lanmesh/" + long_name + ".conf: bad network name '" + long_name + "'" + rule);
    EXPECT_EQ(ok(kServerBase, "/etc/lanmesh/" + std::string(32, 'n') + ".conf").net, std::string(32, 'n'));
}

class ConfigLoad : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/lanmesh-config-test.XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override {
        for (const auto &f : files_) unlink(f.c_str());
        rmdir(dir_.c_str());
    }
    std::string write(const std::string &name, const std::string &text) {
        std::string path = dir_ + "/" + name;
        FILE *f = std::fopen(path.c_str(), "wb");
        EXPECT_NE(f, nullptr);
        if (f) {
            std::fwrite(text.data(), 1, text.size(), f);
            std::fclose(f);
        }
        files_.push_back(path);
        return path;
    }
    std::string dir_;
    std::vector<std::string> files_;
};

TEST_F(ConfigLoad, MissingFile) {
    ConfigError err;
    std::string path = dir_ + "/absent.conf";
    EXPECT_FALSE(load_config(path, &err));
    EXPECT_EQ(err.message, path + ": cannot open: " + std::strerror(ENOENT));
}

TEST_F(ConfigLoad, Directory) {
    ConfigError err;
    EXPECT_FALSE(load_config(dir_, &err));
    EXPECT_EQ(err.message, dir_ + ": not a regular file");
}

TEST_F(ConfigLoad, ReadsAndResolvesAgainstItsDirectory) {
    std::string path = write("lab.conf", kServerBase + "MTU = 1400\n");
    ConfigError err;
    auto c = load_config(path, &err);
    ASSERT_TRUE(c) << err.message;
    EXPECT_EQ(c->file, path);
    EXPECT_EQ(c->net, "lab");
    EXPECT_EQ(c->mtu, 1400);
    EXPECT_EQ(c->ca, dir_ + "/ca.pem");  // not required to exist
    EXPECT_EQ(c->device, "lm-lab");
}

TEST_F(ConfigLoad, ErrorNamesTheFileAndLine) {
    std::string path = write("lab.conf", kServerBase + "\nPool6 = 2001:db8::1/64\n");
    ConfigError err;
    EXPECT_FALSE(load_config(path, &err));
    EXPECT_EQ(err.message, path + ":9: bad prefix '2001:db8::1/64' for Pool6 (host bits set?)");
}

TEST_F(ConfigLoad, TooLarge) {
    std::string path = write("big.conf", std::string(2 << 20, '#'));
    ConfigError err;
    EXPECT_FALSE(load_config(path, &err));
    EXPECT_EQ(err.message, path + ": file too large (limit 1048576 bytes)");
}

TEST(ConfigRegistry, EndpointsDefaultsAndTls) {
    auto c = parse_config(kServerBase +
                              "[Registry]\n"
                              "Endpoint = http://192.0.2.9:2379 http://[2001:db8::9]:2379\n"
                              "Endpoint = http://etcd-3.example:2379\n",
                          "/etc/lanmesh/office.conf", nullptr);
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->registry);
    ASSERT_EQ(c->registry->endpoints.size(), 3u);
    EXPECT_EQ(c->registry->endpoints[1].host, "2001:db8::9");
    EXPECT_EQ(c->registry->prefix, "/lanmesh/office/");
    EXPECT_EQ(c->registry->ttl, 10);
    EXPECT_TRUE(c->registry->name.empty());
    c = parse_config(kServerBase +
                         "[Registry]\nEndpoint = https://192.0.2.9:2379\nCA = etcd-ca.pem\n"
                         "Certificate = etcd.crt\nKey = etcd.key\nPrefix = /vpn/corp/\nName = srv-a\nTTL = 20\n",
                     "/etc/lanmesh/office.conf", nullptr);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->registry->ca, "/etc/lanmesh/etcd-ca.pem");
    EXPECT_EQ(c->registry->prefix, "/vpn/corp/");
    EXPECT_EQ(c->registry->name, "srv-a");
    EXPECT_EQ(c->registry->ttl, 20);
    EXPECT_FALSE(parse_config(kServerBase, "/etc/lanmesh/office.conf", nullptr)->registry);
}

TEST(ConfigRegistry, RefusedWithTheReason) {
    const std::string at = "/etc/lanmesh/office.conf:8: ";
    EXPECT_EQ(error_of(kServerBase + "[Registry]\n"), at + "[Registry] needs at least one Endpoint (etcd's client URL)");
    EXPECT_EQ(error_of(kServerBase + "[Registry]\nEndpoint = 192.0.2.9:2379\n"),
              "/etc/lanmesh/office.conf:9: bad Endpoint '192.0.2.9:2379': expected http://HOST:PORT or "
              "https://HOST:PORT");
    EXPECT_EQ(error_of(kServerBase + "[Registry]\nEndpoint = https://192.0.2.9:2379\n"),
              at + "[Registry] CA is required for an https:// Endpoint (the CA of etcd's certificates)");
    EXPECT_EQ(error_of(kServerBase + "[Registry]\nEndpoint = https://192.0.2.9:2379\nCA = a.pem\nKey = k\n"),
              at + "[Registry] Certificate and Key go together (etcd's client certificate)");
    EXPECT_NE(error_of(kServerBase + "[Registry]\nEndpoint = http://192.0.2.9:2379\nPrefix = lanmesh\n")
                  .find("bad Prefix 'lanmesh'"),
              std::string::npos);
    EXPECT_NE(error_of(kServerBase + "[Registry]\nEndpoint = http://192.0.2.9:2379\nTTL = 1\n").find("TTL"),
              std::string::npos);
    EXPECT_EQ(error_of(kServerBase + "[Registry]\nEndpoint = http://192.0.2.9:2379\n[Registry]\n"),
              "/etc/lanmesh/office.conf:10: duplicate section [Registry] (first at line 8)");
    // A client has no registry: only servers share leases.
    EXPECT_NE(error_of(kClientBase + "[Registry]\nEndpoint = http://192.0.2.9:2379\n").find("[Registry] is"),
              std::string::npos);
}

TEST(ConfigErrorPointer, NullIsAllowed) {
    EXPECT_FALSE(parse_config("junk\n", kPath, nullptr));
    EXPECT_FALSE(load_config("/nonexistent/lanmesh/x.conf", nullptr));
    ConfigError err;
    EXPECT_TRUE(parse(kServerBase, &err));
}

}  // namespace
}  // namespace lm

namespace lm {
namespace {

// The parser and the address plan share one rule for pool lengths: a file
// parses exactly when the plan it makes is valid (Pool6 was /120 in the
// parser and /124 in the plan).
TEST(ConfigPools, BoundsAreThePlans) {
    const std::string tls = "[TLS]\nCA = ca.pem\nCertificate = s.crt\nKey = s.key\n[Network]\nRole = server\n";
    for (Topology t : {Topology::net30, Topology::p2p, Topology::subnet}) {
        for (int len = 1; len <= 32; len++) {
            std::string pool = (len < 8 ? "0.0.0.0/" : "10.0.0.0/") + std::to_string(len);
            ConfigError err;
            bool parsed = parse_config(tls + "Topology = " + to_string(t) + "\nPool = " + pool + "\n",
                                       "/etc/lanmesh/office.conf", &err).has_value();
            std::string why;
            EXPECT_EQ(parsed, TopologyPlan::validate(t, *Prefix::parse(pool), std::nullopt, &why))
                << to_string(t) << " " << pool << ": " << err.message << why;
        }
    }
    for (int len = 32; len <= 128; len++) {
        std::string pool6 = "2001:db8::/" + std::to_string(len);
        ConfigError err;
        bool parsed = parse_config(tls + "Pool = 198.18.0.0/24\nPool6 = " + pool6 + "\n", "/etc/lanmesh/office.conf",
                                   &err).has_value();
        std::string why;
        EXPECT_EQ(parsed, TopologyPlan::validate(Topology::subnet, *Prefix::parse("198.18.0.0/24"),
                                                 Prefix::parse(pool6), &why))
            << pool6 << ": " << err.message << why;
    }
}

// One rule for names: what the parser accepts as a [Peer] Name is what the
// control messages, the lease file and the CLI accept.
TEST(ConfigNames, PeerNameRuleIsShared) {
    const std::string base = "[TLS]\nCA = ca.pem\nCertificate = s.crt\nKey = s.key\n[Network]\nRole = server\n"
                             "Pool = 198.18.0.0/24\n[Peer]\nName = ";
    for (const std::string &n : std::vector<std::string>{"alice", "a.b-c_d@e", std::string(64, 'x'), std::string(65, 'x'), "a/b", "a b", "é",
                          "a:b", "-x", ".x"}) {
        ConfigError err;
        bool parsed = parse_config(base + n + "\n", "/etc/lanmesh/office.conf", &err).has_value();
        EXPECT_EQ(parsed, valid_peer_name(n)) << n << ": " << err.message;
    }
}

}  // namespace
}  // namespace lm

namespace lm {
namespace {

// One rule for address classes (common/addr.h): the parser's Listen/Server
// checks and the control messages' unicast check.
TEST(AddressClasses, OneRule) {
    auto A = [](const char *s) { return *IpAddr::parse(s); };
    EXPECT_TRUE(is_unicast(A("192.0.2.1")));
    EXPECT_TRUE(is_unicast(A("2001:db8::1")));
    for (const char *s : {"0.0.0.0", "::", "224.0.0.1", "239.255.255.255", "ff02::1", "255.255.255.255"})
        EXPECT_FALSE(is_unicast(A(s))) << s;
    EXPECT_TRUE(is_unspecified(A("::")) && is_unspecified(A("0.0.0.0")));
    EXPECT_TRUE(is_multicast(A("ff02::1")) && is_multicast(A("224.0.0.1")));
    EXPECT_FALSE(is_unicast(IpAddr()) || is_unspecified(IpAddr()) || is_multicast(IpAddr()));
}

}  // namespace
}  // namespace lm
