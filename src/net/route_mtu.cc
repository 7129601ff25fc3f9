// SPDX-License-Identifier: MIT
#include "net/route_mtu.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace lm {

int route_mtu(const Endpoint &to, uint32_t mark) {
    int fam = to.addr.family;
    int fd = socket(fam, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    if (mark) setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark);
    sockaddr_storage ss;
    socklen_t sl = to.to_sockaddr(&ss);
    int mtu = 0;
    socklen_t ml = sizeof mtu;
    if (::connect(fd, reinterpret_cast<sockaddr *>(&ss), sl) == 0)
        getsockopt(fd, fam == AF_INET ? IPPROTO_IP : IPPROTO_IPV6, fam == AF_INET ? IP_MTU : IPV6_MTU, &mtu, &ml);
    close(fd);
    return mtu > 0 ? mtu : 0;
}

}  // namespace lm
