// SPDX-License-Identifier: MIT
// Why a control connection was closed for breaking the protocol after its
// TLS handshake completed: one counter per reason (lanmesh(8) link show).
// Control path only.
#pragma once
#include <cstddef>

namespace lm {

enum class ProtoError {
    bad_version,      // frame header: a protocol version we do not speak
    bad_length,       // frame header: a length above kMaxPayload
    unknown_type,     // frame header: a message type nobody defined
    unexpected_type,  // a known message this side or this phase does not take
    bad_payload,      // a message whose body does not decode or check out
    tls_error,        // the TLS record layer failed (garbage, a bad MAC, an alert)
    count_
};

constexpr size_t kProtoErrorCount = size_t(ProtoError::count_);

const char *to_string(ProtoError e);   // "bad-version", as in logs and text output
const char *json_key(ProtoError e);    // "bad_version", as in JSON

}  // namespace lm
