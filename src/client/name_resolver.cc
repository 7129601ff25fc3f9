// SPDX-License-Identifier: MIT
#include "client/name_resolver.h"

#include <netdb.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>

#include "common/might_block.h"
#include "core/loop.h"

namespace lm {

// Owned jointly by the lookup thread and the resolver, so that either may
// go first.
struct NameResolver::Shared {
    int efd = -1;
    std::mutex mu;
    std::vector<IpAddr> addrs;
    std::string err;
    ~Shared() {
        if (efd >= 0) close(efd);
    }
};

namespace {

void lookup(const std::string &host, std::vector<IpAddr> *addrs, std::string *err) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;   // one entry per address
    // Only families this host has an address of: no IPv6 answers on a
    // host without IPv6.
    hints.ai_flags = AI_ADDRCONFIG;
    addrinfo *res = nullptr;
    might_block(BlockingCall::name_lookup, "getaddrinfo");
    int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
    if (rc != 0) {
        *err = rc == EAI_SYSTEM ? std::string(strerror(errno)) : std::string(gai_strerror(rc));
        return;
    }
    for (addrinfo *ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
        IpAddr a = Endpoint::from_sockaddr(ai->ai_addr).addr;
        if (a.is_set() && std::find(addrs->begin(), addrs->end(), a) == addrs->end()) addrs->push_back(a);
        if (addrs->size() >= 16) break;   // enough to try in one round
    }
    freeaddrinfo(res);
    if (addrs->empty()) *err = "no IPv4 or IPv6 address";
}

}  // namespace

bool NameResolver::resolve(const std::string &host, Done done, std::string *err) {
    cancel();
    auto sh = std::make_shared<Shared>();
    sh->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (sh->efd < 0) {
        *err = std::string("eventfd: ") + strerror(errno);
        return false;
    }
    try {
        std::thread([sh, host] {
            std::vector<IpAddr> addrs;
            std::string e;
            lookup(host, &addrs, &e);
            {
                std::lock_guard<std::mutex> g(sh->mu);
                sh->addrs = std::move(addrs);
                sh->err = std::move(e);
            }
            uint64_t one = 1;
            (void)!write(sh->efd, &one, sizeof one);
        }).detach();
    } catch (const std::system_error &e) {
        *err = std::string("cannot start the name lookup: ") + e.what();
        return false;
    }
    shared_ = sh;
    done_ = std::move(done);
    loop_.add(sh->efd, EPOLLIN, [this](uint32_t) { on_answer(); });
    return true;
}

void NameResolver::cancel() {
    if (!shared_) return;
    loop_.remove(shared_->efd);
    shared_.reset();
    done_ = nullptr;
}

void NameResolver::on_answer() {
    if (!shared_) return;
    std::vector<IpAddr> addrs;
    std::string err;
    {
        std::lock_guard<std::mutex> g(shared_->mu);
        addrs = std::move(shared_->addrs);
        err = std::move(shared_->err);
    }
    Done done = std::move(done_);
    cancel();
    if (done) done(addrs, err);
}

}  // namespace lm
