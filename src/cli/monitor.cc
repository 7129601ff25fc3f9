// SPDX-License-Identifier: MIT
// `lanmesh monitor` lines, like `ip monitor`: the kind, the peer, what
// happened, then the remaining fields as "key value":
//
//   peer alice up address 198.18.0.2 endpoint 192.0.2.11:40112 encapsulation raw
//   rekey alice epoch 4 initiator local
//   refused mallory from 192.0.2.66:51234 reason "certificate revoked"
//   path bob direct endpoint 198.51.100.2:4500
//
// Fields the tool does not know yet are printed the same way, so new event
// fields need no change here.
#include "cli/render.h"
#include "cli/text.h"

namespace lm::cli {

std::string event_text(const Json &e) {
    std::string s = e.str("event", "event");
    if (const Json *p = e.get("peer")) s += " " + word(p->text());
    for (const char *k : {"state", "path"})
        if (const Json *v = e.get(k)) s += " " + word(v->text());
    for (const auto &[k, v] : e.members) {
        if (k == "time" || k == "event" || k == "peer" || k == "state" || k == "path") continue;
        s += " " + dashed(k) + " " + word(v.text());
    }
    return s;
}

}  // namespace lm::cli
