// SPDX-License-Identifier: MIT
// lanmesh(8), the ip-style tool for a running lanmeshd: see cli/grammar.h
// for the command line and core/ctl_socket.h for the protocol it speaks.
#pragma once

namespace lm::cli {

// The whole program; returns the exit status (0 ok, 1 error, 2 usage).
int run(int argc, char **argv);

}  // namespace lm::cli
