// SPDX-License-Identifier: MIT
#include "common/names.h"

namespace lm {

namespace {

// ASCII only, whatever the locale.
bool is_alnum(unsigned char ch) {
    return (ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
}

}  // namespace

bool valid_net_name(std::string_view n) {
    if (n.empty() || n.size() > kMaxNetName || n[0] == '.' || n[0] == '-') return false;
    for (unsigned char ch : n)
        if (!is_alnum(ch) && ch != '_' && ch != '-' && ch != '.') return false;
    return true;
}

bool valid_peer_name(std::string_view n) {
    if (n.empty() || n.size() > kMaxPeerName) return false;
    for (unsigned char ch : n)
        if (!is_alnum(ch) && ch != '_' && ch != '.' && ch != '@' && ch != '-') return false;
    return true;
}

}  // namespace lm
