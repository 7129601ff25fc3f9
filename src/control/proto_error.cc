// SPDX-License-Identifier: MIT
#include "control/proto_error.h"

namespace lm {

const char *to_string(ProtoError e) {
    switch (e) {
    case ProtoError::bad_version: return "bad-version";
    case ProtoError::bad_length: return "bad-length";
    case ProtoError::unknown_type: return "unknown-type";
    case ProtoError::unexpected_type: return "unexpected-type";
    case ProtoError::bad_payload: return "bad-payload";
    case ProtoError::tls_error: return "tls-error";
    case ProtoError::count_: break;
    }
    return "unknown";
}

const char *json_key(ProtoError e) {
    switch (e) {
    case ProtoError::bad_version: return "bad_version";
    case ProtoError::bad_length: return "bad_length";
    case ProtoError::unknown_type: return "unknown_type";
    case ProtoError::unexpected_type: return "unexpected_type";
    case ProtoError::bad_payload: return "bad_payload";
    case ProtoError::tls_error: return "tls_error";
    case ProtoError::count_: break;
    }
    return "unknown";
}

}  // namespace lm
