// SPDX-License-Identifier: MIT
// The two names lanmesh takes from users and peers, each with one rule that
// the config parser, the control messages, the lease file and the CLI share:
// a network's name (the file stem of NET.conf, the systemd instance) and a
// peer's name (its certificate's common name).
#pragma once
#include <cstddef>
#include <string_view>

namespace lm {

constexpr size_t kMaxNetName = 32;
constexpr size_t kMaxPeerName = 64;   // ub-common-name, RFC 5280

// 1-32 characters of A-Z a-z 0-9 _ . -, not starting with '.' or '-'.
bool valid_net_name(std::string_view);
constexpr const char *kNetNameRule = "1-32 characters of A-Z a-z 0-9 _ . - and not starting with '.' or '-'";

// 1-64 characters of A-Z a-z 0-9 _ . @ -.
bool valid_peer_name(std::string_view);
constexpr const char *kPeerNameRule = "1-64 characters of A-Z a-z 0-9 _ . @ -";

}  // namespace lm
