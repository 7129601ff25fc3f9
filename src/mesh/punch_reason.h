// SPDX-License-Identifier: MIT
// Why a pair is where it is, in plain words for `lanmesh peer show`
// ("punching" line): every outcome of hole punching has a reason an admin can
// act on.  Pure: the facts in, the sentence out.
#pragma once
#include <cstdint>
#include <string>

#include "common/addr.h"

namespace lm {

struct PunchFacts {
    bool keys = false;              // the pair's keys are installed
    bool direct = false;
    bool punching = false;
    bool lost = false;              // was direct, stopped answering
    bool reflexive = false;         // direct endpoint learnt from the peer's probe
    Endpoint endpoint;              // direct: where we send
    int candidates = 0;             // endpoints the server gave
    // The peer's port as its own socket has it and as the server saw it
    // through the peer's NAT (0: unknown, no local address reported).
    uint16_t peer_local_port = 0, peer_public_port = 0;
    int rounds = 0;
    uint64_t probes_sent = 0, replies = 0, probes_heard = 0;
    int64_t next_round_in_ms = -1;  // -1: none scheduled
    int opener_ttl = 0;
    // Neighbouring NATs (punch_plan.h): hops to the peer's NAT, and our
    // role in this round.
    int peer_hops = 0;
    bool holding = false, waiting = false;
    // Birthday punching (punch_plan.h): the direct path was found that way;
    // probes sent to random ports of the peer's address this episode (and
    // still going); our extra ports opened this episode (and open now).
    bool by_birthday = false;
    uint64_t sprayed = 0;
    bool spraying = false;
    bool ports_opened = false, ports_open = false;
};

std::string punch_reason(const PunchFacts &f);

}  // namespace lm
