// SPDX-License-Identifier: MIT
// The command line of lanmesh(8), iproute2 style:
//
//   lanmesh [ OPTIONS ] OBJECT { COMMAND | help }
//
// Objects, commands and keywords may be shortened to any unique prefix
// (`lanmesh p s` is `lanmesh peer show`); an object without a command is
// shown.  Parsing needs no daemon: the result is the canonical request that
// goes over the control socket (core/ctl_socket.h), or help, or a usage
// error.  Exit status: 0 ok, 1 error, 2 usage.
#pragma once
#include <string>
#include <vector>

namespace lm::cli {

constexpr const char *kDefaultRunDir = "/run/lanmesh";
constexpr int kExitOk = 0, kExitError = 1, kExitUsage = 2;

enum class Object { link, peer, sa, route, lease, monitor, reload };
enum class Verb { none, show, add, del };

struct Options {
    bool json = false;      // -j; -p implies it
    bool pretty = false;
    int stats = 0;          // -s, repeatable
    bool brief = false;     // -br: one line per peer, as ip -br
    bool force = false;     // -f: route add via a peer the daemon does not know
    std::string net;        // -n; "" = the only network running
    std::string rundir = kDefaultRunDir;
};

struct Invocation {
    enum class Action { run, help, version } action = Action::run;
    Options opt;
    Object object = Object::link;
    Verb verb = Verb::none;
    std::vector<std::string> args;   // canonical: keywords spelt out
    std::string help;                // the text to print for Action::help

    // The request line for the daemon, without the newline:
    // "-s -s peer show alice", "monitor rekey refused", "reload".
    std::string request() const;
    // "peer show", "monitor": for messages.
    std::string what() const;
};

// Parses argv without the program name.  Returns kExitOk and fills *inv, or
// kExitUsage with a one-line *err (without the "lanmesh: " prefix).
int parse_command_line(const std::vector<std::string> &argv, Invocation *inv, std::string *err);

// The grammar as `X := ...` productions, as in the SYNOPSIS of lanmesh(8).
std::string usage_text();
std::string object_usage(Object o);
const char *object_name(Object o);

}  // namespace lm::cli
