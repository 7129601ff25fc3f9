// SPDX-License-Identifier: MIT
#include "control/frame.h"

#include "common/bytes.h"

namespace lm {

bool msg_type_known(uint8_t t) {
    return (t >= uint8_t(MsgType::hello) && t <= uint8_t(MsgType::server_key)) ||
           (t >= uint8_t(MsgType::peer_info) && t <= uint8_t(MsgType::peer_gone));
}

const char *to_string(MsgType t) {
    switch (t) {
    case MsgType::hello: return "hello";
    case MsgType::config: return "config";
    case MsgType::rekey: return "rekey";
    case MsgType::rekey_ack: return "rekey_ack";
    case MsgType::ping: return "ping";
    case MsgType::pong: return "pong";
    case MsgType::bye: return "bye";
    case MsgType::route_update: return "route_update";
    case MsgType::esp: return "esp";
    case MsgType::path: return "path";
    case MsgType::server_hello: return "server_hello";
    case MsgType::server_intro: return "server_intro";
    case MsgType::server_key: return "server_key";
    case MsgType::peer_info: return "peer_info";
    case MsgType::peer_key: return "peer_key";
    case MsgType::peer_request: return "peer_request";
    case MsgType::peer_gone: return "peer_gone";
    }
    return "unknown";
}

const char *to_string(FrameReader::Status s) {
    switch (s) {
    case FrameReader::Status::ok: return "ok";
    case FrameReader::Status::need_more: return "need more data";
    case FrameReader::Status::bad_version: return "unsupported protocol version";
    case FrameReader::Status::too_large: return "frame too large";
    case FrameReader::Status::bad_type: return "unknown message type";
    }
    return "unknown status";
}

void FrameReader::feed(const uint8_t *p, size_t n) {
    if (error_ != Status::ok || n == 0) return;
    if (pos_ > 0) {
        buf_.erase(buf_.begin(), buf_.begin() + ptrdiff_t(pos_));
        pos_ = 0;
    }
    buf_.insert(buf_.end(), p, p + n);
}

// Checks as much of the pending header as has arrived.
FrameReader::Status FrameReader::check_header() const {
    size_t avail = buffered();
    const uint8_t *h = buf_.data() + pos_;
    if (avail >= 1 && h[0] != kProtoVersion) return Status::bad_version;
    if (avail >= 2 && !msg_type_known(h[1])) return Status::bad_type;
    if (avail < kFrameHeader) return Status::need_more;
    if (load_be16(h + 2) > kMaxPayload) return Status::too_large;
    return Status::ok;
}

FrameReader::Status FrameReader::next(uint8_t *type, std::vector<uint8_t> *payload) {
    if (error_ != Status::ok) return error_;
    Status s = check_header();
    if (s == Status::need_more) return s;
    if (s != Status::ok) {
        error_ = s;
        buf_.clear();
        buf_.shrink_to_fit();
        pos_ = 0;
        return s;
    }
    const uint8_t *h = buf_.data() + pos_;
    size_t len = load_be16(h + 2);
    if (buffered() < kFrameHeader + len) return Status::need_more;
    *type = h[1];
    payload->assign(h + kFrameHeader, h + kFrameHeader + len);
    pos_ += kFrameHeader + len;
    if (pos_ == buf_.size()) {
        buf_.clear();
        pos_ = 0;
        // Give back memory after a burst; one frame's worth is kept for reuse.
        if (buf_.capacity() > 2 * kMaxFrame) buf_.shrink_to_fit();
    }
    return Status::ok;
}

bool frame_append(std::vector<uint8_t> *out, uint8_t type, const uint8_t *p, size_t n) {
    if (!msg_type_known(type) || n > kMaxPayload) return false;
    uint8_t h[kFrameHeader] = {kProtoVersion, type, 0, 0};
    store_be16(h + 2, uint16_t(n));
    out->insert(out->end(), h, h + kFrameHeader);
    out->insert(out->end(), p, p + n);
    return true;
}

bool frame_append(std::vector<uint8_t> *out, uint8_t type, const std::vector<uint8_t> &payload) {
    return frame_append(out, type, payload.data(), payload.size());
}

bool frame_append(std::vector<uint8_t> *out, MsgType type, const std::vector<uint8_t> &payload) {
    return frame_append(out, uint8_t(type), payload);
}

}  // namespace lm
