// SPDX-License-Identifier: MIT
// `lanmesh monitor` lines, like `ip monitor`: the kind, the peer, what
// happened, then the remaining fields as "key value":
//
//   peer alice up address 198.18.0.2 endpoint 192.0.2.11:40112 encapsulation raw
//   rekey alice epoch 4 initiator local
//   refused mallory from 192.0.2.66:51234 reason "certificate revoked"
//   path bob direct endpoint 198.51.100.2:4500
//   server srvb joined address 192.0.2.2 nodes 0
//
// Fields the tool does not know yet are printed the same way, so new event
// fields need no change here.
#include "cli/render.h"
#include "cli/text.h"

namespace lm::cli {

std::string event_text(const Json &e) {
    std::string s = e.str("event", "event");
    // Whom it is about: a peer, or a server of the network ("name").
    const char *who = e.get("peer") ? "peer" : e.get("name") ? "name" : nullptr;
    if (who) s += " " + word(e.get(who)->text());
    for (const char *k : {"state", "path"})
        if (const Json *v = e.get(k)) s += " " + word(v->text());
    for (const auto &[k, v] : e.members) {
        if (k == "time" || k == "event" || (who && k == who) || k == "state" || k == "path") continue;
        s += " " + dashed(k) + " " + word(v.text());
    }
    return s;
}

}  // namespace lm::cli
