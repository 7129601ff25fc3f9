// SPDX-License-Identifier: MIT
// Framing of the control channel: the TLS byte stream carries a sequence of
//   version(u8) | type(u8) | length(u16 BE) | payload[length]
// frames.  The reader is incremental and bounded; the writer appends to a
// buffer.  Message bodies are in control/messages.h.  Control path only.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace lm {

constexpr uint8_t kProtoVersion = 1;
constexpr size_t kFrameHeader = 4;
constexpr size_t kMaxPayload = 16384;
constexpr size_t kMaxFrame = kFrameHeader + kMaxPayload;

enum class MsgType : uint8_t {
    hello = 1,         // client -> server, first message
    config = 2,        // server -> client after admission
    rekey = 3,
    rekey_ack = 4,
    ping = 5,
    pong = 6,
    bye = 7,
    route_update = 8,
    esp = 9,           // one ESP packet carried in TLS (the data path's last step)
    path = 10,         // client -> server: the data path's step from now on
    server_hello = 11, // server <-> server, first message of the peer channel
    server_intro = 12, // server <-> server: introduces a node to one held there
    server_key = 13,   // server <-> server: a node's pair key for one held there
    // 16..31 are reserved for the mesh; only these are defined so far.
    peer_info = 16,
    peer_key = 17,
    peer_request = 18,
    peer_gone = 19,
};

bool msg_type_known(uint8_t t);
const char *to_string(MsgType t);  // "hello", ..., "unknown"

class FrameReader {
  public:
    // bad_version, too_large and bad_type are sticky: the stream cannot be
    // resynchronised, so the connection must be closed.  They are reported as
    // soon as the offending header byte arrives, without waiting for the body.
    enum class Status { ok, need_more, bad_version, too_large, bad_type };

    // Appends bytes read from the stream.  Consumed bytes are dropped first, so
    // a caller that drains next() until need_more after every feed() never has
    // more than one partial frame (< kMaxFrame) plus the new bytes buffered.
    // After an error, input is discarded.
    void feed(const uint8_t *p, size_t n);

    // Pops one complete frame.  On ok fills *type (a known MsgType value) and
    // *payload; otherwise leaves them untouched.
    Status next(uint8_t *type, std::vector<uint8_t> *payload);

    size_t buffered() const { return buf_.size() - pos_; }

  private:
    Status check_header() const;

    std::vector<uint8_t> buf_;
    size_t pos_ = 0;            // start of the first unconsumed byte
    Status error_ = Status::ok; // sticky error, ok when none
};

const char *to_string(FrameReader::Status s);

// Appends one frame to *out.  Returns false, leaving *out unchanged, if the
// type is not a known MsgType or the payload exceeds kMaxPayload.
bool frame_append(std::vector<uint8_t> *out, uint8_t type, const std::vector<uint8_t> &payload);
bool frame_append(std::vector<uint8_t> *out, MsgType type, const std::vector<uint8_t> &payload);
// The same from a buffer: an ESP packet carried in TLS is not copied twice.
bool frame_append(std::vector<uint8_t> *out, uint8_t type, const uint8_t *p, size_t n);

}  // namespace lm
