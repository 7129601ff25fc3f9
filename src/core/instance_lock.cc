// SPDX-License-Identifier: MIT
#include "core/instance_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstring>

namespace lm {

InstanceLock::~InstanceLock() {
    if (fd_ >= 0) close(fd_);
}

bool InstanceLock::acquire(const std::string &path, const std::string &what, std::string *err) {
    // O_NOFOLLOW: the directory may be writable by the daemon's user, and a
    // symbolic link planted there must not make root write elsewhere.
    int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        *err = "cannot open " + path + ": " + strerror(errno);
        return false;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        std::string holder;
        char buf[32] = {};
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++) holder += buf[i];
        close(fd);
        if (e == EWOULDBLOCK)
            *err = "lanmeshd for " + what + " is already running" + (holder.empty() ? "" : " (pid " + holder + ")") +
                   ": " + path + " is locked; stop it first";
        else
            *err = "cannot lock " + path + ": " + strerror(e);
        return false;
    }
    std::string pid = std::to_string(getpid()) + "\n";
    if (ftruncate(fd, 0) < 0 || pwrite(fd, pid.data(), pid.size(), 0) != ssize_t(pid.size())) {
        // The lock is what matters; the pid is only for the message.
    }
    fd_ = fd;
    return true;
}

}  // namespace lm
