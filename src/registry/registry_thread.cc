// SPDX-License-Identifier: MIT
#include "registry/registry_thread.h"

#include <netdb.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <openssl/err.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/json.h"
#include "common/json_value.h"
#include "common/log.h"
#include "common/names.h"
#include "core/loop.h"
#include "registry/registry_probe.h"
#include "registry/revoked.h"

namespace lm {

namespace {

// Names in keys and values others wrote: what a certificate CN or a
// server name may be (1-64 printable ASCII), nothing else is shown.
bool plain_name(const std::string &s) {
    if (s.empty() || s.size() > 64) return false;
    return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

}  // namespace

RegistryThread::RegistryThread(EventLoop &loop, const RegistryConfig &rc, const TopologyPlan &plan,
                               std::string server_name)
    : loop_(loop), rc_(rc), server_(std::move(server_name)) {
    EtcdOptions o;
    o.endpoints = rc.endpoints;
    o.timeout_ms = 2000;
    etcd_ = std::make_unique<Etcd>(o);
    leases_ = std::make_unique<EtcdLeases>(*etcd_, rc.prefix, plan, server_);
}

RegistryThread::~RegistryThread() {
    {
        std::lock_guard<std::mutex> g(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    if (efd_ >= 0) {
        loop_.remove(efd_);
        close(efd_);
    }
    if (tls_) SSL_CTX_free(tls_);
}

bool RegistryThread::start(std::string *err) {
    tls_ = registry_tls_ctx(rc_, err);
    if (!tls_ && !err->empty()) return false;
    if (tls_) {
        EtcdOptions o;
        o.endpoints = rc_.endpoints;
        o.tls.ctx = tls_;
        o.timeout_ms = 2000;
        *etcd_ = Etcd(o);
    }
    efd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (efd_ < 0) {
        *err = std::string("eventfd: ") + strerror(errno);
        return false;
    }
    loop_.add(efd_, EPOLLIN, [this](uint32_t) { on_eventfd(); });
    return true;
}

void RegistryThread::launch() {
    if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
}

bool RegistryThread::push(Job j) {
    {
        std::lock_guard<std::mutex> g(mu_);
        if (queue_.size() >= kMaxQueued) return false;
        queue_.push_back(std::move(j));
    }
    cv_.notify_one();
    return true;
}

bool RegistryThread::acquire(const std::string &name, std::function<void(const Acquired &)> done) {
    auto result = std::make_shared<Acquired>();
    return push({[this, name, result] {
                     std::string err;
                     if (!lease_) renew_lease();
                     // etcd is known to be away (quorum lost, every member
                     // down): refuse at once with the reason, rather than
                     // after timeouts that outlast the client's handshake.
                     // The lease renewal retries every second and says when
                     // it is back.
                     if (!lease_ || !available_) {
                         result->unavailable = true;
                         result->error = last_error_copy();
                         return;
                     }
                     leases_->set_server_lease(lease_);
                     result->addr = leases_->acquire(name, &err);
                     if (result->addr) online_.insert(name);
                     result->unavailable = !result->addr && etcd_->unreachable();
                     result->error = err;
                     note_result(!etcd_->unreachable(), err);
                 },
                 [result, done = std::move(done)] { done(*result); }});
}

bool RegistryThread::release(const std::string &name) {
    return push({[this, name] {
                     online_.erase(name);
                     std::string err;
                     if (!leases_->release(name, &err)) {
                         LM_WARN("registry: %s stays registered online until this server's etcd lease ends: %s",
                                 name.c_str(), err.c_str());
                     }
                     note_result(!etcd_->unreachable(), err);
                 },
                 nullptr});
}

bool RegistryThread::publish_revoked(std::set<std::pair<std::string, std::string>> ids) {
    auto all = std::make_shared<std::set<std::pair<std::string, std::string>>>(std::move(ids));
    return push({[this, all] {
                     // Only what this process has not written yet, in
                     // transactions of 64 writes (etcd allows 128 by default).
                     std::vector<EtcdOp> ops;
                     std::vector<std::string> batch;
                     size_t written = 0;
                     std::string err;
                     auto flush = [&] {
                         if (ops.empty()) return true;
                         bool done = false;
                         if (!etcd_->txn({}, ops, &done, &err) || !done) return false;
                         for (auto &id : batch) published_.insert(id);
                         written += ops.size();
                         ops.clear();
                         batch.clear();
                         return true;
                     };
                     bool ok = true;
                     for (const auto &[id, issuer] : *all) {
                         if (published_.count(id)) continue;
                         ops.push_back({EtcdOp::Kind::put, rc_.prefix + "revoked/" + id, issuer, 0});
                         batch.push_back(id);
                         if (ops.size() == 64 && !(ok = flush())) break;
                     }
                     if (ok) ok = flush();
                     if (!ok)
                         LM_ERR("registry: cannot publish the CRL's revocations to the other servers: %s "
                                "(tried again at the next reload)",
                                err.c_str());
                     else if (written)
                         LM_INFO("registry: %zu revoked certificate%s published for every server", written,
                                 written == 1 ? "" : "s");
                     note_result(!etcd_->unreachable(), err);
                 },
                 nullptr});
}

void RegistryThread::set_fixed(std::map<IpAddr, std::string> fixed) {
    std::lock_guard<std::mutex> g(mu_);
    fixed_pending_ = std::move(fixed);
    fixed_changed_ = true;
}

std::string RegistryThread::last_error_copy() const {
    std::lock_guard<std::mutex> g(mu_);
    return last_error_;
}

std::string RegistryThread::status(std::string *endpoint) const {
    std::lock_guard<std::mutex> g(mu_);
    *endpoint = endpoint_;
    return last_error_;
}

void RegistryThread::note_result(bool ok, const std::string &err) {
    bool was = available_.exchange(ok);
    {
        std::lock_guard<std::mutex> g(mu_);
        endpoint_ = etcd_->endpoint_in_use();
        if (!ok) last_error_ = err;
        else last_error_.clear();
    }
    // Once per change, with the reason: a registry that stays down is one line.
    if (was && !ok) LM_ERR("registry unavailable, new nodes are refused until etcd answers: %s", err.c_str());
    if (!was && ok) LM_INFO("registry available again through %s", etcd_->endpoint_in_use().c_str());
}

// Registry thread.  A lease that etcd let expire cannot be revived: a new one
// is granted and every node still admitted here is registered again, unless
// another server has registered it meanwhile (it moved there).
void RegistryThread::renew_lease() {
    std::string err;
    int64_t left = 0;
    if (lease_ && etcd_->lease_keepalive(lease_, &left, &err) && left > 0) {
        note_result(true, "");
        return;
    }
    if (lease_ && etcd_->unreachable()) {
        note_result(false, err);
        return;
    }
    int64_t id = 0;
    if (!etcd_->lease_grant(rc_.ttl, &id, &err)) {
        note_result(false, err);
        return;
    }
    if (lease_) LM_WARN("registry: this server's etcd lease had expired; registering its %zu nodes again", online_.size());
    lease_ = id;
    leases_->set_server_lease(lease_);
    for (const std::string &name : online_) {
        bool done = false;
        etcd_->txn({{leases_->online_key(name), EtcdCompare::Target::create_revision, 0, {}}},
                   {{EtcdOp::Kind::put, leases_->online_key(name), server_, lease_}}, &done, &err);
    }
    note_result(!etcd_->unreachable(), err);
}

void RegistryThread::run() {
    using namespace std::chrono;
    const auto period = milliseconds(rc_.ttl * 1000 / 3);
    auto next_renew = steady_clock::now();
    auto next_poll = steady_clock::now() + milliseconds(kPollMs);
    for (;;) {
        Job job;
        bool have_job = false;
        {
            std::unique_lock<std::mutex> g(mu_);
            cv_.wait_until(g, std::min(next_renew, next_poll), [this] { return stopping_ || !queue_.empty(); });
            if (stopping_) break;
            if (fixed_changed_) {
                leases_->set_fixed(fixed_pending_);
                fixed_changed_ = false;
            }
            if (!queue_.empty()) {
                job = std::move(queue_.front());
                queue_.pop_front();
                have_job = true;
            }
        }
        if (steady_clock::now() >= next_renew) {
            renew_lease();
            // While etcd is away, try again sooner than a whole period.
            next_renew = steady_clock::now() + (available_ ? period : milliseconds(1000));
        }
        // While etcd is away only the renewal asks (every second): a poll
        // would only wait for the same timeouts.
        if (steady_clock::now() >= next_poll) {
            if (available_) poll();
            next_poll = steady_clock::now() + milliseconds(kPollMs);
        }
        if (!have_job) continue;
        job.work();
        if (job.done) post(std::move(job.done));
    }
    // A clean stop takes this server's registrations down at once rather
    // than after the TTL: its nodes are free to go elsewhere.
    if (lease_) {
        std::string err;
        etcd_->lease_revoke(lease_, &err);
    }
}

void RegistryThread::post(std::function<void()> done) {
    {
        std::lock_guard<std::mutex> g(mu_);
        done_.push_back(std::move(done));
    }
    uint64_t one = 1;
    ssize_t n = write(efd_, &one, sizeof one);
    (void)n;   // the counter cannot overflow at this rate; a full one still wakes the loop
}

// Registry thread.  The source address the kernel picks towards the first
// etcd endpoint: what the other servers can reach us at, when Listen does
// not say.  A connected UDP socket sends nothing.
std::string RegistryThread::self_address() {
    if (!self_address_.empty() || rc_.endpoints.empty()) return self_address_;
    const HttpUrl &u = rc_.endpoints.front();
    addrinfo hints{}, *ai = nullptr;
    hints.ai_socktype = SOCK_DGRAM;
    if (getaddrinfo(u.host.c_str(), std::to_string(u.port).c_str(), &hints, &ai) != 0 || !ai) return "";
    std::string out;
    int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && ::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
        sockaddr_storage ss{};
        socklen_t sl = sizeof ss;
        if (getsockname(fd, reinterpret_cast<sockaddr *>(&ss), &sl) == 0)
            out = Endpoint::from_sockaddr(reinterpret_cast<sockaddr *>(&ss)).addr.str();
    }
    if (fd >= 0) close(fd);
    freeaddrinfo(ai);
    return out;
}

// Registry thread: our own server/ record (written when it changes or the
// lease is new), then everyone's, handed to the control thread.
void RegistryThread::poll() {
    if (!on_view_) return;
    auto view = std::make_shared<View>();
    std::string err;
    const std::string prefix = rc_.prefix;
    if (lease_) {
        std::string value = server_value_json(self_address(), nodes_.load(), channel_ ? &*channel_ : nullptr);
        if (value != server_value_ || lease_ != server_value_lease_) {
            if (etcd_->put(prefix + "server/" + server_, value, lease_, &err)) {
                server_value_ = value;
                server_value_lease_ = lease_;
            }
        }
    }
    std::vector<EtcdKv> kvs;
    view->ok = etcd_->list(prefix + "server/", &kvs, &err);
    const std::string own_key = prefix + "server/" + server_;
    bool own_seen = false;
    for (const EtcdKv &kv : kvs) {
        // Ours as we wrote it; else (deleted by hand, overwritten) again next poll.
        if (kv.key == own_key && kv.value == server_value_ && kv.lease == server_value_lease_) own_seen = true;
        ServerRec r;
        r.name = kv.key.substr(prefix.size() + 7);
        if (!plain_name(r.name)) continue;   // not one of ours
        // A record we cannot read still names a server that is alive.
        ServerValue sv = parse_server_value(kv.value);
        r.address = sv.address;
        r.nodes = sv.nodes;
        if (channel_ && sv.has_channel) {
            if (sv.channel_ok && valid_peer_name(r.name)) view->directory.servers[r.name] = sv.channel;
            else view->directory.skipped++;
        }
        view->servers.push_back(std::move(r));
    }
    if (view->ok && lease_ && !own_seen) server_value_.clear();
    // The routes to other servers' nodes follow online/ and node/: with a
    // channel both are read every poll, else online/ only now and then.
    if (view->ok && (polls_++ % kOnlineEvery == 0 || channel_)) {
        kvs.clear();
        view->online_read = etcd_->list(prefix + "online/", &kvs, &err);
        for (const EtcdKv &kv : kvs) {
            std::string node = kv.key.substr(prefix.size() + 7);
            if (plain_name(node) && plain_name(kv.value)) view->online.push_back({node, kv.value});
        }
        if (channel_ && view->online_read) {
            std::vector<EtcdKv> nodes;
            if (etcd_->list(prefix + "node/", &nodes, &err)) {
                join_online_nodes(prefix, kvs, nodes, &view->directory);
                view->directory.ok = true;
            }
        }
    }
    if (view->ok) {
        kvs.clear();
        view->revoked_read = etcd_->list(prefix + "revoked/", &kvs, &err);
        for (const EtcdKv &kv : kvs) {
            std::string id = kv.key.substr(prefix.size() + 8);
            if (!valid_revoked_id(id)) continue;
            if (view->revoked.size() >= kMaxRevoked) {
                if (!revoked_overflow_logged_)
                    LM_ERR("registry: more than %zu revoked certificates under %srevoked/; the rest are ignored",
                           kMaxRevoked, prefix.c_str());
                revoked_overflow_logged_ = true;
                break;
            }
            view->revoked.insert(std::move(id));
        }
    }
    if (!view->ok) note_result(!etcd_->unreachable(), err);
    post([this, view] { on_view_(*view); });
}

// Control thread.
void RegistryThread::on_eventfd() {
    uint64_t n;
    ssize_t r = read(efd_, &n, sizeof n);
    (void)r;
    std::deque<std::function<void()>> ready;
    {
        std::lock_guard<std::mutex> g(mu_);
        ready.swap(done_);
    }
    for (auto &f : ready) f();
}

}  // namespace lm
