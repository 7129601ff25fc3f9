// SPDX-License-Identifier: MIT
// Events for `lanmesh monitor`: what happened to peers, paths, keys and
// refused connections, as one JSON object per line on the control socket of
// every monitor that asked for that kind.
//
// Emit them with Node::emit_event() where the daemon logs the same fact, so
// the log and the monitor never disagree.  Every line carries
//     "time": seconds since the epoch, "event": the kind
// and then the kind's fields (all optional except "peer" where shown):
//   peer     "peer": NAME, "state": "up" | "down", "address", "endpoint",
//            "reason" (down only)
//   path     "peer": NAME, "path": "via-server" | "relay" | "direct",
//            "endpoint" (the pair's outer address when direct)
//   rekey    "peer": NAME, "epoch": N, "initiator": "local" | "remote"
//   refused  "peer": NAME (when known), "from": ENDPOINT, "reason": TEXT
//   server   "name": NAME, "state": "joined" | "left", "address", "nodes"
//            (a server of the network, as the registry in etcd shows it)
//
// Control path only.
#pragma once
#include <functional>
#include <string>
#include <string_view>

#include "common/json.h"

namespace lm {

// Subscription masks: one bit per kind.
constexpr unsigned kEventPeer = 1, kEventPath = 2, kEventRekey = 4, kEventRefused = 8, kEventServer = 16;
constexpr unsigned kEventAll = kEventPeer | kEventPath | kEventRekey | kEventRefused | kEventServer;

// "peer" -> kEventPeer, ..., "all" -> kEventAll; 0 for anything else.
unsigned event_mask(std::string_view name);

// The newline-terminated JSON line of one event.
std::string event_line(const char *kind, const std::function<void(JsonWriter &)> &fields);

}  // namespace lm
