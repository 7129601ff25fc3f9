// SPDX-License-Identifier: MIT
// Text output of lanmesh(8), one function per answer.  Each takes the JSON
// the daemon sent (its fields are those of -j, see core/ctl_commands.cc), so
// text and JSON always come from the same data.
#pragma once
#include <cstdio>
#include <ctime>
#include <string>

#include "common/json_value.h"

namespace lm::cli {

void print_link(FILE *f, const Json &link, int stats, time_t now);
void print_peers(FILE *f, const Json &peers, int stats, time_t now);
// -br: one line per peer, columns as ip -br: name, state, path, addresses,
// endpoint, last received.
void print_peers_brief(FILE *f, const Json &peers, time_t now);
void print_sas(FILE *f, const Json &sas, int stats);
void print_routes(FILE *f, const Json &routes);
void print_leases(FILE *f, const Json &leases);
void print_reload(FILE *f, const Json &result);
// One event of `lanmesh monitor` as one line, like `ip monitor`.
std::string event_text(const Json &event);

}  // namespace lm::cli
