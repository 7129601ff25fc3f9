// SPDX-License-Identifier: MIT
// One daemon per network: RUNDIR/NET.lock, held with flock(2) for the
// daemon's whole life.  A second `lanmeshd NET` must stop before it touches
// anything of the first (its TUN queues, ports, control socket, key file).
// The kernel drops the lock when the process dies, so a crash leaves nothing
// to clean up; the file itself stays (removing it would race with a starting
// daemon) and holds the pid of the last holder, for the message.
#pragma once
#include <string>

namespace lm {

class InstanceLock {
public:
    InstanceLock() = default;
    InstanceLock(const InstanceLock &) = delete;
    InstanceLock &operator=(const InstanceLock &) = delete;
    ~InstanceLock();

    // False with *err when another process holds the lock or the file
    // cannot be made; `what` names the instance in the message ("network office").
    bool acquire(const std::string &path, const std::string &what, std::string *err);

private:
    int fd_ = -1;
};

}  // namespace lm
