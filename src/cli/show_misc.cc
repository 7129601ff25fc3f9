// SPDX-License-Identifier: MIT
// `lanmesh route show`, `lease show` and what `reload` did, one line per
// item as `ip route` prints routes:
//
//   198.19.5.0/24 via bob dev lm-office origin config active
//   alice 198.18.0.2 2001:db8:1::2 fixed active
#include "cli/render.h"
#include "cli/text.h"

namespace lm::cli {

void print_routes(FILE *f, const Json &routes) {
    for (const auto &r : routes.items) {
        std::string s = r.str("prefix") + " via " + r.str("via");
        if (std::string gw = r.str("gateway"); !gw.empty()) s += " gateway " + gw;
        s += " dev " + r.str("dev");
        if (const Json *t = r.get("table")) s += " table " + t->text();
        s += " origin " + r.str("origin") + (r.flag("active") ? " active" : " inactive");
        if (std::string why = r.str("refused"); !why.empty()) s += " refused: " + why;
        std::fprintf(f, "%s\n", s.c_str());
    }
}

void print_leases(FILE *f, const Json &leases) {
    for (const auto &l : leases.items) {
        std::string s = word(l.str("name")) + " " + l.str("address");
        if (std::string a6 = l.str("address6"); !a6.empty()) s += " " + a6;
        if (std::string srv = l.str("server"); !srv.empty()) s += " server " + srv;
        if (l.flag("fixed")) s += " fixed";
        std::fprintf(f, "%s %s\n", s.c_str(), l.flag("active") ? "active" : "inactive");
    }
}

// Silent when nothing noteworthy happened, like ip(8) after a change.
void print_reload(FILE *f, const Json &r) {
    if (const Json *cut = r.get("cut"))
        for (const auto &c : cut->items) std::fprintf(f, "cut %s: %s\n", c.str("peer").c_str(), c.str("reason").c_str());
    for (auto [key, verb] : {std::pair{"routes_added", "added"}, std::pair{"routes_removed", "removed"}})
        if (const Json *a = r.get(key))
            for (const auto &x : a->items) std::fprintf(f, "route %s %s\n", verb, x.text().c_str());
    if (const Json *rn = r.get("restart_needed"); rn && !rn->items.empty()) {
        std::string keys;
        for (const auto &x : rn->items) keys += (keys.empty() ? "" : ", ") + x.text();
        std::fprintf(f, "restart needed for: %s\n", keys.c_str());
    }
}

}  // namespace lm::cli
