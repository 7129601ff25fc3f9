// SPDX-License-Identifier: MIT
#include "core/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "common/might_block.h"

namespace lm {

void sd_notify_send(const std::string &state) {
    const char *path = std::getenv("NOTIFY_SOCKET");
    if (!path || !*path) return;
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    size_t len = std::strlen(path);
    if (len >= sizeof sa.sun_path) return;
    std::memcpy(sa.sun_path, path, len);
    // "@name" is the abstract namespace: a leading NUL and the exact length.
    if (sa.sun_path[0] == '@') sa.sun_path[0] = '\0';
    might_block(BlockingCall::notify, "sd_notify");
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return;
    sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr *>(&sa),
           socklen_t(sizeof(sa_family_t) + len));
    close(fd);
}

}  // namespace lm
