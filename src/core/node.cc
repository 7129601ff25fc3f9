#include "core/node.h"

#include <errno.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "common/log.h"
#include "core/privdrop.h"
#include "core/sd_notify.h"
#include "data/tunnel.h"
#include "net/tun.h"

namespace lm {

Node::Node(const Config &cfg) : cfg_(cfg), dp_(counters_, sas_) {}

Node::~Node() {
    if (signal_fd_ >= 0) close(signal_fd_);
    if (tun_fd_ >= 0) close(tun_fd_);
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
    watch_data_sockets();

    own_rundir_ = access(cfg_.runtime_directory.c_str(), F_OK) != 0;
    if (!mkdir_p(cfg_.runtime_directory, 0755, err)) return false;
    if (!open_control(err)) return false;
    loop_.set_tick(250, [this] {
        tick_role(EventLoop::now_ms());
        ctl_.tick(EventLoop::now_ms());
    });
    return least_privilege(err);
}

bool Node::open_tun(std::string *err) {
    tun_fd_ = tun_open(cfg_.device, false, &dev_, err, /*vnet_hdr=*/true);
    if (tun_fd_ < 0) return false;
    dp_.set_tun(tun_fd_);
    loop_.add(tun_fd_, EPOLLIN, [this](uint32_t) { dp_.on_tun_readable(); });
    return true;
}

bool Node::configure_link(int mtu, std::string *err) {
    if (!nl_.link_up(dev_, mtu, err)) return false;
    link_configured_ = true;
    return true;
}

void Node::watch_data_sockets() {
    for (int i = 0; i < dp_.udp_count(); i++)
        loop_.add(dp_.udp_fd(i), EPOLLIN, [this, i](uint32_t) { dp_.on_udp_readable(i); });
    for (int fam : {AF_INET, AF_INET6})
        if (dp_.raw_fd(fam) >= 0)
            loop_.add(dp_.raw_fd(fam), EPOLLIN, [this, fam](uint32_t) { dp_.on_raw_readable(fam); });
}

void Node::run() {
    // A server is ready once it listens; a client once its tunnel is up.
    if (cfg_.role == Role::server) sd_notify_send("READY=1\nSTATUS=serving on " + dev_);
    loop_.run();
    sd_notify_send("STOPPING=1");
    stop_role();
}

void Node::shutdown() {
    ctl_.close();
    nl_.cleanup();
    // Closing a non-persistent TUN removes the device and whatever the
    // kernel attached to it.
    if (tun_fd_ >= 0) {
        close(tun_fd_);
        tun_fd_ = -1;
    }
}

void Node::tunnel_json(JsonWriter &j, const Tunnel &t) const {
    j.kv("name", t.name);
    j.kv("encapsulation", to_string(t.encap));
    if (t.encap == Encapsulation::udp)
        j.kv("endpoint", t.udp_peer.port ? t.udp_peer.str() : std::string("-"));
    else
        j.kv("endpoint", t.raw_peer.is_set() ? t.raw_peer.str() : std::string("-"));
    j.kv("rx_packets", t.rx_packets).kv("rx_bytes", t.rx_bytes);
    j.kv("tx_packets", t.tx_packets).kv("tx_bytes", t.tx_bytes);
    j.kv("drops_src_not_allowed", t.drops_src);
    j.kv("last_rx", int64_t(t.last_rx));
    j.begin_array("sa");
    auto in = [&](const InboundSa *sa, const char *state) {
        if (!sa) return;
        j.begin_object().kv("direction", "in").kv("state", state).kv("spi", uint64_t(sa->spi));
        j.kv("epoch", uint64_t(sa->epoch)).kv("cipher", to_string(sa->cipher));
        j.kv("packets", sa->packets).kv("bytes", sa->bytes).kv("seq", uint64_t(sa->replay.top()));
        j.kv("age", int64_t(time(nullptr) - sa->created)).end_object();
    };
    in(t.in_cur.get(), "current");
    in(t.in_old.get(), "old");
    if (t.out) {
        const OutboundSa *sa = t.out.get();
        j.begin_object().kv("direction", "out").kv("state", "current").kv("spi", uint64_t(sa->spi));
        j.kv("epoch", uint64_t(sa->epoch)).kv("cipher", to_string(sa->cipher));
        j.kv("packets", sa->packets).kv("bytes", sa->bytes).kv("seq", uint64_t(sa->seq));
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

// "counters" and "drops", shared by "status" and `lanmesh -s link show`.
void Node::counters_json(JsonWriter &j) const {
    j.begin_object("counters");
    j.kv("udp_rx", counters_.udp_rx).kv("udp_tx", counters_.udp_tx);
    j.kv("raw_rx", counters_.raw_rx).kv("raw_tx", counters_.raw_tx);
    j.kv("tun_rx", counters_.tun_rx).kv("tun_tx", counters_.tun_tx);
    j.kv("keepalive_rx", counters_.keepalive_rx).kv("relayed", counters_.relayed);
    j.kv("rx_batches", counters_.rx_batches).kv("tx_batches", counters_.tx_batches);
    j.kv("forwarded", counters_.forwarded).kv("probe_rx", counters_.probe_rx).kv("probe_tx", counters_.probe_tx);
    j.kv("gso_tx", counters_.gso_tx).kv("gro_rx", counters_.gro_rx);
    j.kv("gso_tun_rx", counters_.gso_tun_rx).kv("gro_tun_tx", counters_.gro_tun_tx);
    j.kv("tls_accepted", ctl_counters_.tls_accepted).kv("tls_refused", ctl_counters_.tls_refused);
    j.kv("tls_timeouts", ctl_counters_.tls_timeouts).kv("protocol_errors", ctl_counters_.protocol_errors);
    j.kv("admitted", ctl_counters_.admitted).kv("disconnected", ctl_counters_.disconnected);
    j.kv("rekeys", ctl_counters_.rekeys).kv("connects", ctl_counters_.connects);
    j.end_object();
    j.begin_object("drops");
    for (int d = 0; d < int(Drop::count_); d++) j.kv(to_string(Drop(d)), counters_.drops[d]);
    j.end_object();
}

}  // namespace lm
