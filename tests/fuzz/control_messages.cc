// SPDX-License-Identifier: MIT
// Fuzz target: the body of one control message, decoded as the type byte in
// front says, with the properties of fuzz_messages.h (validate() agrees with
// decode(), encode() of what was decoded is canonical).  The frame layer
// has its own target (control_frame.cc); this one spends all its time in
// the TLV and field parsers.
//
// Input: type(u8) | body.  The type is taken modulo 32 so most bytes name a
// message type.
#include <cstdint>
#include <vector>

#include "fuzz_messages.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lm::fuzz::quiet_logs();
    if (size < 1) return 0;
    std::vector<uint8_t> body(data + 1, data + size);
    lm::fuzz::check_message(data[0] % 32, body);
    return 0;
}
