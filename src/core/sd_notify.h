// SPDX-License-Identifier: MIT
// systemd's notification protocol (sd_notify(3)) without libsystemd: one
// datagram of KEY=VALUE lines to $NOTIFY_SOCKET.  A no-op when not run by
// systemd.
#pragma once
#include <string>

namespace lm {

void sd_notify_send(const std::string &state);

}  // namespace lm
