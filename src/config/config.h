// SPDX-License-Identifier: MIT
// The network configuration, /etc/lanmesh/NET.conf.  The format is documented in
// man/lanmesh.conf.5; the parser is strict and every error names file:line.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/addr.h"
#include "common/enums.h"
#include "common/http_url.h"
#include "esp/wire.h"

namespace lm {

// Data-plane threads at most (Workers=).
constexpr int kMaxWorkers = 64;
// Servers a client lists at most (Server=).
constexpr size_t kMaxServers = 16;

// Client: where the server is (`Server`).  Either a literal address, or a
// host name that is resolved at each connection attempt, off the control
// thread (client/name_resolver.h); --check-config checks only its syntax.
struct ServerAddress {
    std::string host;    // a DNS name; empty when `addr` is a literal address
    IpAddr addr;         // the literal address (unset for a name)
    uint16_t port = 0;
    bool is_name() const { return !host.empty(); }
    // "vpn.example:4500", "192.0.2.1:4500", "[2001:db8::1]:4500".
    std::string str() const;
    bool operator==(const ServerAddress &o) const { return host == o.host && addr == o.addr && port == o.port; }
};

// Server side: what is known about one client by certificate common name.
struct PeerConfig {
    std::string name;                      // certificate CN
    std::vector<Prefix> networks;          // networks behind this client (iroute)
    std::optional<IpAddr> address;         // fixed overlay IPv4 address, if any
    int line = 0;                          // where the [Peer] section started
};

// Server side: the etcd cluster that several servers of one network share
// (lanmesh.conf(5) [Registry], docs/DESIGN.md §11).
struct RegistryConfig {
    std::vector<HttpUrl> endpoints;        // etcd client URLs, tried in order
    std::string prefix;                    // key prefix, ends with '/'; default "/lanmesh/NET/"
    std::string name;                      // this server in the registry; default: the host name
    int ttl = 10;                          // seconds a dead server's registrations outlive it
    std::string ca, certificate, key;      // TLS to etcd (https:// endpoints)
    // Where the other servers reach this one (docs/DESIGN.md §11): the
    // server-to-server channel on PeerPort/tcp, their ESP on DataPort/udp.
    // Unset: no channel, nodes on other servers are out of reach.
    IpAddr peer_address;
    uint16_t peer_port = 4501;
    int line = 0;                          // where [Registry] started
    // A reload compares what the section says, not where it stands.
    bool operator==(const RegistryConfig &o) const {
        return endpoints == o.endpoints && prefix == o.prefix && name == o.name && ttl == o.ttl && ca == o.ca &&
               certificate == o.certificate && key == o.key && peer_address == o.peer_address &&
               peer_port == o.peer_port;
    }
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
    std::optional<ServerAddress> server;   // client: the first of `servers`
    std::vector<ServerAddress> servers;    // client: every listed server, in order (one at least)
    std::string server_name;               // client: expected server CN (required)
    uint16_t control_port = kDefaultPort;  // TCP port of the TLS control channel
    uint16_t data_port = kDefaultPort;     // UDP port of ESP-in-UDP
    ClientToClient client_to_client = ClientToClient::relay;
    std::vector<Cipher> ciphers{Cipher::aes256gcm, Cipher::chacha20poly1305};
    Encapsulation encapsulation = Encapsulation::auto_;
    int mtu = 0;                           // 0 = derive from overhead (1400 cap)
    std::vector<Prefix> routes;            // server: pushed to every client
    uint32_t fwmark = 0x6c6d;              // client: SO_MARK and table of a full tunnel; 0 = off
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

    // [TLS]: paths, or for a PEM block written inline where it stands
    // ("/etc/lanmesh/office.conf:14"), with its text in the *_pem field.
    std::string ca, certificate, key, crl;  // crl optional
    std::string ca_pem, certificate_pem, key_pem;  // inline PEM text; empty for a file
    bool remote_cert_tls = true;           // peers' certificates must carry their role's extendedKeyUsage

    // [Peer] sections (server)
    std::vector<PeerConfig> peers;

    // [Registry] (server; absent: the leases stay in StateDirectory)
    std::optional<RegistryConfig> registry;

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

// What a reload (docs/DESIGN.md, lanmesh.conf(5)) does with a changed key.
enum class OnReload {
    live,      // taken over by config_take_live()
    restart,   // keeps its running value until restart; config_restart_changes() names it
    role,      // applied by the role itself: [TLS] files re-read, [Peer] sections
};
struct ConfigKeyInfo {
    std::string key;       // "Section.Key"
    OnReload reload;
    bool has_fields;       // the table names the Config fields it sets
};
std::vector<ConfigKeyInfo> config_key_info();
// The live and restart keys whose value differs between a and b.
std::vector<std::string> config_changed_keys(const Config &a, const Config &b);
// The restart-only keys whose value differs between the running and the next
// configuration, by key name, in table order.
std::vector<std::string> config_restart_changes(const Config &running, const Config &next);
// Copies every live key's value from `next` into `running`.
void config_take_live(Config &running, const Config &next);

}  // namespace lm
