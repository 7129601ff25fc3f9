// SPDX-License-Identifier: MIT
// What a control session does the same way in both roles: keepalive (ping,
// pong, the timeout), rekeying the session's SAs (rekey, rekey_ack, when to
// start one), the bye, and the framing of these messages.  The server has
// one session per client, the client one with its server; each keeps its
// own TlsConn, Keying, RttMeter and times, and a ControlSession is a view
// over them, made where it is needed.
//
// What follows from a frame or a tick (a disconnect, a bye back, counters,
// events, logs) is the role's: these calls say what happened and send only
// what the protocol answers by itself (a pong, a rekey_ack, a ping, a rekey).
#pragma once
#include <cstdint>
#include <ctime>
#include <string>
#include <vector>

#include "control/keying.h"
#include "control/messages.h"
#include "control/rtt.h"
#include "control/tls_conn.h"

namespace lm {

class ControlSession {
public:
    ControlSession(TlsConn &conn, Keying &keying, RttMeter &rtt, int64_t &last_rx_ms, int64_t &last_ping_ms)
        : conn_(conn), keying_(keying), rtt_(rtt), last_rx_ms_(last_rx_ms), last_ping_ms_(last_ping_ms) {}

    // One frame of an admitted session (the role notes last_rx_ms itself,
    // before its own phases).
    struct Frame {
        enum Kind {
            not_mine,      // none of the messages above: the role's own
            handled,       // answered or taken, nothing more to do
            bad_payload,   // `text` is the parser's or keying's error
            bye,           // the peer leaves; `text` is its reason
            rekeyed,       // the SAs moved to `epoch`
        } kind = not_mine;
        std::string text;
        uint32_t epoch = 0;
        bool we_started = false;   // rekeyed: the peer acknowledged our rekey
    };
    Frame on_frame(MsgType type, const std::vector<uint8_t> &payload, int64_t now_us);

    struct Timers {
        int keepalive_interval_s;
        int keepalive_timeout_s;
    };
    enum class Tick {
        ok,
        not_reading,    // our output has been full for kOutputFullCutMs
        timed_out,      // nothing heard for keepalive_timeout_s
        rekey_failed,   // *why says why
    };
    // Once per tick of an admitted session: the checks above, in that
    // order; then a ping when one is due, then a rekey when the SAs are due.
    // Sends, but does not flush.
    Tick tick(int64_t now_ms, int64_t now_us, time_t wall, const Timers &t, std::string *why);
    // Starts a rekey if the SAs are due (Keying::tick).  False, with *why,
    // if it could not be started.
    bool rekey_if_due(time_t wall, std::string *why);

    // Says goodbye with `why` (cut to kMaxByeReason) and flushes, if the
    // connection can still send.
    static void send_bye(TlsConn &conn, const std::string &why);

private:
    TlsConn &conn_;
    Keying &keying_;
    RttMeter &rtt_;
    int64_t &last_rx_ms_;
    int64_t &last_ping_ms_;
};

}  // namespace lm
