// SPDX-License-Identifier: MIT
// lanmesh: the ip-style control tool for a running lanmeshd (lanmesh(8)).
// Everything but main() lives in src/cli/ so the unit tests can reach it.
#include "cli/cli.h"

int main(int argc, char **argv) { return lm::cli::run(argc, argv); }
