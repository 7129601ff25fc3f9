// SPDX-License-Identifier: MIT
// Fuzz target: an etcd member's HTTP/1.1 answer as the registry's client
// reads it (registry/http.h), whole and in pieces of any size.  Both parsers
// must agree on the outcome, the status and the body, stay within the size
// limits, and keep an error or a finished answer sticky.
//
// Input: flags(u8) | stream.  Bit 0 of flags: stop after the first chunk
// (etcd's streaming calls); the rest seeds the piece sizes.  After the
// stream the peer closes (eof()).
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "registry/http.h"

namespace lm {
namespace {

struct Outcome {
    HttpResponseParser::State state = HttpResponseParser::State::more;
    int status = 0;
    std::string body;
    bool operator==(const Outcome &o) const { return state == o.state && status == o.status && body == o.body; }
};

Outcome finish(HttpResponseParser &p, HttpResponseParser::State last) {
    if (last == HttpResponseParser::State::more) last = p.eof();
    Outcome o{last, 0, {}};
    if (last == HttpResponseParser::State::done) {
        o.status = p.response().status;
        o.body = p.response().body;
        LM_FUZZ_CHECK(o.status >= 100 && o.status <= 999);
        LM_FUZZ_CHECK(o.body.size() <= HttpResponseParser::kMaxBody);
    } else {
        LM_FUZZ_CHECK(last == HttpResponseParser::State::error);
        LM_FUZZ_CHECK(!p.error().empty());
    }
    return o;
}

}  // namespace
}  // namespace lm

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    using namespace lm;
    fuzz::quiet_logs();
    if (size < 1) return 0;
    bool first_chunk = data[0] & 1;
    uint32_t rng = data[0] * 2654435761u + 1;
    const char *stream = reinterpret_cast<const char *>(data + 1);
    size_t n = size - 1;

    HttpResponseParser a(first_chunk);
    Outcome whole = finish(a, a.feed(stream, n));

    HttpResponseParser b(first_chunk);
    HttpResponseParser::State s = HttpResponseParser::State::more;
    for (size_t off = 0; off < n && s == HttpResponseParser::State::more;) {
        rng = rng * 1103515245u + 12345u;
        size_t piece = 1 + (rng >> 16) % (data[0] < 128 ? 7 : 300);
        if (piece > n - off) piece = n - off;
        s = b.feed(stream + off, piece);
        off += piece;
    }
    Outcome pieces = finish(b, s);
    LM_FUZZ_CHECK(whole == pieces);
    // Finished is final: more bytes change nothing.
    LM_FUZZ_CHECK(a.feed(stream, n) == whole.state);
    return 0;
}
