// SPDX-License-Identifier: MIT
// The random side's extra sockets for birthday punching (punch_plan.h): each
// sends one opener toward the peer, so that our NAT maps it on a random
// public port, and listens for the peer's probe that may land there.  One
// epoll set for all of them, read without blocking from the mesh's tick.
// Control path only: the socket whose port wins moves into the data plane
// (DataWorkers::open_udp at that port) and these close.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/addr.h"

namespace lm {

class BirthdayPorts {
public:
    BirthdayPorts() = default;
    BirthdayPorts(const BirthdayPorts &) = delete;
    BirthdayPorts &operator=(const BirthdayPorts &) = delete;
    ~BirthdayPorts() { close_all(); }

    // Opens up to n UDP sockets of `family` on ephemeral ports, each passed
    // to `prepare` (SO_MARK) before use.  Returns how many are open; 0 with
    // *err when none could be.  Running out of descriptors part way is not
    // an error: fewer ports, lower odds.
    int open(int family, int n, const std::function<void(int fd)> &prepare, std::string *err);
    // One datagram from every socket, with IP TTL `ttl` (0: the default).
    // Returns how many went out.
    int send_all(const Endpoint &to, const uint8_t *p, size_t len, int ttl);
    // Reads what has arrived, at most `max` datagrams, without blocking:
    // f(bytes, len, from, our local port).
    using OnDatagram = std::function<void(const uint8_t *p, size_t len, const Endpoint &from, uint16_t port)>;
    void poll(int max, const OnDatagram &f);
    void close_all();
    bool is_open() const { return !fds_.empty(); }
    size_t size() const { return fds_.size(); }

private:
    struct Sock {
        int fd;
        uint16_t port;
    };
    int ep_ = -1;
    std::vector<Sock> fds_;
};

}  // namespace lm
