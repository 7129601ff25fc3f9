// SPDX-License-Identifier: MIT
#include "common/version.h"

#include <openssl/crypto.h>

#ifndef LANMESH_VERSION
#define LANMESH_VERSION "unknown"
#endif

namespace lm {

const char *lanmesh_version() { return LANMESH_VERSION; }

std::string version_line(const char *prog) {
    return std::string(prog) + " " + LANMESH_VERSION + " (" + OpenSSL_version(OPENSSL_VERSION) + ")";
}

}  // namespace lm
