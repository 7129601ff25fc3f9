// SPDX-License-Identifier: MIT
// One question to every configured etcd endpoint, at start and in
// `lanmeshd --check-config` (docs/DESIGN.md §11): a wrong certificate, CA or
// endpoint (something that is not etcd) must be a clear error before the
// server runs, not a "registry unavailable" that looks like an outage.
// Blocking, a few seconds at most per endpoint: never on the control loop.
#pragma once
#include <openssl/ssl.h>

#include <string>
#include <vector>

#include "config/config.h"

namespace lm {

// The TLS context for https:// endpoints ([Registry] CA, Certificate, Key);
// nullptr with *err empty when every endpoint is http://.
SSL_CTX *registry_tls_ctx(const RegistryConfig &rc, std::string *err);

struct RegistryProbe {
    size_t answered = 0;                 // endpoints where etcd answered
    // Per endpoint that did not: "URL: why", sorted by whether it is wrong (TLS,
    // certificate, not etcd) rather than unreachable (refused, timed out,
    // no such host), which an outage also looks like.
    std::vector<std::string> wrong, unreachable;
};

RegistryProbe probe_registry(const RegistryConfig &rc, SSL_CTX *tls, int timeout_ms);

}  // namespace lm
