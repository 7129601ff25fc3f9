// SPDX-License-Identifier: MIT
// Policy routing for a full tunnel: the two `ip rule`s that keep the
// daemon's own traffic out of a pushed default route.
//
// Why this and not pinned host routes (OpenVPN's redirect-gateway): a client
// talks to the server and, with ClientToClient = direct, to any number of
// peers at their public addresses, and those change as peers roam.  A host
// route per address would have to follow every change, go stale when the
// underlay gateway changes, and still leak the moment before it is added.
// wg-quick's scheme needs no per-peer state: every socket the daemon sends
// its own traffic on carries a firewall mark (SO_MARK), the routes that would
// swallow the underlay live in a table of their own, and
//
//     ip rule add pref 32760 lookup main suppress_prefixlength 0
//     ip rule add pref 32761 not fwmark MARK lookup TABLE
//
// send everything else there: specific routes of the main table still win
// (the LAN stays reachable), main's default route is ignored for unmarked
// traffic, and marked traffic (ours) skips TABLE and falls through to the
// ordinary `lookup main` rule, out of the underlay's default route.
//
// libnl-route-3 cannot express suppress_prefixlength or `not`, so these are
// built with libmnl (RTM_NEWRULE, struct fib_rule_hdr).  Control path only.
#pragma once
#include <sys/socket.h>

#include <cstdint>
#include <string>

struct mnl_socket;

namespace lm {

// The default mark and table (lanmesh.conf(5) FwMark): "lm" in ASCII, far
// from wg-quick's 51820 and the small table numbers admins pick by hand.
inline constexpr uint32_t kDefaultFwMark = 0x6c6d;   // 27757
// The rules' priorities: just before the main table's 32766.
inline constexpr uint32_t kRulePrefSuppress = 32760, kRulePrefTable = 32761;

class PolicyRules {
public:
    PolicyRules() = default;
    ~PolicyRules();   // closes the socket only; call remove() to undo
    PolicyRules(const PolicyRules &) = delete;
    PolicyRules &operator=(const PolicyRules &) = delete;

    // Adds both rules for `family` (AF_INET or AF_INET6) with `mark` as
    // firewall mark and table, once; true if they are in place.  A rule
    // that exists already (a daemon that crashed left it) is taken over.
    bool install(int family, uint32_t mark, std::string *err);
    bool installed(int family) const { return family == AF_INET6 ? have6_ : have4_; }
    // Deletes the rules this object added; failures are logged.
    void remove();

private:
    bool open(std::string *err);
    // One RTM_NEWRULE / RTM_DELRULE; returns 0 or the kernel's errno.
    int change(bool add, int family, bool suppress, uint32_t mark);

    mnl_socket *nl_ = nullptr;
    unsigned seq_ = 0;
    bool have4_ = false, have6_ = false;
    uint32_t mark4_ = 0, mark6_ = 0;
};

}  // namespace lm
