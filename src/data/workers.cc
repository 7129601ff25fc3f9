// SPDX-License-Identifier: MIT
#include "data/workers.h"

#include <errno.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include "common/log.h"
#include "common/might_block.h"
#include "data/kernel_compat.h"
#include "data/tunnel.h"

namespace lm {

namespace {

enum : uint32_t { kStop, kTun, kUdp, kRaw };

int64_t mono_us() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

// Big buffers: a TUN super-packet becomes a burst of ~50 ESP packets, and a
// few of those must not overflow the receiver.  The FORCE variants pass the
// sysctl limits with CAP_NET_ADMIN; without it we get what the limits allow.
void raise_buffers(int fd) {
    int buf = 4 << 20;   // more only adds queueing delay under load
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof buf) < 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
}

// Never fragment our ESP (docs/PROTOCOLS.md §4): DF on every packet, and a
// send larger than the path MTU the kernel knows fails with EMSGSIZE, which
// lowers that tunnel's limit (Dataplane::on_path_too_big) instead of the
// kernel splitting it silently.
void never_fragment(int fd, int family) {
    int v = family == AF_INET6 ? IPV6_PMTUDISC_DO : IP_PMTUDISC_DO;
    if (family == AF_INET6) {
        int one = 1;
        setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &v, sizeof v);
        setsockopt(fd, IPPROTO_IPV6, IPV6_DONTFRAG, &one, sizeof one);
    } else {
        setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof v);
    }
}

bool mark_socket(int fd, uint32_t mark, std::string *err) {
    if (!mark || setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) == 0) return true;
    *err = std::string("SO_MARK: ") + strerror(errno);
    return false;
}

int make_eventfd() {
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) throw std::runtime_error(std::string("eventfd: ") + strerror(errno));
    return fd;
}

}  // namespace

DataWorkers::DataWorkers(int workers, SaTable &sas, DataCounters &control_counters) {
    if (workers < 1) workers = 1;
    stop_fd_ = make_eventfd();
    mail_fd_ = make_eventfd();
    for (int i = 0; i < workers; i++) {
        auto w = std::make_unique<Worker>();
        w->index = i;
        w->dp = std::make_unique<Dataplane>(w->counters, sas, i);
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        if (w->ep < 0) throw std::runtime_error(std::string("epoll_create1: ") + strerror(errno));
        Worker *wp = w.get();
        w->dp->on_relay = [this, wp](Tunnel &from, Tunnel &to, const IpAddr &dst) {
            if (!on_relay) return;   // set before start(), read-only after
            Event e{Event::relay};
            e.a = &from;
            e.b = &to;
            e.from.addr = dst;
            post(*wp, e);
        };
        w->dp->on_endpoint = [this, wp](Tunnel &t, InboundSa &sa, uint32_t seq, const Endpoint &from, int idx) {
            Event e{Event::endpoint};
            e.a = &t;
            e.sa = &sa;
            e.seq = seq;
            e.from = from;
            e.udp_idx = idx;
            post(*wp, e);
        };
        w->dp->on_rekey_due = [this, wp](Tunnel &t) {
            Event e{Event::rekey_due};
            e.a = &t;
            post(*wp, e);
        };
        w->dp->on_path_too_big = [this, wp](Tunnel &t) {
            Event e{Event::path_too_big};
            e.a = &t;
            post(*wp, e);
        };
        w->dp->on_unknown_spi = [this, wp](uint32_t spi, const Endpoint &from, int idx) {
            if (!on_unknown_spi) return;
            Event e{Event::unknown_spi};
            e.seq = spi;
            e.from = from;
            e.udp_idx = idx;
            post(*wp, e);
        };
        w->dp->on_non_esp = [this, wp](const uint8_t *p, size_t len, const Endpoint &from, int idx) {
            // Only a client speaks anything but ESP on its data port, and
            // nothing it speaks is this long.
            if (!on_non_esp || len > sizeof Event::data) {
                wp->counters.drop(Drop::udp_non_esp);
                return;
            }
            Event e{Event::non_esp};
            e.from = from;
            e.udp_idx = idx;
            e.len = uint16_t(len);
            std::memcpy(e.data, p, len);
            post(*wp, e);
        };
        watch(*w, stop_fd_, kStop, 0);
        w_.push_back(std::move(w));
    }
    control_ = std::make_unique<Dataplane>(control_counters, sas, workers);
    control_->set_fresh_seq(true);
    control_->on_path_too_big = [this](Tunnel &t) {   // the control thread itself
        if (on_path_too_big) on_path_too_big(t);
    };
}

DataWorkers::~DataWorkers() {
    stop();
    for (auto &w : w_) {
        for (int fd : w->udp) close(fd);
        close(w->ep);
    }
    for (int fd : raw_) close(fd);
    close(stop_fd_);
    close(mail_fd_);
}

void DataWorkers::for_each(const std::function<void(Dataplane &)> &f) {
    for (auto &w : w_) f(*w->dp);
    f(*control_);
}

void DataWorkers::watch(Worker &w, int fd, uint32_t kind, uint32_t idx) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = (uint64_t(kind) << 32) | idx;
    if (epoll_ctl(w.ep, EPOLL_CTL_ADD, fd, &ev) < 0)
        throw std::runtime_error(std::string("epoll_ctl add: ") + strerror(errno));
}

// The first socket of a group is bound without SO_REUSEPORT, so the bind
// fails if anyone at all (an old lanmeshd of the same user included) holds
// the port; only then does it open the group to our other workers.
int DataWorkers::open_one_udp(int family, const IpAddr *bind_addr, uint16_t port, std::string *err) {
    int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *err = std::string("UDP socket: ") + strerror(errno);
        return -1;
    }
    if (std::string e; !mark_socket(fd, fwmark_, &e)) LM_WARN("data socket: %s", e.c_str());
    never_fragment(fd, family);
    int one = 1;
    if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    raise_buffers(fd);
    if (!udp_probed_) {
        int v = 0;
        socklen_t vl = sizeof v;
        udp_gso_ = getsockopt(fd, SOL_UDP, UDP_SEGMENT, &v, &vl) == 0;
    }
    bool gro = setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one) == 0;
    if (!udp_probed_) {
        udp_probed_ = true;
        LM_INFO("data plane: %d worker%s; UDP GSO %s, UDP GRO %s", count(), count() == 1 ? "" : "s",
                udp_gso_ ? "on" : "off (sendmmsg only)", gro ? "on" : "off");
    }
    Endpoint ep;
    if (bind_addr)
        ep.addr = *bind_addr;
    else
        ep.addr.family = family;   // all-zero address = wildcard
    ep.port = port;
    sockaddr_storage ss;
    socklen_t sl = ep.to_sockaddr(&ss);
    if (bind(fd, reinterpret_cast<sockaddr *>(&ss), sl) < 0) {
        *err = "UDP bind " + ep.str() + ": " + strerror(errno);
        close(fd);
        return -1;
    }
    return fd;
}

int DataWorkers::open_udp(int family, const IpAddr *bind_addr, uint16_t port, std::string *err) {
    std::vector<int> fds;
    auto fail = [&] {
        for (int fd : fds) close(fd);
        return -1;
    };
    int first = open_one_udp(family, bind_addr, port, err);
    if (first < 0) return -1;
    fds.push_back(first);
    if (count() > 1) {
        int one = 1;
        if (setsockopt(first, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
            *err = std::string("SO_REUSEPORT: ") + strerror(errno);
            return fail();
        }
        sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        getsockname(first, reinterpret_cast<sockaddr *>(&ss), &sl);
        Endpoint bound = Endpoint::from_sockaddr(reinterpret_cast<sockaddr *>(&ss));
        for (int i = 1; i < count(); i++) {
            int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (fd < 0) {
                *err = std::string("UDP socket: ") + strerror(errno);
                return fail();
            }
            fds.push_back(fd);
            if (std::string e; !mark_socket(fd, fwmark_, &e)) LM_WARN("data socket: %s", e.c_str());
            never_fragment(fd, family);
            if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
            setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
            setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one);
            raise_buffers(fd);
            sl = bound.to_sockaddr(&ss);
            if (bind(fd, reinterpret_cast<sockaddr *>(&ss), sl) < 0) {
                *err = "UDP bind " + bound.str() + " (worker " + std::to_string(i) + "): " + strerror(errno);
                return fail();
            }
        }
    }
    int idx = udp_count();
    for (size_t i = 0; i < w_.size(); i++) {
        Worker &w = *w_[i];
        w.udp.push_back(fds[i]);
        w.dp->add_udp(fds[i], family);
        w.dp->set_udp_gso(udp_gso_);
        watch(w, fds[i], kUdp, uint32_t(idx));
    }
    control_->add_udp(fds[0], family);
    control_->set_udp_gso(udp_gso_);
    return idx;
}

uint16_t DataWorkers::rebind_udp(int idx, std::string *err, uint16_t port) {
    int family = AF_INET;
    {
        sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        if (getsockname(udp_fd(idx), reinterpret_cast<sockaddr *>(&ss), &sl) == 0) family = ss.ss_family;
    }
    // Open the new group as extra sockets, then move them into place.
    int n = open_udp(family, nullptr, port, err);
    if (n < 0) return 0;
    for (auto &w : w_) {
        close(w->udp[size_t(idx)]);   // also leaves the worker's epoll
        w->udp[size_t(idx)] = w->udp[size_t(n)];
        w->udp.pop_back();
        w->dp->set_udp_fd(idx, w->udp[size_t(idx)]);
        w->dp->drop_last_udp();
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = (uint64_t(kUdp) << 32) | uint32_t(idx);
        epoll_ctl(w->ep, EPOLL_CTL_MOD, w->udp[size_t(idx)], &ev);
    }
    control_->set_udp_fd(idx, w_[0]->udp[size_t(idx)]);
    control_->drop_last_udp();
    return udp_port(idx);
}

bool DataWorkers::set_fwmark(uint32_t mark, std::string *err) {
    fwmark_ = mark;
    bool ok = true;
    auto one = [&](int fd) {
        if (ok && !mark_socket(fd, mark, err)) ok = false;
    };
    for (auto &w : w_)
        for (int fd : w->udp) one(fd);
    for (int fd : raw_) one(fd);
    if (!ok) fwmark_ = 0;
    return ok;
}

uint16_t DataWorkers::udp_port(int idx) const {
    sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(udp_fd(idx), reinterpret_cast<sockaddr *>(&ss), &sl) < 0) return 0;
    return Endpoint::from_sockaddr(reinterpret_cast<sockaddr *>(&ss)).port;
}

bool DataWorkers::open_raw(int family, const IpAddr *bind_addr, std::string *err) {
    int fd = socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ESP);
    if (fd < 0) {
        *err = std::string("raw ESP socket (needs CAP_NET_RAW): ") + strerror(errno);
        return false;
    }
    if (std::string e; !mark_socket(fd, fwmark_, &e)) LM_WARN("raw ESP socket: %s", e.c_str());
    never_fragment(fd, family);
    // Bound to the service address so replies leave from the address peers
    // talk to (an unbound raw socket picks its source by routing).
    if (bind_addr) {
        Endpoint ep{*bind_addr, 0};
        sockaddr_storage ss;
        socklen_t sl = ep.to_sockaddr(&ss);
        if (bind(fd, reinterpret_cast<sockaddr *>(&ss), sl) < 0) {
            *err = "raw ESP bind " + bind_addr->str() + ": " + strerror(errno);
            close(fd);
            return false;
        }
    }
    raise_buffers(fd);
    raw_.push_back(fd);
    for_each([&](Dataplane &dp) { dp.set_raw(family, fd); });
    watch(*w_[0], fd, kRaw, uint32_t(family));
    return true;
}

void DataWorkers::set_tun(const std::vector<int> &queues) {
    bool vnet = false, tcp = false, udp = false;
    struct ifreq ifr;
    std::memset(&ifr, 0, sizeof ifr);
    int fd = queues.empty() ? -1 : queues[0];
    if (fd >= 0 && ioctl(fd, TUNGETIFF, &ifr) == 0 && (ifr.ifr_flags & IFF_VNET_HDR)) {
        vnet = true;
        // TSO needs CSUM; USO (Linux >= 6.2) is tried on top and dropped on
        // EINVAL.  The setting is the device's: one queue sets it for all.
        unsigned base = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
        const char *what = "csum, tso4, tso6, uso4, uso6";
        if (ioctl(fd, TUNSETOFFLOAD, base | TUN_F_USO4 | TUN_F_USO6) < 0) {
            what = "csum, tso4, tso6";
            if (ioctl(fd, TUNSETOFFLOAD, base) < 0) {
                what = nullptr;
                ioctl(fd, TUNSETOFFLOAD, 0u);
            }
        }
        tcp = what != nullptr;
        // The kernel takes GSO_UDP_L4 writes only with USO on.
        udp = what && std::strstr(what, "uso") != nullptr;
        if (what)
            LM_INFO("data plane: TUN with %zu queue%s, offloads %s; %s GRO on TUN writes", queues.size(),
                    queues.size() == 1 ? "" : "s", what, udp ? "TCP and UDP" : "TCP");
        else
            LM_INFO("data plane: TUN offloads refused (%s); one packet per read and write", strerror(errno));
    } else {
        LM_INFO("data plane: TUN without offloads (one packet per read and write)");
    }
    for (size_t i = 0; i < w_.size(); i++) {
        int q = queues.empty() ? -1 : queues[i < queues.size() ? i : 0];
        w_[i]->dp->set_tun(q, vnet, tcp, udp);
        if (q >= 0 && i < queues.size()) watch(*w_[i], q, kTun, 0);
    }
    control_->set_tun(fd, vnet, tcp, udp);
}

void DataWorkers::start() {
    if (started_) return;
    started_ = true;
    for (auto &w : w_) {
        Worker *wp = w.get();
        w->thread = std::thread([this, wp] { run(*wp); });
        char name[16];
        snprintf(name, sizeof name, "lm-worker-%d", wp->index);
        pthread_setname_np(w->thread.native_handle(), name);
    }
}

void DataWorkers::stop() {
    if (!started_) return;
    uint64_t one = 1;
    if (write(stop_fd_, &one, sizeof one) < 0) LM_WARN("data plane: cannot signal the workers: %s", strerror(errno));
    for (auto &w : w_)
        if (w->thread.joinable()) w->thread.join();
    started_ = false;
}

void DataWorkers::run(Worker &w) {
    epoll_event evs[16];
    for (;;) {
        int n = epoll_wait(w.ep, evs, 16, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            LM_ERR("data plane: worker %d: epoll_wait: %s", w.index, strerror(errno));
            return;
        }
        std::unique_lock<std::mutex> lock(w.mu);
        // The control thread asked for the lock: let it go first.
        w.cv.wait(lock, [&] { return !w.want.load(std::memory_order_acquire); });
        for (int i = 0; i < n; i++) {
            uint32_t kind = uint32_t(evs[i].data.u64 >> 32), idx = uint32_t(evs[i].data.u64);
            switch (kind) {
            case kStop: return;
            case kTun: w.dp->on_tun_readable(); break;
            case kUdp: if (int(idx) < w.dp->udp_count()) w.dp->on_udp_readable(int(idx)); break;
            case kRaw: w.dp->on_raw_readable(int(idx)); break;
            }
        }
        if ((w.box_n || !w.dp->stream_out.empty()) && !w.box_signalled) {
            w.box_signalled = true;
            uint64_t one = 1;
            if (write(mail_fd_, &one, sizeof one) < 0) w.counters.drop(Drop::backlog);
        }
    }
}

void DataWorkers::post(Worker &w, const Event &e) {
    // While the control thread has not yet taken a pair or an address, every
    // packet asks again: keep one entry each.  A repeated address keeps the
    // highest sequence number, so it still wins over an older report of
    // another address that sits before it in the box.
    if (e.kind == Event::unknown_spi) {
        int waiting = 0;
        for (int i = 0; i < w.box_n; i++) {
            const Event &o = w.box[i];
            if (o.kind != Event::unknown_spi) continue;
            if ((o.seq == e.seq && o.from == e.from) || ++waiting >= kUnknownSpiMail) return;
        }
    } else if (e.kind != Event::non_esp) {
        for (int i = 0; i < w.box_n; i++) {
            Event &o = w.box[i];
            if (o.kind == e.kind && o.a == e.a && o.b == e.b && o.sa == e.sa && o.from == e.from &&
                o.udp_idx == e.udp_idx) {
                if (e.seq > o.seq) o.seq = e.seq;
                return;
            }
        }
    }
    if (w.box_n == kMailbox) {
        w.counters.drop(Drop::backlog);
        return;
    }
    w.box[w.box_n++] = e;
}

void DataWorkers::deliver(Worker &w) {
    for (int i = 0; i < w.box_n; i++) {
        const Event &e = w.box[i];
        switch (e.kind) {
        case Event::endpoint: Dataplane::apply_endpoint(*e.a, *e.sa, e.seq, e.from, e.udp_idx); break;
        case Event::rekey_due:
            if (on_rekey_due) on_rekey_due(*e.a);
            break;
        case Event::path_too_big:
            if (on_path_too_big) on_path_too_big(*e.a);
            break;
        case Event::relay:
            if (on_relay) on_relay(*e.a, *e.b, e.from.addr);
            break;
        case Event::unknown_spi:
            if (on_unknown_spi) on_unknown_spi(e.seq, e.from, e.udp_idx);
            break;
        case Event::non_esp:
            if (on_non_esp)
                on_non_esp(e.data, e.len, e.from, e.udp_idx);
            else
                w.counters.drop(Drop::udp_non_esp);
            break;
        }
    }
    w.box_n = 0;
    w.box_signalled = false;
}

void DataWorkers::pause_all() {
    if (paused_) return;
    paused_ = true;
    for (auto &w : w_) w->want.store(true, std::memory_order_release);
    for (auto &w : w_) w->mu.lock();
    paused_at_us_ = mono_us();
    workers_held_begin();
    // Mail first: it names tunnels that nothing has been able to delete yet.
    for (auto &w : w_) deliver(*w);
    drain_streams(true);
}

void DataWorkers::drain_streams(bool workers_too) {
    bool any = false;
    auto one = [&](Dataplane &dp) {
        if (dp.stream_out.empty()) return;
        any = true;
        dp.stream_out.drain([&](const Tunnel *t, const uint8_t *p, size_t n) {
            if (on_stream_out) on_stream_out(t, p, n);
        });
    };
    if (workers_too)
        for (auto &w : w_) one(*w->dp);
    one(*control_);
    if (any && on_stream_end) on_stream_end();
}

void DataWorkers::resume_all() {
    if (!paused_) return;
    // What the control thread sealed for a TLS path goes out now, before
    // the workers can add to their queues.
    drain_streams(false);
    paused_ = false;
    uint64_t held = uint64_t(std::max<int64_t>(0, mono_us() - paused_at_us_));
    hold_.pauses++;
    hold_.held_us += held;
    hold_.longest_us = std::max(hold_.longest_us, held);
    for (auto &w : w_) {
        w->want.store(false, std::memory_order_release);
        w->mu.unlock();
        w->cv.notify_one();
    }
    workers_held_end();   // writes the log lines of the hold
}

void DataWorkers::drain_mail_fd() {
    uint64_t v;
    while (read(mail_fd_, &v, sizeof v) > 0) {
    }
}

DataCounters DataWorkers::totals() const {
    DataCounters t = control_->counters();
    for (auto &w : w_) t += w->counters;
    return t;
}

}  // namespace lm
