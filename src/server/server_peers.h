// SPDX-License-Identifier: MIT
// The other servers of the network (docs/DESIGN.md §11): a TLS channel to
// each, keyed ESP SAs over UDP between them, and host routes that send a
// node's traffic to the server holding it.
//
// Who talks to whom comes from the registry (registry/server_directory.h),
// read every second on the registry thread with the rest of server/.  Of two servers the one whose
// name sorts first connects to the other's PeerPort; both present their
// server certificate and demand the other's (control/tls.h,
// tls_interserver_ctx).  After TLS each sends server_hello: its registry
// name, its inbound SPI and ciphers; the SAs come from the TLS exporter as a
// client's do (control/keying.h), with the same rekeying and keepalives.
//
// The data path does not know any of this beyond Tunnel::server_peer: it
// relays to and from a server tunnel as between two clients, and checks a
// server tunnel's inner source against the route table.  Control thread
// only (the workers are paused while it runs).
#pragma once
#include <openssl/ssl.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>

#include "common/json.h"
#include "config/config.h"
#include "control/keying.h"
#include "control/tls_conn.h"
#include "core/loop.h"
#include "data/dataplane.h"
#include "data/route_table.h"
#include "data/tunnel.h"
#include "registry/registry_thread.h"
#include "registry/server_directory.h"

namespace lm {

class ServerPeers {
public:
    ServerPeers(EventLoop &loop, SaTable &sas, KeyExport *keys, Dataplane &dp, RouteTable &routes, const Config &cfg,
                std::string name);
    ~ServerPeers();
    ServerPeers(const ServerPeers &) = delete;
    ServerPeers &operator=(const ServerPeers &) = delete;

    // The TLS context and the PeerPort listener (before the privilege drop),
    // and this server's channel endpoints for its server/<name> record.
    bool start(RegistryThread &reg, std::string *err);
    // Every registry view (RegistryThread::View::directory): start the
    // channels we are to open, end those to servers that left, route.
    void on_directory(ServerDirectory d);
    // `link show`: the channel to server `name`: "up", "connecting" or
    // "down"; null for this server or one without a channel.
    const char *channel_state(const std::string &name) const;
    void tick(int64_t now);
    // `lanmesh reload`: the new CRL for new channels, and every channel
    // whose peer it revokes ends now.
    void reload_crl(const std::string &crl);
    void stop();
    void status(JsonWriter &j) const;
    // For the monitor and tests: links up, and routes to other servers' nodes.
    size_t links_up() const;
    size_t routes() const { return installed_.size(); }

    // The mesh across servers (server/server_xmesh.cc): messages for it
    // from another server, a channel that went down, and the way back.
    std::function<void(const std::string &server, MsgType t, const std::vector<uint8_t> &payload)> on_mesh;
    std::function<void(const std::string &server, Tunnel *t)> on_link_down;
    bool send(const std::string &server, MsgType t, const std::vector<uint8_t> &payload);
    Tunnel *tunnel_of(const std::string &server);
    // Which node holds `a` on which server, per the registry; "" if none.
    std::string node_at(const IpAddr &a, std::string *server) const;
    // The server holding node `name`, "" if none (or this one).
    std::string server_of(const std::string &name) const;

    static constexpr int64_t kRetryMs = 2000;

private:
    struct Link {
        enum class Phase { connecting, tls, hello, up };
        std::string name;              // the other server's registry name (acceptor: after its hello)
        bool initiator = false;
        Phase phase = Phase::connecting;
        int fd = -1;
        std::unique_ptr<TlsConn> conn;
        Tunnel tunnel;
        Keying keying;
        uint32_t my_spi = 0;
        int64_t deadline_ms = 0, last_rx_ms = 0, last_ping_ms = 0;
        bool dead = false;
        Link(SaTable &sas, KeyExport *exp, bool init) : initiator(init), keying(sas, tunnel, !init, exp) {}
    };

    void connect_to(const std::string &name, const ServerRecord &r);
    void on_connected(int fd);
    void on_accept();
    void on_io(int fd);
    bool on_frame(Link &l, MsgType t, const std::vector<uint8_t> &payload);
    bool on_hello(Link &l, const ServerHello &h);
    void tls_up(Link &l);
    void close_link(Link &l, const std::string &why);
    void reap();
    void update_interest(Link &l);
    void apply_routes();
    Link *up_link(const std::string &name);

    EventLoop &loop_;
    SaTable &sas_;
    KeyExport *keys_;
    Dataplane &dp_;
    RouteTable &routes_;
    const Config &cfg_;
    std::string name_;
    SSL_CTX *ctx_ = nullptr;
    int listen_fd_ = -1;
    ServerRecord mine_;
    ServerDirectory dir_;
    std::unordered_map<int, std::unique_ptr<Link>> links_;   // by fd, pending ones included
    std::map<std::string, int> by_name_;                     // connecting or up, by server name
    std::map<std::string, int64_t> retry_at_;                // initiator: no new attempt before
    std::map<std::string, std::string> last_failure_;        // initiator: the last reason logged
    std::vector<int> dead_fds_;
    std::map<IpAddr, std::string> by_addr_;                  // node address -> name (dir_)
    std::map<IpAddr, Tunnel *> installed_;                   // host routes we put into routes_
    uint64_t refused_ = 0, records_skipped_ = 0;
};

}  // namespace lm
