// SPDX-License-Identifier: MIT
// The data plane's threads: one Dataplane per worker, each with its own TUN
// queue (IFF_MULTI_QUEUE: the kernel keeps a flow on one queue), its own UDP
// socket per address (SO_REUSEPORT: the kernel keeps a peer's 4-tuple on one
// socket), its own buffers and counters, and its own epoll.  A worker takes
// no lock per packet: it holds its own mutex for one batch at a time.
//
// Shared state (tunnels, SAs, routes) changes only on the control thread,
// and only while every worker is paused between batches (pause_all), in the
// way of a big-reader lock: readers take their own lock, the writer takes all.
// What a worker needs the control plane for (a peer's new address, a probe
// frame, a pair to introduce) goes into the worker's mailbox; pause_all
// delivers it before anything else can change, so the tunnels it names are
// still alive.  Every packet waits while the workers are held, so nothing
// that can block may run then: pause_all marks the holding thread, and
// common/might_block.h counts any blocking call made there.
//
// Why a big-reader lock and not snapshots swapped by pointer (RCU) or
// per-worker command queues: the shared objects are few and mutated in
// place by one writer (a tunnel's endpoint, its SAs, a route), each worker
// keeps its own slots inside them (data/per_worker.h), and the workers'
// mail must name tunnels that are still alive.  Copy-on-write versions of
// the tunnel and route tables, with epochs to free the old ones, would buy
// shorter holds at the price of a copy per admission and a second way to
// reach every object; the holds are already short because nothing blocking
// runs inside them (checked), the control loop takes one per handler
// (core/loop.h), handlers that mostly touch nothing take it only on demand,
// and `make check-tsan` catches shared state touched outside one.  The
// cost stays visible: workers_held in `link show`, the metrics and the
// churn rows of `make bench`.
//
// The control thread has an engine of its own (control()) for what it sends
// itself: keepalives, dummies, probes.  It uses worker 0's sockets.
#pragma once
#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/addr.h"
#include "data/counters.h"
#include "data/dataplane.h"

namespace lm {

class DataWorkers {
public:
    // `workers` >= 1.  Per-worker slots (data/per_worker.h) must already be
    // sized to workers + 1; the control engine uses the last slot.
    DataWorkers(int workers, SaTable &sas, DataCounters &control_counters);
    ~DataWorkers();
    DataWorkers(const DataWorkers &) = delete;
    DataWorkers &operator=(const DataWorkers &) = delete;

    int count() const { return int(w_.size()); }
    Dataplane &control() { return *control_; }
    // Applies f to every engine (the workers' and the control thread's);
    // for setting the forwarding policy before start().
    void for_each(const std::function<void(Dataplane &)> &f);

    // ---- sockets (control thread; workers paused or not started)
    // Puts `mark` (SO_MARK) on every data socket, open now or later, so the
    // daemon's own ESP skips a full tunnel's routing table
    // (net/policy_rules.h).  False with *err if the kernel refused it
    // (SO_MARK needs CAP_NET_ADMIN); later sockets then go unmarked too.
    bool set_fwmark(uint32_t mark, std::string *err);
    uint32_t fwmark() const { return fwmark_; }
    // One UDP socket per worker on bind_addr (null: wildcard of `family`)
    // and port, in one SO_REUSEPORT group.  Returns the index or -1.
    int open_udp(int family, const IpAddr *bind_addr, uint16_t port, std::string *err);
    // One raw ESP socket per family: every raw socket gets a copy of every
    // packet, so only worker 0 reads it; all workers send on it.
    bool open_raw(int family, const IpAddr *bind_addr, std::string *err);
    // Moves UDP socket group `idx` to a fresh ephemeral port (new NAT
    // mappings everywhere), or to `port`.  Returns the new port, or 0 and
    // nothing changed.
    uint16_t rebind_udp(int idx, std::string *err, uint16_t port = 0);
    // The TUN queues, one per worker and all opened with the same flags, or
    // a single one (a persistent single-queue device) that only worker 0
    // reads and every worker writes.  Turns on the offloads the kernel has
    // and logs what it chose.
    void set_tun(const std::vector<int> &queues);
    int udp_fd(int idx) const { return control_->udp_fd(idx); }
    int udp_count() const { return control_->udp_count(); }
    uint16_t udp_port(int idx) const;
    int udp_for_family(int family) const { return control_->udp_for_family(family); }
    int raw_fd(int family) const { return control_->raw_fd(family); }

    // ---- hooks, called on the control thread from pause_all()
    std::function<void(Tunnel &from, Tunnel &to, const IpAddr &dst)> on_relay;
    std::function<void(const uint8_t *p, size_t len, const Endpoint &from, int udp_idx)> on_non_esp;
    // An outbound SA of `t` reached RekeyAfterPackets (Dataplane::on_rekey_due).
    std::function<void(Tunnel &t)> on_rekey_due;
    // A send to `t` failed with EMSGSIZE (Dataplane::on_path_too_big).
    std::function<void(Tunnel &t)> on_path_too_big;
    // Pair ESP the server could not forward: no client owns its SPI
    // (Dataplane::on_unknown_spi).  At most kUnknownSpiMail per worker wait
    // at a time; the rest are only counted (drop unknown_spi).
    std::function<void(uint32_t spi, const Endpoint &from, int udp_idx)> on_unknown_spi;
    // ESP sealed for a peer whose path is TLS (data/stream_queue.h): one
    // call per packet, then on_stream_end once.  `t` may name a tunnel
    // deleted since by the control thread itself: use it as a key only.
    std::function<void(const Tunnel *t, const uint8_t *esp, size_t len)> on_stream_out;
    std::function<void()> on_stream_end;
    // Hands every engine's stream queue to on_stream_out (pause_all does,
    // and resume_all for the control thread's own engine).
    void drain_streams(bool workers_too);

    // ---- threads
    void start();        // after the privilege drop: threads inherit it
    void stop();         // joins; idempotent
    // The big-reader lock's writer side, with mailbox delivery.  Cheap when
    // the workers are idle in epoll_wait.  Calling either twice in a row
    // does nothing the second time.
    void pause_all();
    void resume_all();
    // Readable when a mailbox has something: the control loop watches it
    // (pause_all empties it).
    int mail_fd() const { return mail_fd_; }
    void drain_mail_fd();

    // Counters of all engines added up, and each worker's own.  Control
    // thread, workers paused.
    DataCounters totals() const;
    // How long the control thread held the workers: each pause_all ..
    // resume_all, from the moment the last worker stopped.  What the control
    // plane costs the data path (docs/DESIGN.md §7); control thread.
    struct HoldStats {
        uint64_t pauses = 0, held_us = 0, longest_us = 0;
    };
    const HoldStats &hold_stats() const { return hold_; }
    const DataCounters &worker_counters(int i) const { return w_[size_t(i)]->counters; }

private:
    struct Event {
        enum Kind : uint8_t { endpoint, relay, non_esp, rekey_due, path_too_big, unknown_spi } kind;
        Tunnel *a = nullptr, *b = nullptr;
        InboundSa *sa = nullptr;
        uint32_t seq = 0;     // endpoint: the packet's sequence number on sa; unknown_spi: the SPI
        Endpoint from;
        int udp_idx = -1;
        uint16_t len = 0;
        uint8_t data[64];     // non-ESP frames: a probe is 45 bytes
    };
    static constexpr int kMailbox = 64;
    // Unauthenticated packets may ask for unknown_spi mail: a few slots at
    // most, so that they never crowd out the rest.
    static constexpr int kUnknownSpiMail = 4;

    struct Worker {
        int index = 0;
        DataCounters counters;
        std::unique_ptr<Dataplane> dp;
        int ep = -1;
        std::vector<int> udp;          // owned fds, by socket index
        std::thread thread;
        std::mutex mu;                 // held by the worker for one batch
        std::condition_variable cv;
        std::atomic<bool> want{false}; // the control thread is waiting for mu
        Event box[kMailbox];
        int box_n = 0;
        bool box_signalled = false;
    };

    void run(Worker &w);
    void post(Worker &w, const Event &e);
    void deliver(Worker &w);
    int open_one_udp(int family, const IpAddr *bind_addr, uint16_t port, std::string *err);
    void watch(Worker &w, int fd, uint32_t kind, uint32_t idx);

    std::vector<std::unique_ptr<Worker>> w_;
    std::unique_ptr<Dataplane> control_;
    std::vector<int> raw_;             // owned raw fds
    int stop_fd_ = -1, mail_fd_ = -1;
    bool udp_gso_ = false, udp_probed_ = false, started_ = false;
    bool paused_ = false;
    int64_t paused_at_us_ = 0;
    HoldStats hold_;
    uint32_t fwmark_ = 0;              // 0: sockets are not marked
};

}  // namespace lm
