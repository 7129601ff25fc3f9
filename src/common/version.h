// SPDX-License-Identifier: MIT
// The version of this build: the newest entry of NEWS, plus the git
// revision when built from a checkout (the Makefile passes it in).
#pragma once
#include <string>

namespace lm {

const char *lanmesh_version();
// "PROG 0.9.0+gabc1234 (OpenSSL 3.0.17 1 Jul 2025)": what --version prints.
// The OpenSSL version is the library loaded at run time, not the headers'.
std::string version_line(const char *prog);

}  // namespace lm
