// SPDX-License-Identifier: MIT
// Fuzz target: the control channel's byte stream as the TLS layer hands it
// over -- FrameReader reassembling frames from reads of any size, and every
// complete frame's body decoded as its type says (fuzz_messages.h).
//
// Input: chunking(u8) | stream.  The stream is fed once whole and once in
// pieces whose sizes follow from the first byte; both readers must return
// the same frames and the same final status, and never hold more than one
// partial frame plus the last piece.
#include <cstdint>
#include <vector>

#include "control/frame.h"
#include "fuzz_messages.h"

namespace lm {
namespace {

struct Result {
    std::vector<std::pair<uint8_t, std::vector<uint8_t>>> frames;
    FrameReader::Status last = FrameReader::Status::need_more;
};

// Drains the reader after a feed of `fed` bytes, as the control loop does.
void drain(FrameReader &r, Result *res, size_t fed) {
    for (;;) {
        uint8_t type = 0;
        std::vector<uint8_t> payload;
        FrameReader::Status s = r.next(&type, &payload);
        res->last = s;
        if (s != FrameReader::Status::ok) {
            if (s == FrameReader::Status::need_more) LM_FUZZ_CHECK(r.buffered() < kMaxFrame + fed);
            return;
        }
        LM_FUZZ_CHECK(msg_type_known(type));
        LM_FUZZ_CHECK(payload.size() <= kMaxPayload);
        res->frames.emplace_back(type, std::move(payload));
    }
}

}  // namespace
}  // namespace lm

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    using namespace lm;
    fuzz::quiet_logs();
    if (size < 1) return 0;
    uint32_t rng = data[0] * 2654435761u + 1;
    const uint8_t *stream = data + 1;
    size_t n = size - 1;

    Result whole;
    FrameReader a;
    a.feed(stream, n);
    drain(a, &whole, n);

    Result pieces;
    FrameReader b;
    for (size_t off = 0; off < n;) {
        rng = rng * 1103515245u + 12345u;
        size_t piece = 1 + (rng >> 16) % (data[0] < 128 ? 7 : 300);
        if (piece > n - off) piece = n - off;
        b.feed(stream + off, piece);
        off += piece;
        drain(b, &pieces, piece);
    }
    if (n == 0) drain(b, &pieces, 0);

    LM_FUZZ_CHECK(whole.frames == pieces.frames);
    LM_FUZZ_CHECK(whole.last == pieces.last);
    // An error is sticky, and input after it is ignored.
    if (whole.last != FrameReader::Status::need_more) {
        uint8_t type;
        std::vector<uint8_t> payload;
        a.feed(stream, n);
        LM_FUZZ_CHECK(a.next(&type, &payload) == whole.last);
    }
    for (const auto &[type, body] : whole.frames) fuzz::check_message(type, body);
    return 0;
}
