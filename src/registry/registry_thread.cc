// SPDX-License-Identifier: MIT
#include "registry/registry_thread.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <openssl/err.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/log.h"
#include "core/loop.h"

namespace lm {

namespace {

std::string openssl_error() {
    unsigned long e = ERR_get_error();
    ERR_clear_error();
    char b[256] = "unknown error";
    if (e) ERR_error_string_n(e, b, sizeof b);
    return b;
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
    bool https = false;
    for (const HttpUrl &u : rc_.endpoints) https |= u.tls;
    if (https) {
        tls_ = SSL_CTX_new(TLS_client_method());
        if (!tls_ || SSL_CTX_set_min_proto_version(tls_, TLS1_2_VERSION) != 1 ||
            SSL_CTX_load_verify_locations(tls_, rc_.ca.c_str(), nullptr) != 1) {
            *err = "[Registry] CA " + rc_.ca + ": " + openssl_error();
            return false;
        }
        if (!rc_.certificate.empty() &&
            (SSL_CTX_use_certificate_chain_file(tls_, rc_.certificate.c_str()) != 1 ||
             SSL_CTX_use_PrivateKey_file(tls_, rc_.key.c_str(), SSL_FILETYPE_PEM) != 1 ||
             SSL_CTX_check_private_key(tls_) != 1)) {
            *err = "[Registry] Certificate/Key " + rc_.certificate + ": " + openssl_error();
            return false;
        }
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
                     if (!lease_) {
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
    auto next_periodic = steady_clock::now();
    for (;;) {
        Job job;
        bool have_job = false;
        {
            std::unique_lock<std::mutex> g(mu_);
            auto wake = periodic_ ? std::min(next_renew, next_periodic) : next_renew;
            cv_.wait_until(g, wake, [this] { return stopping_ || !queue_.empty(); });
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
        if (periodic_ && steady_clock::now() >= next_periodic) {
            next_periodic = steady_clock::now() + milliseconds(periodic_ms_);
            if (auto done = periodic_(*etcd_, lease_)) {
                {
                    std::lock_guard<std::mutex> g(mu_);
                    done_.push_back(std::move(done));
                }
                uint64_t one = 1;
                ssize_t n = write(efd_, &one, sizeof one);
                (void)n;
            }
        }
        if (!have_job) continue;
        job.work();
        if (job.done) {
            {
                std::lock_guard<std::mutex> g(mu_);
                done_.push_back(std::move(job.done));
            }
            uint64_t one = 1;
            ssize_t n = write(efd_, &one, sizeof one);
            (void)n;   // the counter cannot overflow at this rate; a full one still wakes the loop
        }
    }
    // A clean stop takes this server's registrations down at once rather
    // than after the TTL: its nodes are free to go elsewhere.
    if (lease_) {
        std::string err;
        etcd_->lease_revoke(lease_, &err);
    }
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
