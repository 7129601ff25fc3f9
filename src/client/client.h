// SPDX-License-Identifier: MIT
// The client role: connects to the server over TLS, is admitted, configures
// the device with what the server hands out, and carries its traffic in ESP.
// When the server goes away it keeps the device and addresses and
// reconnects with exponential backoff.
#pragma once
#include <openssl/ssl.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>

#include "client/mtu_search.h"
#include "client/path_ladder.h"
#include "control/keying.h"
#include "control/messages.h"
#include "control/rtt.h"
#include "control/session.h"
#include "control/tls_conn.h"
#include "core/node.h"
#include "data/mtu_probe.h"
#include "data/tunnel.h"
#include "client/name_resolver.h"
#include "mesh/mesh_client.h"
#include "net/policy_rules.h"
#include "client/underlay_watch.h"

namespace lm {

class Client : public Node {
public:
    explicit Client(const Config &cfg);
    ~Client() override;

private:
    enum class Phase { idle, connecting, tls, waiting_config, up };

    bool load_tls(std::string *err) override;
    bool start_role(std::string *err) override;
    void tick_role(int64_t now_ms) override;
    void rekey_role() override;
    // Keepalive, rekey and bye, as the server runs them too.
    ControlSession session() { return {*conn_, keying_, rtt_, last_rx_ms_, last_ping_ms_}; }
    // Tells the data plane what lies inside the network (DataPolicy::overlay).
    void set_overlay();
    void stop_role() override;
    void status_role(JsonWriter &j) override;

    void connect();
    void on_tcp_connected();
    void on_io();
    bool on_frame(MsgType type, const std::vector<uint8_t> &payload);
    bool on_config(const ConfigMsg &m);
    void on_route_update(const RouteUpdate &m);
    bool apply_layout(const ConfigMsg &m, std::string *err);
    // ---- pushed routes and the full tunnel (client/client_routes.cc)
    // Makes the kernel's pushed routes what `want` says: only the
    // difference changes, so routes that stay never blink.  A route the
    // kernel refuses is logged and left out; the tunnel stays up.
    void sync_routes(const std::vector<std::pair<Prefix, IpAddr>> &want);
    // sync_routes' kernel part: netlink only, with the workers running.
    void sync_kernel_routes(const std::vector<std::pair<Prefix, IpAddr>> &want);
    void remove_routes();
    // Whether a route would take the daemon's own traffic into the tunnel:
    // it holds the server's address, or it is a default route or half of
    // one (it holds every peer's public address too).
    bool swallows_underlay(const Prefix &p) const;
    // The table a route goes in: kMainTable, or FwMark's table with the
    // policy rules in place; 0 (and *why) when the route must be refused.
    uint32_t route_table_for(const Prefix &p, std::string *why);
    // SO_MARK on the data sockets (start) and on each control socket.
    void mark_sockets();
    // A data socket group on `port` for a birthday-punched pair (MeshClient::Env).
    int adopt_port(int family, uint16_t port, int reuse);
    void mark_socket(int fd, const char *what);
    void disconnect(const std::string &why, bool send_bye);
    void update_interest();
    void conn_failed();
    // The server broke the protocol: counted by reason, a bye, reconnect.
    bool protocol_error(ProtoError e, const std::string &why);
    int path_mtu() const;
    // The data path (client_path.cc, client/path_ladder.h): starts the
    // ladder for a new session, runs it each tick, reports what changed,
    // and carries ESP in TLS when that is the step.
    void path_start(const ConfigMsg &m);
    void path_tick(int64_t now);
    void path_report();
    std::string path_status() const;
    void on_stream_out(const Tunnel *t, const uint8_t *esp, size_t len);
    // The steps our own configuration allows (kPath* bits).
    uint8_t own_paths() const;
    uint16_t rebind_data_socket();
    // Roaming (client/underlay_watch.h): our addresses or routes changed.  If
    // the route to the server is another now, register again at once on a
    // new connection and data socket, and punch every pair again.
    void on_underlay_change();
    // `Server = NAME`: looked up off the control thread (name_resolver.h).
    void start_resolve();
    void on_resolved(const std::vector<IpAddr> &addrs, const std::string &err);
    // The server as the log names it: "192.0.2.1:4500 (vpn.example)".
    std::string server_str() const;

    // lanmesh(8) (client_ctl.cc): what `show` prints, reload, and the
    // monitor's events for the connection to the server.
    void link_role(JsonWriter &j, int stats) override;
    void collect_peers(std::vector<PeerView> &out) override;
    void routes_role(JsonWriter &j) override;
    void leases_role(JsonWriter &j) override;
    std::string peer_del_role(const std::string &name) override;
    std::string route_change_role(bool add, const Prefix &p, const std::string &via, bool force) override;
    bool reload_role(const Config &next, ReloadReport *r, std::string *err) override;
    void event_connected();
    void event_disconnect(const std::string &why);   // before phase_ changes
    std::string own_name() const;
    // NatKeepalive: the shorter of our own (`own`, the file's) and the
    // server's pushed value; a NAT in front of us may forget sooner than
    // the server's admin assumed, and only we can know.
    int nat_keepalive_s(int own) const {
        return current_.nat_keepalive ? std::min(own, int(current_.nat_keepalive)) : own;
    }

    SSL_CTX *ctx_ = nullptr;
    Phase phase_ = Phase::idle;
    int tcp_fd_ = -1;                 // while connecting; then owned by conn_
    std::unique_ptr<TlsConn> conn_;
    std::unique_ptr<TlsConn> dying_;  // closed inside its own callback; freed after
    Tunnel tunnel_;
    Keying keying_;
    MeshClient mesh_;
    uint32_t my_spi_ = 0;
    bool raw_available_ = false;
    bool behind_nat_ = false;
    IpAddr local_addr_;
    std::optional<ConfigMsg> applied_;   // what the kernel has now
    ConfigMsg current_;
    int64_t deadline_ms_ = 0, next_connect_ms_ = 0, last_rx_ms_ = 0, last_ping_ms_ = 0;
    RttMeter rtt_;
    int64_t last_pmtu_ms_ = 0;
    time_t last_nat_keepalive_ = 0;
    int backoff_s_ = 1;
    bool replaced_ = false;   // the server's bye said kByeReplaced: hold off long
    bool ready_logged_ = false;

    struct KernelRoute {
        Prefix dst;
        IpAddr via;
        uint32_t table = kMainTable;
    };
    std::vector<KernelRoute> kernel_routes_;   // pushed routes in the kernel now
    std::vector<std::pair<Prefix, std::string>> refused_routes_;   // and why
    PolicyRules rules_;
    std::string mark_error_;   // why the daemon's sockets carry no mark ("" = they do)
    UnderlayWatch underlay_;
    bool underlay_watched_ = false;
    int tun_ifindex_ = 0;
    UnderlayRoute route_;            // to the server, as of the last connect or change
    bool reconnect_now_ = false;     // disconnect(): no backoff, we connect at once
    uint64_t underlay_changes_ = 0;  // times the route to the server changed
    NameResolver resolver_{loop_};
    bool resolving_ = false;
    // The listed server in use (cfg_.servers); failover moves to the next.
    const ServerAddress &srv() const { return cfg_.servers[server_idx_]; }
    size_t server_idx_ = 0;
    uint64_t failovers_ = 0;                 // moves to the next listed server
    size_t servers_failed_ = 0;              // listed servers failed in a row since the last admission
    Endpoint server_;                       // the server's address in use (or last tried)
    std::vector<Endpoint> server_addrs_;    // the addresses still to try in this round
    std::string last_resolved_;             // the last answer for the name, as logged
    PathLadder ladder_;
    bool stream_pending_ = false;   // ESP frames queued on conn_ since the last flush

    // Path MTU by padded probes (client_mtu.cc).
    void mtu_tick(int64_t now);
    void mtu_send(MtuProbeKind kind, uint16_t id, unsigned size, size_t len);
    MtuSearch mtu_search_;
    std::string mtu_key_;            // the step and endpoint searched; "" = search again
    int64_t mtu_next_ms_ = 0;        // when to search again
    int64_t mtu_result_ms_ = 0;      // when the server was last told the result
    uint16_t mtu_result_id_ = 0;
    bool mtu_unanswered_logged_ = false;
    std::vector<uint8_t> mtu_buf_;
};

}  // namespace lm
