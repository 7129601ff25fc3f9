// SPDX-License-Identifier: MIT
#include "net/tun.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lm {

int tun_open(const std::string &name, bool multi_queue, std::string *actual_name,
             std::string *err, bool vnet_hdr) {
    // ifr_name is IFNAMSIZ bytes including the terminating NUL; the kernel
    // would silently use a truncated name, which then matches nothing else.
    if (name.size() >= IFNAMSIZ) {
        *err = "TUNSETIFF " + name + ": name longer than " + std::to_string(IFNAMSIZ - 1) +
               " characters";
        return -1;
    }

    // O_NONBLOCK and O_CLOEXEC at open time: no window in which a forked
    // helper could inherit the fd, and the data path never blocks on it.
    int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        *err = std::string("cannot open /dev/net/tun: ") + std::strerror(errno);
        return -1;
    }

    struct ifreq ifr;
    std::memset(&ifr, 0, sizeof ifr);
    std::memcpy(ifr.ifr_name, name.data(), name.size());
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    if (multi_queue) ifr.ifr_flags |= IFF_MULTI_QUEUE;

    int rc = -1;
    if (vnet_hdr) {
        ifr.ifr_flags |= IFF_VNET_HDR;
        rc = ::ioctl(fd, TUNSETIFF, &ifr);
        if (rc < 0) ifr.ifr_flags &= ~IFF_VNET_HDR;
    }
    if (rc < 0 && ::ioctl(fd, TUNSETIFF, &ifr) < 0) {
        int e = errno;
        ::close(fd);
        // EINVAL here usually means an existing device with other flags
        // (e.g. single-queue vs multi-queue, or a TAP of the same name).
        *err = "TUNSETIFF " + (name.empty() ? std::string("tun%d") : name) + ": " +
               std::strerror(e);
        return -1;
    }

    if (actual_name) {
        ifr.ifr_name[IFNAMSIZ - 1] = '\0';
        *actual_name = ifr.ifr_name;
    }
    return fd;
}

}  // namespace lm
