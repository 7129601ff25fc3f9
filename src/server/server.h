// SPDX-License-Identifier: MIT
// The server role: admits clients over TLS, leases addresses per topology,
// keys one pair of ESP SAs per client and forwards between the TUN device
// and the clients (and between clients when ClientToClient allows it).
#pragma once
#include <openssl/ssl.h>

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "control/keying.h"
#include "control/messages.h"
#include "control/rtt.h"
#include "control/session.h"
#include "control/tls_conn.h"
#include "core/node.h"
#include "data/route_table.h"
#include "data/tunnel.h"
#include "registry/registry_thread.h"
#include "server/leases.h"
#include "server/pending_handshakes.h"
#include "server/server_peers.h"
#include "config/topology.h"

namespace lm {

class Server : public Node {
public:
    explicit Server(const Config &cfg);
    ~Server() override;

private:
    struct Session {
        enum class Phase { tls, hello, up };
        std::unique_ptr<TlsConn> conn;
        Phase phase = Phase::tls;
        std::string name;
        Endpoint tcp_peer;
        int64_t deadline_ms = 0;       // handshake + hello must finish by then
        int64_t last_rx_ms = 0, last_ping_ms = 0;
        RttMeter rtt;
        Tunnel tunnel;
        Keying keying;
        std::optional<Lease> lease;
        bool dead = false;             // closed; freed by reap() outside handlers
        Hello hello;                   // what the client said about itself
        bool nat = false;              // a NAT between it and us
        std::vector<uint32_t> pair_spis;   // its inbound pair SPIs we forward
        // The mesh pairs it holds as far as we know (peer -> introduction):
        // those its HELLO listed and those we introduced since.  Kept while
        // the peer is away, so a peer that comes back is matched against it.
        std::map<std::string, uint64_t> held;
        Endpoint announced;            // its UDP endpoint as its pairs last heard it
        int64_t announced_ms = 0;
        bool cut = false;              // ended for cause: its peers drop their pairs
        bool left = false;             // ended by its bye or a keepalive timeout: its pairs' other ends are told
        bool replaced = false;         // a newer session of its name took over its pairs
        std::vector<std::pair<Prefix, IpAddr>> routes;   // last sent (config or route_update)
        // With a [Registry]: the address etcd gave it (admit() runs again
        // with it), and whether the question is still out.
        std::optional<IpAddr> registry_addr;
        bool awaiting_registry = false;
        uint64_t serial = 0;           // tells a reused fd's session from the one that asked
        uint8_t paths = 0;             // data-path steps offered (Config's paths)
        bool stream_pending = false;   // ESP frames queued since the last flush
        Session(SaTable &sas, KeyExport *exp) : keying(sas, tunnel, true, exp) {}
        // Keepalive, rekey and bye, as the client runs them too.
        ControlSession ctl() { return {*conn, keying, rtt, last_rx_ms, last_ping_ms}; }
    };

    bool load_tls(std::string *err) override;
    bool start_role(std::string *err) override;
    void tick_role(int64_t now_ms) override;
    void rekey_role() override;
    void start_threads_role() override {
        if (registry_) registry_->launch();
    }
    // Takes what the client's padded probes found (data/mtu_probe.h).
    void take_probed_mtu(Tunnel &t);
    void stop_role() override;
    void status_role(JsonWriter &j) override;

    bool open_listeners(std::string *err);
    void on_accept(int lfd);
    void on_session_io(int fd);
    bool on_frame(Session &s, MsgType type, const std::vector<uint8_t> &payload);
    // The peer broke the protocol after its handshake: counted by reason,
    // told why with a bye while TLS still works, one log line.  Returns false.
    bool protocol_error(Session &s, ProtoError e, const std::string &why);
    // Its output queue stayed full or overflowed (control/tls_conn.h).
    void cut_not_reading(Session &s, const std::string &why);
    void conn_failed(Session &s);
    // Makes room for a new connection from `peer` (PendingHandshakes).
    void limit_pending(const Endpoint &peer);
    void pause_accepting();
    // What a client gets pushed: Route, and the networks behind the other
    // clients when clients may talk to each other.
    std::vector<Prefix> pushed_for(const std::string &name) const;
    // Sends route_update to every admitted client whose routes changed
    // (runtime `route add`/`route del`, reload).
    void push_routes();
    bool admit(Session &s, const Hello &h);
    // With a [Registry]: asks etcd for the session's address; admit() runs
    // again with the answer (docs/DESIGN.md §11).
    bool ask_registry(Session &s, const Hello &h);
    std::map<IpAddr, std::string> fixed_addresses() const;
    void established(Session &s);
    void close_session(int fd, const std::string &why, bool send_bye);
    void reap();
    void update_interest(Session &s);
    // The first step of the client's data path, and (*paths) every step
    // it may move to (client/path_ladder.h).
    Encapsulation choose_encap(const Session &s, const Hello &h, uint8_t *paths) const;
    // The data path (server_path.cc): the client's `path` message, and ESP
    // carried in its TLS session both ways.
    bool on_path(Session &s, const PathMsg &m);
    void on_stream_out(const Tunnel *t, const uint8_t *esp, size_t len);
    void on_stream_end();

    // The mesh (server_mesh.cc): introductions, blind forwarding by SPI.
    Session *session_by_name(const std::string &name);
    Session *session_by_tunnel(const Tunnel *t);
    void on_relay(Tunnel &from, Tunnel &to, const IpAddr &dst);
    // The mesh across servers (server_xmesh.cc, docs/DESIGN.md §11): the
    // introduction, the pair keys and the blind relay span two servers;
    // pair ESP for a node on another server goes to that server by SPI.
    void xmesh_relay(Session &a, const IpAddr &dst);
    // takeup: a's HELLO still holds the pair (with the id in intros_).
    void introduce_remote(Session &a, const std::string &peer, const std::string &server, bool takeup = false);
    // Pairs a node's HELLO holds with nodes of other servers, asked to be
    // taken up as on one server (mesh_register); retried each tick until
    // the registry names the server and its channel is up, kTakeupMs at most.
    void xmesh_takeups(int64_t now);
    void on_server_mesh(const std::string &server, MsgType t, const std::vector<uint8_t> &payload);
    // A pair key for a node on another server: true when it was one
    // (forwarded there, or refused and counted).
    bool xmesh_peer_key(Session &s, const PeerKey &m);
    void xmesh_link_down(const std::string &server, Tunnel *t);
    void xmesh_forward(uint32_t spi, Tunnel *t);
    void introduce(Session &a, Session &b);
    PeerInfo peer_info_for(const Session &s, const Session &other, uint64_t intro_id) const;
    bool on_peer_key(Session &s, const PeerKey &m);
    bool on_peer_request(Session &s, const PeerRequest &m);
    // A client was admitted: each pair both ends hold under one introduction
    // is taken up again (and re-introduced, so both start a new epoch); a
    // pair only one end holds is dropped there (peer_gone).
    void mesh_register(Session &s);
    // Re-introduces a client whose UDP endpoint moved to the peers it is
    // introduced to, so that they punch to where it is now.
    void mesh_announce_moves(int64_t now);
    // A session ends: forget its pairs; when it was cut for cause (revoked,
    // deleted by the administrator), tell its peers to drop their pair SAs.
    void mesh_forget(Session &s, bool cut, const std::string &why);
    // The data path saw pair ESP for an SPI no client owns: if its owner
    // left, the sender is told (peer_gone) and drops the pair.
    void on_unknown_pair_spi(uint32_t spi, const Endpoint &from, int udp_idx);

    // lanmesh(8) (server_ctl.cc): what `show` prints, `peer del`, networks
    // behind clients at run time, reload, and the monitor's peer events.
    void link_role(JsonWriter &j, int stats) override;
    void collect_peers(std::vector<PeerView> &out) override;
    void routes_role(JsonWriter &j) override;
    void metrics_role(PromWriter &w) override;
    void leases_role(JsonWriter &j) override;
    std::string peer_del_role(const std::string &name) override;
    std::string route_change_role(bool add, const Prefix &p, const std::string &via, bool force) override;
    bool reload_role(const Config &next, ReloadReport *r, std::string *err) override;
    IpAddr network_gateway(const std::string &peer, const Prefix &net) const;
    bool install_network(const std::string &peer, const Prefix &net, std::string *err);
    void remove_network(const std::string &peer, const Prefix &net);
    void cut_session(int fd, const std::string &why);
    void event_peer_up(const Session &s);
    void event_peer_down(const Session &s, const std::string &why);

    // The servers of the network and where each node is, as the registry
    // thread read them from etcd (server_registry.cc, docs/DESIGN.md §11):
    // joins and departures are logged and go to `lanmesh monitor`.
    void on_registry_view(const RegistryThread::View &v);
    // Revocation everywhere: this server's CRL goes to etcd at start and
    // every reload; a certificate another server revoked is cut here within
    // a poll, and refused at admission (its reason, or "" when not revoked).
    void publish_revoked();
    // At start: a wrong etcd certificate or endpoint stops the start with
    // the reason; members merely down are logged (registry/registry_probe.h).
    bool check_registry(std::string *err);
    void cut_registry_revoked();
    std::string registry_revocation(SSL *ssl) const;
    std::set<std::string> revoked_ids_;                           // P revoked/, as last read
    void registry_json(JsonWriter &j);
    struct KnownServer {
        RegistryThread::ServerRec rec;
        bool alive = true;
        time_t since = 0;            // joined, or left
    };
    std::vector<KnownServer> reg_servers_;                        // by name; departed ones too (bounded)
    std::vector<std::pair<std::string, std::string>> reg_online_;  // node -> server, as of reg_online_at_
    time_t reg_online_at_ = 0;
    bool reg_seen_ = false;                                       // a first view arrived

    SSL_CTX *ctx_ = nullptr;
    std::vector<int> listen_fds_;
    TopologyPlan plan_;
    LeaseStore leases_;
    std::unique_ptr<RegistryThread> registry_;   // [Registry]: leases shared in etcd
    std::unique_ptr<ServerPeers> peers_;         // [Registry] PeerAddress: the other servers
    // Pairs whose other end is on another server: (lo, hi) -> that server.
    std::map<std::pair<std::string, std::string>, std::string> remote_pairs_;
    struct Takeup {
        std::string node, peer;
        uint64_t id;
        int64_t until;
    };
    std::vector<Takeup> takeups_;
    static constexpr int64_t kTakeupMs = 30000;
    // Pair SPIs forwarded to another server, oldest first (bounded).
    std::deque<uint32_t> remote_spis_;
    static constexpr size_t kMaxRemoteSpis = 4096;
    uint64_t xmesh_dropped_ = 0;   // server_intro / server_key we could not use
    uint64_t next_serial_ = 0;
    RouteTable routes_;
    std::unordered_map<int, std::unique_ptr<Session>> sessions_;   // by TCP fd
    std::map<std::string, int> by_name_;                           // admitted only
    std::unordered_map<const Tunnel *, Session *> by_tunnel_;      // admitted only
    std::vector<Session *> stream_touched_;                        // ESP frames queued
    std::unordered_map<uint32_t, Tunnel *> forward_;               // pair SPI -> owner
    std::vector<int> dead_fds_;                                    // closed, not yet freed
    PendingHandshakes pending_;                                    // not admitted yet, by fd
    struct HandshakeCounters {
        uint64_t evicted_per_source = 0, evicted_total = 0;
        uint64_t evicted_no_fds = 0, refused_no_fds = 0;
    } hs_counters_;
    bool accept_paused_ = false;   // out of file descriptors: retried at the next tick
    std::map<std::pair<std::string, std::string>, uint64_t> intros_;   // (lo, hi) -> intro id
    std::map<std::pair<std::string, std::string>, int64_t> last_reintro_;
    uint64_t mesh_keys_forwarded_ = 0, mesh_keys_refused_ = 0, mesh_intros_ = 0;
    // Pair SPIs of clients that left, and whose they were (bounded, oldest
    // out first): pair ESP still sent to one gets its sender told.
    std::unordered_map<uint32_t, std::string> gone_spis_;
    std::deque<uint32_t> gone_order_;
    static constexpr size_t kMaxGoneSpis = 4096;
    // Pair SPIs of a replaced session, forwarded to its successor.
    std::map<std::string, std::vector<uint32_t>> handover_;
    // peer_gone sent because pair ESP met an unknown SPI (per sender and
    // SPI at most once a second); unknown SPIs no departed client owned.
    uint64_t mesh_unknown_spi_told_ = 0, mesh_unknown_spi_unowned_ = 0;
    std::map<std::pair<std::string, uint32_t>, int64_t> unknown_told_;
    int mtu_ = 1400;
    // Networks added by `lanmesh route add` (peer, prefix); kept across
    // reloads unless the file claims the prefix.
    std::vector<std::pair<std::string, Prefix>> runtime_networks_;
    // Stand-in tunnels of configured clients that are not connected, for
    // `peer show` (collect_peers).
    std::vector<std::unique_ptr<Tunnel>> offline_;
};

}  // namespace lm
