// SPDX-License-Identifier: MIT
// The tool's side of the control socket (the protocol is described in
// src/core/ctl_socket.h): find RUNDIR/NET.sock, send one request line, read
// the answer, or keep reading a monitor's stream.
#pragma once
#include <functional>
#include <string>

#include "cli/grammar.h"

namespace lm::cli {

constexpr size_t kMaxAnswer = 64u << 20;   // a daemon with many peers; never unbounded
constexpr int kAnswerTimeoutMs = 10000;

// RUNDIR/NET.sock for -n NET; otherwise the one network running in RUNDIR
// (sockets that refuse connections are stale and do not count).
bool find_socket(const Options &o, std::string *path, std::string *err);

// One request, one answer line (without its newline).
bool exchange(const std::string &path, const std::string &request, std::string *answer, std::string *err);

// A monitor: sends the request and calls on_line for each line until the
// daemon closes the connection (an error: a monitor has no end) or on_line
// returns false.
bool stream(const std::string &path, const std::string &request,
            const std::function<bool(const std::string &)> &on_line, std::string *err);

}  // namespace lm::cli
