// SPDX-License-Identifier: MIT
// Least privilege, docs/PROTOCOLS.md §8.  After setup the daemon needs exactly two
// capabilities: CAP_NET_ADMIN (addresses, routes and the link over netlink,
// which a client redoes at every reconnect) and CAP_NET_RAW (raw ESP).
// Everything else it uses was opened while it was root: the TUN fd, the
// data and control sockets, the netlink socket, the debug key file.
//
// Call these only while the process has a single thread: capabilities are
// per thread, and a thread started earlier would keep root's.
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

namespace lm {

// Started as root: hands `dirs` (and the regular files directly in them) to
// `user` and its primary group, then becomes that user with CAP_NET_ADMIN and
// CAP_NET_RAW permitted and effective, nothing inheritable or ambient, the
// bounding set cut to the same two and no_new_privs set.  *err names the
// failing step; a missing user gets a hint how to create one.
bool drop_to_user(const std::string &user, const std::vector<std::string> &dirs, std::string *err);

// Started as someone else (systemd User= with AmbientCapabilities=): drops
// any capability beyond the two and sets no_new_privs; *missing lists which
// of the two the process lacks.  False only when the kernel refuses.
bool keep_only_net_caps(std::vector<std::string> *missing, std::string *err);

// Started as root: "" if `user` can be dropped to, else why not (missing, or
// root itself).  Checked before anything is set up, so a typo in User fails
// at once instead of after the device exists.
std::string unusable_user(const std::string &user);
// The name of `uid` in the user database, or the number.
std::string user_name(uid_t uid);

// "cap_net_admin,cap_net_raw=ep"-style text of the current set, for the log.
std::string current_caps_text();

}  // namespace lm
