// SPDX-License-Identifier: MIT
#include "control/session.h"

namespace lm {

ControlSession::Frame ControlSession::on_frame(MsgType type, const std::vector<uint8_t> &payload, int64_t now_us) {
    Frame f;
    std::string err;
    auto bad = [&] {
        f.kind = Frame::bad_payload;
        f.text = err;
        return f;
    };
    switch (type) {
    case MsgType::ping: {
        Ping p;
        if (!decode(payload, &p, &err)) return bad();
        conn_.send(MsgType::pong, encode(p));
        f.kind = Frame::handled;
        return f;
    }
    case MsgType::pong: {
        Ping p;
        if (!decode(payload, &p, &err)) return bad();
        rtt_.pong(p.nonce, now_us);
        f.kind = Frame::handled;
        return f;
    }
    case MsgType::rekey: {
        Rekey r, ack;
        if (!decode(payload, &r, &err)) return bad();
        Keying::Answer a = keying_.on_rekey(conn_.ssl(), r, &ack, &err);
        if (a == Keying::Answer::error) return bad();
        f.kind = Frame::handled;
        if (a == Keying::Answer::send_ack) {
            conn_.send(MsgType::rekey_ack, encode(ack));
            f.kind = Frame::rekeyed;
            f.epoch = ack.epoch;
        }
        return f;
    }
    case MsgType::rekey_ack: {
        Rekey r;
        if (!decode(payload, &r, &err)) return bad();
        if (!keying_.on_rekey_ack(conn_.ssl(), r, &err)) return bad();
        f.kind = Frame::rekeyed;
        f.epoch = r.epoch;
        f.we_started = true;
        return f;
    }
    case MsgType::bye: {
        Bye b;
        if (!decode(payload, &b, &err)) return bad();
        f.kind = Frame::bye;
        f.text = b.reason;
        return f;
    }
    default:
        return f;
    }
}

ControlSession::Tick ControlSession::tick(int64_t now_ms, int64_t now_us, time_t wall, const Timers &t,
                                          std::string *why) {
    if (int64_t full = conn_.full_since_ms(); full && now_ms - full >= kOutputFullCutMs) return Tick::not_reading;
    if (now_ms - last_rx_ms_ >= int64_t(t.keepalive_timeout_s) * 1000) return Tick::timed_out;
    if (now_ms - last_ping_ms_ >= int64_t(t.keepalive_interval_s) * 1000) {
        last_ping_ms_ = now_ms;
        conn_.send(MsgType::ping, encode(Ping{rtt_.ping(now_us)}));
    }
    return rekey_if_due(wall, why) ? Tick::ok : Tick::rekey_failed;
}

bool ControlSession::rekey_if_due(time_t wall, std::string *why) {
    if (!keying_.tick(wall)) return true;
    Rekey r;
    std::string err;
    if (keying_.start_rekey(conn_.ssl(), &r, &err)) {
        conn_.send(MsgType::rekey, encode(r));
    } else if (!err.empty()) {
        *why = "rekey failed: " + err;
        return false;
    }
    return true;
}

void ControlSession::send_bye(TlsConn &conn, const std::string &why) {
    if (!conn.can_send()) return;
    Bye b;
    b.reason = why.substr(0, kMaxByeReason);
    conn.send(MsgType::bye, encode(b));
    conn.flush();
}

}  // namespace lm
