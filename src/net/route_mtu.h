// SPDX-License-Identifier: MIT
// The kernel's idea of the path MTU towards an outer endpoint: the route's
// MTU, lowered by what ICMP "fragmentation needed" / "packet too big" taught
// it.  Asked through a connected UDP socket (IP_MTU / IPV6_MTU, ip(7)).
#pragma once
#include <cstdint>

#include "common/addr.h"

namespace lm {

// The MTU for `to`, or 0 if the kernel has no route.  `mark` (SO_MARK, 0 for
// none) must be the one the daemon's own sockets carry: with a full tunnel
// an unmarked lookup would answer with the TUN's MTU.
int route_mtu(const Endpoint &to, uint32_t mark);

}  // namespace lm
