// SPDX-License-Identifier: MIT
// One question to the kernel over rtnetlink with libmnl: a fresh
// NETLINK_ROUTE socket, the request, its answers read until the kernel's
// ACK.  For the one-off lookups (a link's kind, the route to an address)
// that need no Netlink object (net/netlink.h).  Control path only.
#pragma once
#include <libmnl/libmnl.h>

#include <cstdint>
#include <string>

namespace lm {

// Starts a request of `type` in `buf` (MNL_SOCKET_BUFFER_SIZE bytes): the
// netlink header, asking for an ACK; the caller adds the family header and
// the attributes.
nlmsghdr *mnl_request_start(char *buf, uint16_t type);

// Sends `req` (built by the caller, NLM_F_ACK set) and hands each answer to
// `on_answer` with `data`.  Returns 0 once the kernel acknowledges; the errno
// when the answers fail, as when the kernel answers with an error (ENODEV
// for a device that is not there), which the caller may take for an answer;
// -1 with *err ("netlink: ...") when the kernel could not be asked (socket,
// send or receive failed).
int mnl_route_request(nlmsghdr *req, mnl_cb_t on_answer, void *data, std::string *err);

}  // namespace lm
