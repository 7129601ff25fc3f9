// SPDX-License-Identifier: MIT
#include "core/node.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sched.h>

#include <algorithm>
#include <cstring>

#include "common/log.h"
#include "common/might_block.h"
#include "core/privdrop.h"
#include "control/tls.h"
#include "control/tls_conn.h"
#include "core/sd_notify.h"
#include "data/pmtu.h"
#include "data/tunnel.h"
#include "net/route_mtu.h"
#include "net/tun.h"
#include "net/tun_probe.h"
#include "net/tun_steering.h"

namespace lm {

Node::Node(const Config &cfg)
    : cfg_(cfg), data_(size_workers(cfg), sas_, counters_), dp_(data_.control()) {}

Node::~Node() {
    data_.stop();
    if (signal_fd_ >= 0) close(signal_fd_);
    for (int fd : tun_fds_) close(fd);
}

int Node::size_workers(const Config &cfg) {
    int n = cfg.workers;
    if (n <= 0) {
        cpu_set_t cpus;
        n = sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? CPU_COUNT(&cpus) : 1;
        n = std::clamp(n, 1, kMaxWorkers);
    }
    set_data_slots(n + 1);
    return n;
}

static bool mkdir_p(const std::string &path, mode_t mode, std::string *err) {
    for (size_t i = 1; i <= path.size(); i++) {
        if (i != path.size() && path[i] != '/') continue;
        std::string part = path.substr(0, i);
        if (mkdir(part.c_str(), mode) < 0 && errno != EEXIST) {
            *err = "cannot create " + part + ": " + strerror(errno);
            return false;
        }
    }
    return true;
}

bool Node::start(std::string *err) {
    started_ = time(nullptr);
    if (geteuid() == 0 && !(*err = unusable_user(cfg_.user)).empty()) return false;
    // Before anything else: a second daemon for this network must not touch
    // the first one's device, ports, socket or files.
    own_rundir_ = access(cfg_.runtime_directory.c_str(), F_OK) != 0;
    if (!mkdir_p(cfg_.runtime_directory, 0755, err)) return false;
    if (!lock_.acquire(cfg_.runtime_directory + "/" + cfg_.net + ".lock", "network " + cfg_.net, err)) return false;
    if (!load_tls(err)) return false;
    // Signals arrive through the loop, never asynchronously.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    signal(SIGPIPE, SIG_IGN);
    signal_fd_ = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    loop_.add(signal_fd_, EPOLLIN, [this](uint32_t) {
        signalfd_siginfo si;
        while (read(signal_fd_, &si, sizeof si) == sizeof si) {
            if (si.ssi_signo == SIGHUP) {
                reload_on_signal();
                continue;
            }
            LM_INFO("signal %d: shutting down", int(si.ssi_signo));
            loop_.stop();
        }
    });

    if (!cfg_.debug_key_file.empty()) {
        if (!keys_.open(cfg_.debug_key_file, err)) return false;
        LM_WARN("DebugKeyFile is set: ESP keys are written to %s (debugging aid, never in production)",
                cfg_.debug_key_file.c_str());
    }
    if (!nl_.open(err)) return false;
    if (!open_tun(err)) return false;
    if (!start_role(err)) return false;
    // The mail is delivered when the loop pauses the workers (the guard
    // below), before this handler runs; a rekey it asks for is started here,
    // outside the delivery, like one the tick starts.
    data_.on_rekey_due = [this](Tunnel &) { rekey_due_ = true; };
    data_.on_path_too_big = [this](Tunnel &t) { learn_path_mtu(t); };
    loop_.add(data_.mail_fd(), EPOLLIN, [this](uint32_t) {
        data_.drain_mail_fd();
        if (rekey_due_) {
            rekey_due_ = false;
            rekey_role();
        }
    });

    if (!open_control(err)) return false;
    if ((cfg_.metrics_tcp || !cfg_.metrics_unix.empty()) &&
        !metrics_.open(loop_, cfg_.metrics_tcp ? &*cfg_.metrics_tcp : nullptr, cfg_.metrics_unix,
                       [this] { return metrics_text(); }, err))
        return false;
    loop_.set_tick(250, [this] {
        for (const auto &w : crl_watch_.due(time(nullptr))) LM_WARN("%s", w.c_str());
        tick_role(EventLoop::now_ms());
        ctl_.tick(EventLoop::now_ms());
        metrics_.tick(EventLoop::now_ms());
    });
    return least_privilege(err);
}

TlsFiles tls_files_of(const Config &c) {
    return TlsFiles{c.ca, c.certificate, c.key, c.crl, c.remote_cert_tls, c.ca_pem, c.certificate_pem, c.key_pem};
}

void Node::tls_loaded(SSL_CTX *ctx, const TlsFiles &used) {
    workers_free([&] {   // a stat(): at reload, the workers run meanwhile
        key_warning_ = tls_key_mode_warning(used, cfg_.file);
        return true;
    });
    if (!key_warning_.empty()) LM_WARN("%s", key_warning_.c_str());
    crl_watch_.set(used.crl, tls_crl_times(ctx));
    for (const auto &w : crl_watch_.due(time(nullptr))) LM_WARN("%s", w.c_str());
}

std::vector<std::string> Node::warnings() const {
    std::vector<std::string> out = crl_watch_.standing(time(nullptr));
    if (!key_warning_.empty()) out.push_back(key_warning_);
    if (!role_warning_.empty()) out.push_back(role_warning_);
    if (!route_warning_.empty()) out.push_back(route_warning_);
    return out;
}

// One queue per worker; the steering program below spreads flows over the
// queues and keeps each flow on its queue.  A persistent device made
// without multi_queue has one queue: the first worker reads it, and every
// worker still writes to it and handles its own socket.
bool Node::open_tun(std::string *err) {
    if (!(*err = tun_device_unusable(cfg_.device)).empty()) return false;
    int n = data_.count();
    for (int i = 0; i < n; i++) {
        int fd = tun_open(i ? dev_ : cfg_.device, true, &dev_, err, /*vnet_hdr=*/true);
        if (fd < 0 && i == 0) {
            std::string mq_err = *err;
            fd = tun_open(cfg_.device, false, &dev_, err, true);
            if (fd < 0) {
                *err = mq_err;
                return false;
            }
            if (n > 1)
                LM_WARN("%s has a single queue (a persistent device made without multi_queue): "
                        "only the first of %d workers reads it", dev_.c_str(), n);
            tun_fds_.push_back(fd);
            break;
        }
        if (fd < 0) return false;
        tun_fds_.push_back(fd);
    }
    if (tun_fds_.size() > 1) {
        std::string e;
        if (tun_steer_by_flow_hash(tun_fds_[0], &e))
            LM_INFO("data plane: flows go to TUN queues by a hash of addresses and ports");
        else
            LM_WARN("data plane: %s; the kernel's default puts all flows of a peer on one worker", e.c_str());
    }
    data_.set_tun(tun_fds_);
    return true;
}

bool Node::configure_link(int mtu, std::string *err) {
    if (!workers_free([&] { return nl_.link_up(dev_, mtu, err); })) return false;
    // What inner TCP may send (data/pmtu.h); workers are paused here.
    if (mtu > 0) data_.for_each([&](Dataplane &dp) { dp.policy.inner_mtu = unsigned(mtu); });
    link_configured_ = true;
    return true;
}

void Node::learn_path_mtu(Tunnel &t) {
    Tunnel &path = t.via ? *t.via : t;
    bool udp = path.encap == Encapsulation::udp;
    Endpoint ep = udp ? path.udp_peer : Endpoint{path.raw_peer, 1};
    if (!ep.addr.is_set() || !ep.port) return;
    int fam = ep.addr.family;
    int outer = route_mtu(ep, data_.fwmark());
    // Where ICMP is filtered the kernel never learns a smaller hop's MTU;
    // the probes' answer does (data/mtu_probe.h).
    bool probed = path.probed_outer && (!outer || int(path.probed_outer) < outer);
    if (probed) outer = int(path.probed_outer);
    if (!outer) return;
    unsigned inner = inner_mtu_for_path(unsigned(outer), fam == AF_INET6, udp);
    if (inner == path.path_mtu) return;
    LM_INFO("path MTU to %s (%s): %d%s, inner packets up to %u", path.name.c_str(), ep.addr.str().c_str(), outer,
            probed ? " (probed)" : "", inner);
    path.path_mtu = inner;
}

void Node::probed_path_mtu(Tunnel &t, unsigned outer) {
    Tunnel &path = t.via ? *t.via : t;
    if (path.probed_outer == outer) return;
    path.probed_outer = outer;
    learn_path_mtu(t);
}

void Node::run() {
    // Threads start only now, after least_privilege(): they inherit the
    // dropped capabilities.  From here on the control thread touches shared
    // data-plane state only with the workers paused (data/workers.h).
    run_as_ = user_name(geteuid());   // the user database may block: not in a handler
    data_.start();
    start_threads_role();
    loop_.set_guard([this] { data_.pause_all(); },
                    [this] {
                        data_.resume_all();
                        keys_.flush();
                    });
    // A server is ready once it listens; a client once its tunnel is up.
    if (cfg_.role == Role::server) sd_notify_send("READY=1\nSTATUS=serving on " + dev_);
    loop_.run();
    sd_notify_send("STOPPING=1");
    data_.stop();
    loop_.set_guard(nullptr, nullptr);
    stop_role();
}

void Node::shutdown() {
    ctl_.close();
    metrics_.close();
    nl_.cleanup();
    // Closing a non-persistent TUN removes the device and whatever the
    // kernel attached to it.
    data_.stop();
    for (int fd : tun_fds_) close(fd);
    tun_fds_.clear();
}

void Node::tunnel_json(JsonWriter &j, const Tunnel &t) const {
    j.kv("name", t.name);
    j.kv("encapsulation", to_string(t.encap));
    if (t.encap == Encapsulation::udp)
        j.kv("endpoint", t.udp_peer.port ? t.udp_peer.str() : std::string("-"));
    else
        j.kv("endpoint", t.raw_peer.is_set() ? t.raw_peer.str() : std::string("-"));
    Tunnel::Stats st = t.total();
    j.kv("rx_packets", st.rx_packets).kv("rx_bytes", st.rx_bytes);
    j.kv("tx_packets", st.tx_packets).kv("tx_bytes", st.tx_bytes);
    j.kv("drops_src_not_allowed", st.drops_src);
    j.kv("last_rx", int64_t(st.last_rx));
    j.begin_array("sa");
    auto in = [&](const InboundSa *sa, const char *state) {
        if (!sa) return;
        j.begin_object().kv("direction", "in").kv("state", state).kv("spi", uint64_t(sa->spi));
        j.kv("epoch", uint64_t(sa->epoch)).kv("cipher", to_string(sa->cipher));
        j.kv("packets", sa->packets()).kv("bytes", sa->bytes()).kv("seq", uint64_t(sa->replay.top()));
        j.kv("age", int64_t(time(nullptr) - sa->created)).end_object();
    };
    in(t.in_cur.get(), "current");
    in(t.in_old.get(), "old");
    if (t.out) {
        const OutboundSa *sa = t.out.get();
        j.begin_object().kv("direction", "out").kv("state", "current").kv("spi", uint64_t(sa->spi));
        j.kv("epoch", uint64_t(sa->epoch)).kv("cipher", to_string(sa->cipher));
        j.kv("packets", sa->packets()).kv("bytes", sa->bytes()).kv("seq", uint64_t(sa->last_seq()));
        j.kv("age", int64_t(time(nullptr) - sa->created)).end_object();
    }
    j.end_array();
}

// The whole state in one object: the control request "status", a debugging
// aid that lanmesh(8) does not use.
std::string Node::status_json() {
    JsonWriter j;
    j.begin_object();
    j.kv("network", cfg_.net).kv("role", to_string(cfg_.role)).kv("device", dev_);
    j.kv("uptime", int64_t(time(nullptr) - started_));
    counters_json(j);
    status_role(j);
    j.end_object();
    return j.str() + "\n";
}

void Node::control_json(JsonWriter &j) const {
    j.begin_object("protocol_errors");
    for (size_t e = 0; e < kProtoErrorCount; e++) j.kv(json_key(ProtoError(e)), ctl_counters_.protocol_errors_by[e]);
    j.end_object();
    j.kv("output_full_cuts", ctl_counters_.output_full_cuts);
}

// "counters" and "drops", shared by "status" and `lanmesh -s link show`.
void Node::counters_json(JsonWriter &j) const {
    const DataCounters c = data_.totals();   // all workers and the control thread
    j.begin_object("counters");
    j.kv("udp_rx", c.udp_rx).kv("udp_tx", c.udp_tx);
    j.kv("raw_rx", c.raw_rx).kv("raw_tx", c.raw_tx);
    j.kv("tun_rx", c.tun_rx).kv("tun_tx", c.tun_tx);
    j.kv("keepalive_rx", c.keepalive_rx).kv("relayed", c.relayed);
    j.kv("rx_batches", c.rx_batches).kv("tx_batches", c.tx_batches);
    j.kv("forwarded", c.forwarded).kv("probe_rx", c.probe_rx).kv("probe_tx", c.probe_tx);
    j.kv("dummy_replies", c.dummy_replies).kv("dummy_replies_limited", c.dummy_replies_limited);
    j.kv("stream_rx", c.stream_rx).kv("stream_tx", c.stream_tx);
    j.kv("gso_tx", c.gso_tx).kv("gro_rx", c.gro_rx);
    j.kv("gso_tun_rx", c.gso_tun_rx).kv("gro_tun_tx", c.gro_tun_tx);
    j.kv("mss_clamped", c.mss_clamped).kv("ptb_sent", c.ptb_sent).kv("ptb_suppressed", c.ptb_suppressed);
    j.kv("tls_accepted", ctl_counters_.tls_accepted).kv("tls_refused", ctl_counters_.tls_refused);
    j.kv("tls_timeouts", ctl_counters_.tls_timeouts).kv("protocol_errors", ctl_counters_.protocol_errors);
    j.kv("admitted", ctl_counters_.admitted).kv("disconnected", ctl_counters_.disconnected);
    j.kv("rekeys", ctl_counters_.rekeys).kv("connects", ctl_counters_.connects);
    j.kv("output_full_cuts", ctl_counters_.output_full_cuts);
    j.end_object();
    j.begin_object("drops");
    for (int d = 0; d < int(Drop::count_); d++) j.kv(to_string(Drop(d)), c.drops[d]);
    j.end_object();
    // Each worker's share: how the kernel spread flows over queues and sockets.
    j.begin_array("workers");
    for (int i = 0; i < data_.count(); i++) {
        const DataCounters &w = data_.worker_counters(i);
        j.begin_object().kv("tun_rx", w.tun_rx).kv("tun_tx", w.tun_tx).kv("udp_rx", w.udp_rx);
        j.kv("udp_tx", w.udp_tx).kv("raw_rx", w.raw_rx).kv("raw_tx", w.raw_tx);
        j.kv("drops", w.total_drops()).end_object();
    }
    j.end_array();
    const DataWorkers::HoldStats &h = data_.hold_stats();
    j.begin_object("workers_held");
    j.kv("pauses", h.pauses).kv("held_us", h.held_us).kv("longest_us", h.longest_us);
    // Calls that could block, made inside a hold (common/might_block.h): 0.
    BlockingCounts blocking = blocking_while_held();
    j.begin_object("blocking").kv("total", blocking.total());
    for (size_t k = 0; k < kBlockingCallKinds; k++) j.kv(to_string(BlockingCall(k)), blocking.by_kind[k]);
    j.end_object();
    j.end_object();
}

}  // namespace lm
