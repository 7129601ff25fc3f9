// SPDX-License-Identifier: MIT
// What the roles hand to the control commands (core/ctl_commands.cc): one
// PeerView per peer for `peer show` and `sa show`, and the record of a
// reload.  Plain data; pointers are valid for the duration of one request.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/addr.h"
#include "control/keying.h"

namespace lm {

struct Tunnel;

struct PeerView {
    const Tunnel *tunnel = nullptr;   // SAs, outer endpoint, counters; never null
    std::string state = "up";         // a client's server: its connection phase
    // How traffic to the peer travels: "direct" (our own tunnel to it),
    // "relay" (pair ESP forwarded by the server without decryption) or
    // "via-server" (the server decrypts and re-encrypts it).
    std::string path = "direct";
    int64_t rtt_us = -1;              // control channel round trip, -1 if unknown
    IpAddr address, address6;         // overlay addresses, unset if unknown
    std::vector<Prefix> networks;     // networks behind it
    std::string control_endpoint;     // its TLS connection, "" if none
    uint32_t epoch = 0;               // key generation of its SAs
    RekeyLimits limits;               // for the SAs' expiry
    // Mesh pairs only: how the direct path came about.
    bool pair = false;
    int64_t time_to_direct_ms = -1;   // from introduction to direct, -1 if never
    int punch_rounds = 0;             // rounds since the path was last direct
    uint64_t probes_sent = 0;
    std::string punch_reason;         // why the path is what it is (mesh/punch_reason.h)
    // A client's server: whether the data path carries ("carrying",
    // "probing", "dead"; client/path_ladder.h) and why it is where it is.
    std::string data_path, data_path_reason;
};

class JsonWriter;
// One peer of `peer show` as the daemon sends it (lanmesh -j); with `stats`,
// its drops too.  The CLI's text comes from this (cli/show_peer.cc).
void peer_view_json(JsonWriter &j, const PeerView &v, int stats);

struct ReloadReport {
    struct Cut {
        std::string peer, reason;
    };
    std::vector<Cut> cut;                      // sessions ended by the new CRL
    std::vector<std::string> restart_needed;   // changed keys that apply at restart only
    std::vector<std::string> routes_added, routes_removed;   // "PREFIX via NAME"
};

}  // namespace lm
