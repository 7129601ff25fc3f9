// SPDX-License-Identifier: MIT
// Opening the Linux TUN device (docs/PROTOCOLS.md §6).  Only the creation step lives
// here; configuring the interface (MTU, addresses, routes) is net/netlink.h.
#pragma once
#include <string>

namespace lm {

// Creates the TUN device `name`, or attaches to it if it already exists (a
// persistent device from `ip tuntap add`, or another queue of a multi-queue
// device).  Always IFF_TUN | IFF_NO_PI: packets are bare IP, no 4-byte prefix.
// `multi_queue` adds IFF_MULTI_QUEUE; then every queue is one more tun_open()
// with the same name and flag.  An empty name lets the kernel pick "tunN".
//
// Returns a non-blocking, close-on-exec fd, and the name the kernel used in
// *actual_name (may be null).  On failure returns -1 and sets *err to
// "cannot open /dev/net/tun: <errno text>" or "TUNSETIFF <name>: <errno text>".
//
// Needs CAP_NET_ADMIN to create a device, so call it before dropping
// privileges (docs/PROTOCOLS.md §8).
//
// `vnet_hdr` adds IFF_VNET_HDR: every read and write then starts with a
// 10-byte struct virtio_net_hdr (the data plane turns on the offloads with
// TUNSETOFFLOAD and handles the header).  If the kernel refuses the flag, the
// device is opened without it; TUNGETIFF tells which.
int tun_open(const std::string &name, bool multi_queue, std::string *actual_name,
             std::string *err, bool vnet_hdr = false);

}  // namespace lm
