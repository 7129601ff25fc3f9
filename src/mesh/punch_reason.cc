// SPDX-License-Identifier: MIT
#include "mesh/punch_reason.h"

namespace lm {

static std::string retry_text(const PunchFacts &f) {
    if (f.next_round_in_ms < 0) return "";
    return "; punching again in " + std::to_string((f.next_round_in_ms + 999) / 1000) + " s";
}

static std::string port_text(const PunchFacts &f) {
    return "peer's NAT changes port per destination (its port " + std::to_string(f.peer_local_port) +
           " was seen as " + std::to_string(f.peer_public_port) + " by the server)";
}

std::string punch_reason(const PunchFacts &f) {
    if (!f.keys) return "waiting for the pair's keys (exchanged through the server)";
    if (f.direct) {
        std::string s = "probes answered both ways via " + f.endpoint.str();
        if (f.by_birthday)
            s += ", found by probing random ports (the peer's NAT or ours changes port per destination)";
        else if (f.reflexive)
            s += ", a port the peer's NAT chose toward us (learnt from its probe)";
        return s;
    }
    bool port_changed = f.peer_local_port && f.peer_public_port && f.peer_local_port != f.peer_public_port;
    if (f.holding || f.waiting) {
        std::string s = "neighbouring NATs: the peer's NAT is " + std::to_string(f.peer_hops) +
                        " hops away, where our openers reach it; ";
        s += f.holding ? "we sent first and hold our NAT's mapping open while the peer's NAT forgets our "
                         "opener (about 30 s), then the peer answers"
                       : "the peer sent first; we wait about 30 s for our NAT to forget its opener, then send";
        return s + "; using the relay meanwhile";
    }
    if (f.punching) {
        std::string s = "punching (round " + std::to_string(f.rounds) + ", openers with TTL " +
                        std::to_string(f.opener_ttl) + ")";
        // A round in progress does not hide what the earlier ones showed:
        // whoever looks during one still learns why the relay carries.
        if (f.spraying)
            s += ", probing random ports of the peer's address (" + std::to_string(f.sprayed) + " so far)";
        else if (f.sprayed)
            s += ", after " + std::to_string(f.sprayed) + " probes to random ports of its address found none";
        if (f.ports_open) s += ", extra ports of ours open for the peer's probes";
        if (port_changed) s = port_text(f) + "; " + s + ", using the relay meanwhile";
        return s;
    }
    std::string s;
    if (f.candidates == 0) {
        s = "the server knows no UDP endpoint of the peer";
    } else if (f.lost && f.replies == 0 && f.probes_heard == 0) {
        s = "the direct path stopped answering probes";
    } else if (port_changed && f.replies == 0) {
        // A NAT that keeps the port for one destination keeps it for all
        // (docs/PROTOCOLS.md §10, T1); one that changed it toward the
        // server most likely maps each destination to a new port.
        s = port_text(f) + ", so our probes find no mapping";
        if (f.sprayed)
            s += "; " + std::to_string(f.sprayed) +
                 " probes to random ports of its address found none either (both NATs may change port per "
                 "destination)";
    } else if (f.ports_opened && f.replies == 0) {
        s = "the peer's NAT keeps its port, yet none of our probes is answered: our NAT may change port per "
            "destination, and none of the extra ports we opened for the peer's probes was found";
    } else if (f.probes_heard > 0 && f.replies == 0) {
        s = "the peer's probes reach us but none of ours is answered";
    } else if (f.probes_sent == 0) {
        s = "no probe sent yet";
    } else {
        s = "no answer to " + std::to_string(f.probes_sent) +
            " probes: a NAT or firewall on the way drops them, or keeps a stale entry from an early probe";
    }
    return s + "; using the relay" + retry_text(f);
}

}  // namespace lm
