// SPDX-License-Identifier: MIT
// Resolves the server's host name (`Server = vpn.example`) without blocking
// the control thread: a DNS lookup can take seconds, and keepalives, the
// mesh and the control socket must not wait for it.  Each lookup runs
// getaddrinfo() in a short-lived thread, which posts the answer to the
// event loop through an eventfd and ends.
//
// Threads exist only after start-up (docs/DESIGN.md §7: privileges are
// dropped before any thread exists), so the first lookup happens at the
// first tick, not in start_role().
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/addr.h"

namespace lm {

class EventLoop;

class NameResolver {
public:
    // The addresses in the resolver's order, or an error ("Name or service
    // not known").  Runs on the control thread.
    using Done = std::function<void(const std::vector<IpAddr> &addrs, const std::string &err)>;

    explicit NameResolver(EventLoop &loop) : loop_(loop) {}
    ~NameResolver() { cancel(); }
    NameResolver(const NameResolver &) = delete;
    NameResolver &operator=(const NameResolver &) = delete;

    // Starts a lookup of `host`; a lookup still running is cancelled.
    // False with *err if no thread could be started.
    bool resolve(const std::string &host, Done done, std::string *err);
    // The answer of the running lookup, if any, is dropped; its thread
    // finishes on its own.
    void cancel();
    bool busy() const { return shared_ != nullptr; }

private:
    struct Shared;
    void on_answer();

    EventLoop &loop_;
    std::shared_ptr<Shared> shared_;
    Done done_;
};

}  // namespace lm
