// SPDX-License-Identifier: MIT
// The registry's own thread (docs/DESIGN.md §11).  Every etcd call blocks
// for a network round trip or, when a member is down, a timeout: none of
// that may happen on the control thread, which also runs every TLS session,
// nor while the data-plane workers are paused.  So the server posts jobs
// here and gets each answer back on the control thread, through an eventfd
// in its event loop.
//
// The thread also owns this server's etcd lease: it renews it every third of
// the TTL and, when etcd let it expire (a partition longer than the TTL),
// takes a new one and registers again every node still admitted here.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "common/addr.h"
#include "config/config.h"
#include "registry/etcd.h"
#include "registry/etcd_leases.h"
#include "config/topology.h"

namespace lm {

class EventLoop;

class RegistryThread {
public:
    static constexpr size_t kMaxQueued = 1024;   // jobs waiting; more are refused at once

    // The answer to acquire(): an address, or why not.  `unavailable` says
    // no etcd member answered (as opposed to a refusal such as a full pool).
    struct Acquired {
        std::optional<IpAddr> addr;
        bool unavailable = false;
        std::string error;
    };

    RegistryThread(EventLoop &loop, const RegistryConfig &rc, const TopologyPlan &plan, std::string server_name);
    ~RegistryThread();
    RegistryThread(const RegistryThread &) = delete;
    RegistryThread &operator=(const RegistryThread &) = delete;

    // Reads the TLS files and opens the eventfd: before the privilege drop.
    bool start(std::string *err);
    // Starts the thread: after the privilege drop (core/privdrop.cc wants
    // one thread when it changes user), with the data-plane workers.
    void launch();

    // Each returns false, without calling `done`, when the queue is full.
    bool acquire(const std::string &name, std::function<void(const Acquired &)> done);
    // The node left this server (fire and forget; failures are logged).
    bool release(const std::string &name);
    // The [Peer] fixed addresses, at start and at every reload.
    void set_fixed(std::map<IpAddr, std::string> fixed);

    // Work run on the registry thread every period_ms with etcd and this
    // server's lease (0 while it has none); the function it returns, if
    // any, runs on the control thread.  Set before launch().  The servers
    // of the network use it (registry/server_directory.h).
    using Periodic = std::function<std::function<void()>(Etcd &, int64_t lease)>;
    void set_periodic(int period_ms, Periodic work) {
        periodic_ms_ = period_ms;
        periodic_ = std::move(work);
    }
    const std::string &prefix() const { return rc_.prefix; }

    // For `lanmesh link show` and the log: whether the last call reached
    // etcd, through which member, and the last error.
    bool available() const { return available_.load(); }
    std::string status(std::string *endpoint) const;
    const std::string &server_name() const { return server_; }

private:
    struct Job {
        std::function<void()> work;       // on the registry thread
        std::function<void()> done;       // then on the control thread
    };
    bool push(Job j);
    void run();
    void renew_lease();
    void note_result(bool ok, const std::string &err);
    std::string last_error_copy() const;
    void on_eventfd();

    EventLoop &loop_;
    RegistryConfig rc_;
    std::string server_;
    int efd_ = -1;
    SSL_CTX *tls_ = nullptr;
    std::unique_ptr<Etcd> etcd_;
    std::unique_ptr<EtcdLeases> leases_;
    std::thread thread_;

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Job> queue_;                 // to the thread
    std::deque<std::function<void()>> done_;   // back to the control thread
    bool stopping_ = false;
    std::map<IpAddr, std::string> fixed_pending_;
    bool fixed_changed_ = false;
    std::string last_error_, endpoint_;

    // Registry thread only.
    int64_t lease_ = 0;
    std::set<std::string> online_;          // names registered online by us
    std::atomic<bool> available_{true};
    int periodic_ms_ = 0;
    Periodic periodic_;
};

}  // namespace lm
