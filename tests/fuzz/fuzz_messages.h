// SPDX-License-Identifier: MIT
// Decoding one control message body by its frame type, as the server and the
// client do on their control channel, plus the properties a decoded message
// must have: validate() agrees with decode(), and encode() of it decodes again
// to the same bytes (the encoding is canonical).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "control/frame.h"
#include "control/messages.h"
#include "fuzz_check.h"

namespace lm::fuzz {

template <class M>
void decode_round_trip(const std::vector<uint8_t> &body) {
    M m;
    std::string err;
    if (!decode(body, &m, &err)) {
        LM_FUZZ_CHECK(!err.empty());
        return;
    }
    // The mesh messages have no validate().
    if constexpr (requires(const M &x, std::string *e) { validate(x, e); })
        LM_FUZZ_CHECK(validate(m, &err));
    std::vector<uint8_t> once = encode(m);
    M again;
    LM_FUZZ_CHECK(decode(once, &again, &err));
    LM_FUZZ_CHECK(encode(again) == once);
}

// `type` is any byte; bodies of unknown types are ignored as FrameReader
// never returns them.
inline void check_message(uint8_t type, const std::vector<uint8_t> &body) {
    if (!msg_type_known(type)) return;
    switch (MsgType(type)) {
    case MsgType::hello: return decode_round_trip<Hello>(body);
    case MsgType::config: return decode_round_trip<ConfigMsg>(body);
    case MsgType::rekey:
    case MsgType::rekey_ack: return decode_round_trip<Rekey>(body);
    case MsgType::ping:
    case MsgType::pong: return decode_round_trip<Ping>(body);
    case MsgType::bye: return decode_round_trip<Bye>(body);
    case MsgType::route_update: return decode_round_trip<RouteUpdate>(body);
    case MsgType::path: return decode_round_trip<PathMsg>(body);
    case MsgType::esp: return;   // an ESP packet: the data plane's to judge (its SA decides)
    case MsgType::peer_info: return decode_round_trip<PeerInfo>(body);
    case MsgType::peer_key: return decode_round_trip<PeerKey>(body);
    case MsgType::peer_request: return decode_round_trip<PeerRequest>(body);
    case MsgType::peer_gone: return decode_round_trip<PeerGone>(body);
    case MsgType::server_hello: return decode_round_trip<ServerHello>(body);
    case MsgType::server_intro: return decode_round_trip<ServerIntro>(body);
    case MsgType::server_key: return decode_round_trip<ServerKey>(body);
    }
}

}  // namespace lm::fuzz
