// SPDX-License-Identifier: MIT
// What the server and the client have in common: the event loop, the TUN
// device and its netlink configuration, the data plane and its sockets, the
// control socket, signals and status output.  Role-specific work happens in
// Server and Client, which derive from this.
#pragma once
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/json.h"
#include "config/config.h"
#include "control/crl_watch.h"
#include "control/key_export.h"
#include "control/proto_error.h"
#include "control/tls.h"
#include "control/tls_conn.h"
#include "core/ctl_socket.h"
#include "core/ctl_view.h"
#include "core/instance_lock.h"
#include "core/loop.h"
#include "core/metrics_http.h"
#include "data/counters.h"
#include "data/dataplane.h"
#include "data/workers.h"
#include "data/sa.h"
#include "net/netlink.h"

namespace lm {

// The [TLS] files (or inline PEM) of a configuration, as the TLS code takes them.
TlsFiles tls_files_of(const Config &c);

class PromWriter;

struct ControlCounters {
    uint64_t tls_accepted = 0, tls_refused = 0, tls_timeouts = 0, protocol_errors = 0;
    uint64_t admitted = 0, disconnected = 0, rekeys = 0, connects = 0;
    uint64_t protocol_errors_by[kProtoErrorCount] = {};   // their sum is protocol_errors
    uint64_t output_full_cuts = 0;   // sessions cut: the peer did not read (control/tls_conn.h)
};

class Node {
public:
    explicit Node(const Config &cfg);
    virtual ~Node();
    // Sets everything up; on failure *err says what, and everything made so
    // far is undone by the destructor.
    bool start(std::string *err);
    void run();
    // Undo all kernel state we made (routes, addresses, the device).
    void shutdown();

protected:
    // For each TLS connection: its handshake steps run with the workers
    // running (EventLoop::unguarded).
    TlsConn::StepRunner handshake_runner() {
        return [this](const std::function<void()> &step) { loop_.unguarded(step); };
    }
    // Runs f with the workers running (EventLoop::unguarded) and returns
    // its result: for netlink and whatever else can block
    // (common/might_block.h).  f must not touch what the workers read, and
    // the caller must not keep pointers into tunnels or SAs across it (the
    // workers' mail is delivered when the hold is taken back).
    bool workers_free(const std::function<bool()> &f) {
        bool ok = false;
        loop_.unguarded([&] { ok = f(); });
        return ok;
    }
    friend struct CtlCommands;   // core/ctl_commands.cc

    // Reads the TLS files into the role's context: the first step of
    // start(), so that a missing or unusable certificate fails before any
    // device, socket or address exists (lanmeshd(8)).
    virtual bool load_tls(std::string *err) = 0;
    virtual bool start_role(std::string *err) = 0;
    virtual void tick_role(int64_t now_ms) = 0;
    virtual void stop_role() = 0;
    virtual void status_role(JsonWriter &j) = 0;
    // A data-plane worker saw an outbound SA reach RekeyAfterPackets: start
    // the rekeys that are due now rather than at the next tick.
    virtual void rekey_role() = 0;
    // The role's own threads start here, after the privilege drop.
    virtual void start_threads_role() {}

    // After every load of the TLS files (start, reload): warns about the
    // key's file mode (or the configuration's, for an inline key) and the
    // CRL's validity, and watches the CRL from now on.
    void tls_loaded(SSL_CTX *ctx, const TlsFiles &used);
    // At reload: reads the TLS files of `next` into a new context for the
    // role (`server`: a server's) and makes it `ctx`, the one new sessions
    // get, taking over the [TLS] keys into cfg_; the context stays when no
    // file changed.  False with *err, and nothing changed, when the files
    // cannot be used (core/reload.cc).
    bool reload_tls(SSL_CTX *&ctx, const Config &next, bool server, std::string *err);
    // What `lanmesh link show` lists as warnings: the key's file mode, a CRL
    // out of (or near the end of) its validity.
    std::vector<std::string> warnings() const;
    bool open_tun(std::string *err);
    bool configure_link(int mtu, std::string *err);
    // Asks the kernel for the path MTU to `t`'s outer endpoint (as our
    // marked sockets see it) and sets the tunnel's inner limit from it
    // (data/pmtu.h); after an EMSGSIZE, and now and then to notice a rise.
    void learn_path_mtu(struct Tunnel &t);
    // Padded probes found that `outer` bytes make the round trip to t's
    // peer (client: its search; server: the client's result).
    void probed_path_mtu(struct Tunnel &t, unsigned outer);
    // Sizes per-worker state for the configured number of workers (before
    // any tunnel or SA exists) and returns that number.
    static int size_workers(const Config &cfg);
    void tunnel_json(JsonWriter &j, const struct Tunnel &t) const;
    std::string status_json();
    void counters_json(JsonWriter &j) const;
    // A peer broke the control protocol after its handshake.
    void count_protocol_error(ProtoError e) {
        ctl_counters_.protocol_errors++;
        ctl_counters_.protocol_errors_by[size_t(e)]++;
    }
    // "protocol_errors" by reason and "output_full_cuts", for `link show`.
    void control_json(JsonWriter &j) const;
    // The data sockets as "listen" array elements: {"proto","address"}.
    void data_sockets_json(JsonWriter &j) const;

    // ---- lanmesh(8): core/ctl_commands.cc, core/reload.cc, core/privdrop.cc
    // and the roles' server/server_ctl.cc, client/client_ctl.cc.
    CtlReply handle_request(const std::string &req, uid_t uid);
    bool open_control(std::string *err);
    // The last step of start(): run as cfg_.user with CAP_NET_ADMIN and
    // CAP_NET_RAW only (when started as root), before any thread exists.
    bool least_privilege(std::string *err);
    // Re-reads the configuration file and the CRL and applies what can
    // change at run time; `lanmesh reload` and SIGHUP.
    bool reload(ReloadReport *r, std::string *err);
    void reload_on_signal();

    // Events for `lanmesh monitor` (core/events.h lists the kinds and their
    // fields).  Call where the same fact is logged.
    void emit_event(const char *kind, const std::function<void(JsonWriter &)> &fields);
    // A control session's SAs moved to `epoch` (control/session.h): counted,
    // logged and an event, the same in both roles.
    void session_rekeyed(const std::string &peer, uint32_t epoch, bool we_started);
    void event_refused(const std::string &peer, const std::string &from, const std::string &reason);
    // The Prometheus text of MetricsListen (core/metrics.cc).
    std::string metrics_text();
    // The role's own metrics families (core/metrics.cc calls it last).
    virtual void metrics_role(PromWriter &) {}
    void count_refusal(const std::string &reason);
    static constexpr size_t kMaxRefusalReasons = 32;

    // What each role shows and changes.  link_role adds the role's fields to
    // the `link show` object; collect_peers lists every peer (core/ctl_view.h).
    virtual void link_role(JsonWriter &j, int stats) = 0;
    virtual void collect_peers(std::vector<PeerView> &out) = 0;
    virtual void routes_role(JsonWriter &j) = 0;
    virtual void leases_role(JsonWriter &j) = 0;
    // Changes return "" or a one-line error.
    virtual std::string peer_del_role(const std::string &name) = 0;
    // `force` adds a route via a peer that is neither configured nor
    // connected (a client not yet seen); without it that is refused.
    virtual std::string route_change_role(bool add, const Prefix &p, const std::string &via, bool force) = 0;
    // Applies `next` (already checked: same role) and records what it did.
    // Returns false with *err and nothing changed when the CRL cannot be used.
    virtual bool reload_role(const Config &next, ReloadReport *r, std::string *err) = 0;

    Config cfg_;
    EventLoop loop_;
    SaTable sas_;
    DataCounters counters_;
    ControlCounters ctl_counters_;
    DataWorkers data_;
    Dataplane &dp_;            // the control thread's engine: keepalives, probes
    Netlink nl_;
    KeyExport keys_;
    CtlSocket ctl_;
    MetricsListener metrics_;
    std::map<std::string, uint64_t> refused_by_reason_;   // bounded, see count_refusal()
    InstanceLock lock_;        // RUNDIR/NET.lock: one daemon per network
    std::vector<int> tun_fds_;   // one queue per worker
    std::string dev_;
    std::string run_as_;       // the user the daemon runs as (link show)
    int signal_fd_ = -1;
    time_t started_ = 0;
    bool link_configured_ = false;
    bool own_rundir_ = false;   // we created RuntimeDirectory: hand it to cfg_.user
    bool rekey_due_ = false;    // set from the workers' mail, acted on after it
    CrlWatch crl_watch_;
    std::string key_warning_;
    std::string role_warning_;   // the role's standing warning, e.g. a client holding off
    std::string route_warning_;  // a client: a pushed route it refused, and why
};

}  // namespace lm
