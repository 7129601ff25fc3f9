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
#include "registry/server_directory.h"
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

    // What the servers of the network say of themselves in etcd
    // (P server/<name>, on each one's etcd lease: present while it lives;
    // one record for every reader, registry/server_directory.h), and which
    // server holds which node (P online/).  The thread reads them every
    // kPollMs and hands the result to the control thread.
    static constexpr int kPollMs = 1000;
    static constexpr int kOnlineEvery = 5;   // online/ (one key per node) every 5th poll only
    struct ServerRec {
        std::string name, address;
        uint64_t nodes = 0;
        bool operator==(const ServerRec &o) const { return name == o.name && address == o.address && nodes == o.nodes; }
    };
    struct View {
        bool ok = false;                                  // false: etcd did not answer this time
        std::vector<ServerRec> servers;                   // alive, by name
        bool online_read = false;                         // `online` is fresh this time
        std::vector<std::pair<std::string, std::string>> online;   // node -> server, by node
        bool revoked_read = false;                        // `revoked` is fresh this time
        std::set<std::string> revoked;                    // P revoked/ ids (registry/revoked.h)
        // With set_channel() only: the servers with a channel and every
        // node online elsewhere with its address (P online/ and node/ each
        // poll), for the server channels and their routes.
        ServerDirectory directory;
    };
    static constexpr size_t kMaxRevoked = 100000;         // ids read at most (more are logged once)
    // The revoked certificates of this server's CRL (id -> issuer name),
    // after every load of the TLS files: written to etcd for every server.
    bool publish_revoked(std::set<std::pair<std::string, std::string>> ids);
    // Control thread, before launch(): called with every poll's view.
    void on_view(std::function<void(const View &)> f) { on_view_ = std::move(f); }
    // This server's control address as others should see it ("" = the
    // source address towards etcd), and how many nodes it holds now.
    void set_self(std::string address) { self_address_ = std::move(address); }
    void set_nodes(uint64_t n) { nodes_.store(n); }
    // Before launch(): this server's channel endpoints (PeerAddress), added
    // to its server/<name> record; the poll then fills View::directory.
    void set_channel(const ServerRecord &mine) { channel_ = mine; }

    // For `lanmesh link show` and the log: whether the last call reached
    // etcd, through which member, and the last error.
    bool available() const { return available_.load(); }
    std::string status(std::string *endpoint) const;
    const std::string &server_name() const { return server_; }
    SSL_CTX *tls() const { return tls_; }   // for https:// endpoints; nullptr otherwise

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
    void poll();
    void post(std::function<void()> done);
    std::string self_address();

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
    std::function<void(const View &)> on_view_;
    std::string self_address_;
    std::atomic<uint64_t> nodes_{0};
    std::string server_value_;              // server/<name> as last written on lease_
    int64_t server_value_lease_ = 0;
    unsigned polls_ = 0;
    std::set<std::string> published_;       // revoked ids written by this process
    bool revoked_overflow_logged_ = false;
    std::optional<ServerRecord> channel_;   // set_channel()
};

}  // namespace lm
