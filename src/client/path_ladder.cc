// SPDX-License-Identifier: MIT
#include "client/path_ladder.h"

#include "control/messages.h"

namespace lm {

const char *to_string(PathLadder::State s) {
    switch (s) {
    case PathLadder::State::probing: return "probing";
    case PathLadder::State::carrying: return "carrying";
    case PathLadder::State::dead: return "dead";
    }
    return "?";
}

const char *encap_words(Encapsulation e) {
    switch (e) {
    case Encapsulation::raw: return "raw ESP";
    case Encapsulation::udp: return "ESP in UDP";
    case Encapsulation::tls: return "ESP in TLS";
    case Encapsulation::auto_: break;
    }
    return "auto";
}

void PathLadder::start(Encapsulation first, uint8_t allowed, int64_t now, const std::string &note) {
    allowed_ = uint8_t(allowed | path_bit(first));
    cur_ = 0;
    for (int i = 0; i < 3; i++)
        if (kSteps[i] == first) cur_ = i;
    state_ = State::probing;
    reason_ = note;
    proven_once_ = false;
    started_ = false;   // counters are taken as they are at the first tick
    for (int i = 0; i < 3; i++) rx_ms_[i] = 0;
    tx_ms_ = 0;
    probe_since_ = now;
    last_probe_ = 0;
    up_since_ = 0;
    up_last_ = now;
    up_probe_ = 0;
}

int PathLadder::next_lower(int i) const {
    for (int j = i + 1; j < 3; j++)
        if (allowed(j)) return j;
    return -1;
}

int PathLadder::best() const {
    for (int i = 0; i < 3; i++)
        if (allowed(i)) return i;
    return cur_;
}

void PathLadder::set_state(State s, Actions *a) {
    if (state_ != s) a->changed = true;
    state_ = s;
}

PathLadder::Actions PathLadder::tick(int64_t now, const uint64_t rx[3], uint64_t tx) {
    Actions a;
    if (!started_) {
        // What the tunnel counted before this session is no evidence.
        started_ = true;
        for (int i = 0; i < 3; i++) rx_seen_[i] = rx[i];
        tx_seen_ = tx;
    }
    for (int i = 0; i < 3; i++)
        if (rx[i] != rx_seen_[i]) {
            rx_seen_[i] = rx[i];
            rx_ms_[i] = now;
        }
    if (tx != tx_seen_) {
        tx_seen_ = tx;
        tx_ms_ = now;
    }

    // Better steps answered during an upward round: move to the best of
    // them.  It is proven already, and the step below keeps working until
    // the server hears of the move, so nothing is lost.
    if (up_since_) {
        for (int i = 0; i < cur_; i++) {
            if (!allowed(i) || rx_ms_[pi(i)] < up_since_) continue;
            reason_ = std::string(encap_words(kSteps[i])) + " carries again";
            cur_ = i;
            up_since_ = 0;
            up_last_ = now;
            probe_since_ = 0;
            proven_once_ = true;
            state_ = State::carrying;
            a.moved = a.changed = true;
            break;
        }
        if (up_since_ && now - up_since_ >= kDeadAfterMs) {
            up_since_ = 0;
            up_last_ = now;
        }
    }

    // The current step.
    int64_t heard = rx_ms_[pi(cur_)];
    if (probe_since_ && heard >= probe_since_ && heard) {
        probe_since_ = 0;
        proven_once_ = true;
        if (state_ == State::dead) reason_.clear();
        set_state(State::carrying, &a);
    }
    if (!probe_since_) {
        bool unanswered = tx_ms_ > heard && now - heard >= kQuietAfterSendMs;
        bool quiet = now - heard >= kIdleProbeMs;
        if (!heard || unanswered || quiet) {
            probe_since_ = now;
            last_probe_ = 0;
        }
    }
    if (probe_since_ && now - probe_since_ >= kDeadAfterMs && state_ != State::dead) {
        std::string why = "no authenticated ESP came back by " + std::string(encap_words(kSteps[cur_])) + " for " +
                          std::to_string(kDeadAfterMs / 1000) + " s";
        int lower = next_lower(cur_);
        if (lower >= 0) {
            reason_ = why;
            cur_ = lower;
            probe_since_ = now;
            last_probe_ = 0;
            up_last_ = now;
            state_ = State::probing;
            a.moved = a.changed = true;
        } else {
            reason_ = why;
            set_state(State::dead, &a);
            a.changed = true;
        }
    }
    if (probe_since_ && now - last_probe_ >= kProbeEveryMs) {
        last_probe_ = now;
        a.probe[pi(cur_)] = true;
    }

    // Now and then, try the better steps while traffic stays here.
    if (!up_since_ && cur_ > best() && state_ == State::carrying && now - up_last_ >= kUpwardEveryMs) {
        up_since_ = now;
        up_probe_ = 0;
    }
    if (up_since_ && now - up_probe_ >= kProbeEveryMs) {
        up_probe_ = now;
        for (int i = 0; i < cur_; i++)
            if (allowed(i)) a.probe[pi(i)] = true;
    }
    return a;
}

}  // namespace lm
