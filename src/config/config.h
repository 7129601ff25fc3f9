// SPDX-License-Identifier: MIT
// The network configuration, /etc/lanmesh/NET.conf.  The format is documented in
// man/lanmesh.conf.5; the parser is strict and every error names file:line.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/addr.h"

namespace lm {

// Data-plane threads at most (Workers=).
constexpr int kMaxWorkers = 64;

enum class Role { server, client };
enum class Topology { net30, p2p, subnet };
enum class ClientToClient { off, relay, direct };
// The data path's steps, best first: raw ESP, ESP in UDP, ESP carried in
// the TLS control connection (client/path_ladder.h).
enum class Encapsulation { auto_, udp, raw, tls };
enum class Cipher : uint16_t { aes256gcm = 1, chacha20poly1305 = 2 };

const char *to_string(Role);
const char *to_string(Topology);
const char *to_string(ClientToClient);
const char *to_string(Encapsulation);
const char *to_string(Cipher);            // "aes-256-gcm", "chacha20-poly1305"
std::optional<Cipher> cipher_from_string(const std::string &);

// Server side: what is known about one client by certificate common name.
struct PeerConfig {
    std::string name;                      // certificate CN
    std::vector<Prefix> networks;          // networks behind this client (iroute)
    std::optional<IpAddr> address;         // fixed overlay IPv4 address, if any
    int line = 0;                          // where the [Peer] section started
};

struct Config {
    std::string file;                      // path it was read from
    std::string net;                       // network name (file stem)

    // [Network]
    Role role = Role::client;
    std::string device;                    // default "lm-" + net, cut to 15 chars
    Topology topology = Topology::subnet;  // server only
    std::optional<Prefix> pool;            // server: IPv4 pool (required)
    std::optional<Prefix> pool6;           // server: IPv6 pool (subnet only)
    std::vector<IpAddr> listen;            // server: addresses to bind (default: any)
    std::optional<Endpoint> server;        // client: server address and control port (required)
    std::string server_name;               // client: expected server CN (required)
    uint16_t control_port = 4500;          // TCP port of the TLS control channel
    uint16_t data_port = 4500;             // UDP port of ESP-in-UDP
    ClientToClient client_to_client = ClientToClient::relay;
    std::vector<Cipher> ciphers{Cipher::aes256gcm, Cipher::chacha20poly1305};
    Encapsulation encapsulation = Encapsulation::auto_;
    int mtu = 0;                           // 0 = derive from overhead (1400 cap)
    std::vector<Prefix> routes;            // server: pushed to every client
    int keepalive_interval = 10;           // seconds
    int keepalive_timeout = 60;            // seconds
    int nat_keepalive = 25;                // seconds, UDP 0xFF when behind NAT
    int handshake_timeout = 10;            // seconds
    int rekey_after_time = 3600;           // seconds
    uint64_t rekey_after_bytes = 1ull << 40;
    uint64_t rekey_after_packets = 1ull << 30;
    int rekey_grace = 30;                  // seconds the old inbound SA lives on
    std::string state_directory;           // default /var/lib/lanmesh/NET
    std::string runtime_directory;         // default /run/lanmesh
    std::string debug_key_file;            // empty = off
    // MetricsListen: Prometheus text over HTTP on a TCP endpoint or a unix
    // socket (an absolute path); neither set = off.
    std::optional<Endpoint> metrics_tcp;
    std::string metrics_unix;
    std::string log_level = "info";        // debug | info | warning | error
    std::string user = "lanmesh";          // run as this user after setup (when started as root)
    int workers = 0;                       // data-plane threads; 0 = one per usable CPU

    // [TLS]
    std::string ca, certificate, key, crl;  // crl optional
    bool remote_cert_tls = true;           // peers' certificates must carry their role's extendedKeyUsage

    // [Peer] sections (server)
    std::vector<PeerConfig> peers;

    const PeerConfig *find_peer(const std::string &name) const;
};

// Routes pushed to a client (Route plus the networks behind other clients)
// travel in one control message; this bounds them.
constexpr size_t kMaxPushedRoutes = 48;

struct ConfigError {
    std::string message;                   // "office.conf:12: unknown key 'Foo' in [Network]"
};

// Reads and validates a file.  On failure returns nullopt and fills *err.
std::optional<Config> load_config(const std::string &path, ConfigError *err);
// Same from a string, for tests; `path` is only used in messages.
std::optional<Config> parse_config(const std::string &text, const std::string &path, ConfigError *err);

// Every key the parser accepts, "Section.Key", for the man page coverage check.
std::vector<std::string> config_known_keys();

}  // namespace lm
