// SPDX-License-Identifier: MIT
// The client's data path to the server: which step of the ladder
//     ESP in UDP (port 4500)  ->  raw ESP  ->  ESP inside the TLS connection
// carries its ESP, and whether that step is proven to carry.
//
// ESP in UDP comes first because it is the fast path of a userspace data
// plane: UDP GSO and GRO move some 45 packets through the kernel as one,
// SO_REUSEPORT spreads peers over the workers, and it crosses NATs and most
// firewalls.  Raw ESP goes through the IP stack packet by packet (twice the
// CPU per byte in `make bench`'s defaults rows) and every raw socket sees
// every ESP packet of the host; it is the step for a network that blocks
// UDP 4500 but passes IP protocol 50 (and only where no NAT is in the way),
// or the one step when pinned (docs/DESIGN.md §10).
//
// Keepalives on the TLS connection say nothing about the data path: a
// firewall that drops IP protocol 50 or UDP 4500 leaves TLS up and the
// tunnel dead.  So the path proves itself by authenticated traffic both
// ways on the path itself: when the client has sent without hearing back,
// has heard nothing for a while, or has never heard anything on a step, it
// sends RFC 4303 dummy packets (next header 59) on that step once a second,
// and the server answers each with a dummy of its own on the path it came
// by (Dataplane::reply_dummy).  A step that brings nothing back within
// kDeadAfterMs of probing is dead: the ladder moves one step down.  Every
// kUpwardEveryMs a lower step probes the better ones (traffic stays where it
// is meanwhile) and moves up to the best that answered, so nothing is lost
// on the way up.  A pinned step (Encapsulation = raw | udp | tls, on either
// side) is never left; it is reported dead instead.
//
// Pure logic: time comes in as CLOCK_MONOTONIC milliseconds and evidence as
// counters; the caller sends the probes, switches the tunnel and tells the
// server (client/client.cc).
#pragma once
#include <cstdint>
#include <string>

#include "config/config.h"
#include "control/messages.h"
#include "data/tunnel.h"

namespace lm {

class PathLadder {
public:
    static constexpr int64_t kProbeEveryMs = 1000;
    static constexpr int64_t kDeadAfterMs = 4000;
    // Sent without an answer for this long: probe.
    static constexpr int64_t kQuietAfterSendMs = 1500;
    // Heard nothing at all for this long (idle both ways): probe.
    static constexpr int64_t kIdleProbeMs = 25000;
    static constexpr int64_t kUpwardEveryMs = 30000;

    enum class State { probing, carrying, dead };
    // Steps in ladder order, best first.
    static constexpr Encapsulation kSteps[3] = {Encapsulation::udp, Encapsulation::raw, Encapsulation::tls};
    // Steps by path_index (data/tunnel.h): the order of tick()'s rx[] and
    // Actions::probe[].
    static constexpr Encapsulation kByPathIndex[3] = {Encapsulation::raw, Encapsulation::udp, Encapsulation::tls};

    // A new session: `first` is the server's choice, `allowed` the steps
    // both sides take (kPath* bits of control/messages.h).
    // `note` says why the first step is not the best one ("" if it is).
    void start(Encapsulation first, uint8_t allowed, int64_t now_ms, const std::string &note = "");

    // What the caller must do after a tick.
    struct Actions {
        bool probe[3] = {};          // send a dummy on kByPathIndex[i]
        bool moved = false;          // current() changed: switch the tunnel, tell the server
        bool changed = false;        // state(), current() or reason() changed: log, report
    };
    // `rx` are authenticated ESP packets received so far on each step
    // (Tunnel::Stats::path_rx), `tx` data packets sent so far on any step.
    Actions tick(int64_t now_ms, const uint64_t rx[3], uint64_t tx);

    Encapsulation current() const { return kSteps[cur_]; }
    State state() const { return state_; }
    // Why the ladder is where it is ("" while the first step is fine).
    const std::string &reason() const { return reason_; }
    // Whether current() has ever been proven in this session.
    bool proven_once() const { return proven_once_; }
    // The step currently being tried above current(), or -1.
    bool probing_upward() const { return up_since_ != 0; }

private:
    // r is a rank (an index into kSteps); arrays below are by path_index.
    bool allowed(int r) const { return allowed_ & path_bit(kSteps[r]); }
    static int pi(int r) { return path_index(kSteps[r]); }
    int next_lower(int i) const;
    int best() const;
    void set_state(State s, Actions *a);

    uint8_t allowed_ = 0;
    int cur_ = 0;
    State state_ = State::probing;
    std::string reason_;
    bool proven_once_ = false;
    bool started_ = false;
    uint64_t rx_seen_[3] = {}, tx_seen_ = 0;
    int64_t rx_ms_[3] = {};          // when rx last grew (0: never this session)
    int64_t tx_ms_ = 0;              // when tx last grew
    int64_t probe_since_ = 0;        // probing current(): since when (0: not)
    int64_t last_probe_ = 0;
    int64_t up_since_ = 0;           // probing better steps: since when (0: not)
    int64_t up_last_ = 0;            // when the last upward round ended (or the step was taken)
    int64_t up_probe_ = 0;
};

const char *to_string(PathLadder::State s);   // "probing", "carrying", "dead"
// "raw ESP", "ESP in UDP", "ESP in TLS"
const char *encap_words(Encapsulation e);

}  // namespace lm
