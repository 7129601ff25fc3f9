// SPDX-License-Identifier: MIT
// Whether an existing network device may be taken as our TUN device, asked
// before tun_open() (net/tun.h): TUNSETIFF would silently add a queue to a
// multi-queue device that another daemon is reading, and both would then
// get half of each other's packets.
#pragma once
#include <string>

namespace lm {

// "" when `name` does not exist (tun_open() creates it) or is a persistent
// TUN device with no queue attached (made with `ip tuntap add`); otherwise
// one line saying why it must not be used.  Asks the kernel over rtnetlink
// (IFLA_INFO_DATA of kind "tun"), in the caller's network namespace.
std::string tun_device_unusable(const std::string &name);

}  // namespace lm
