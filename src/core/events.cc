// SPDX-License-Identifier: MIT
#include "core/events.h"

#include <ctime>

#include "common/log.h"
#include "core/node.h"

namespace lm {

unsigned event_mask(std::string_view name) {
    if (name == "peer") return kEventPeer;
    if (name == "path") return kEventPath;
    if (name == "rekey") return kEventRekey;
    if (name == "refused") return kEventRefused;
    if (name == "server") return kEventServer;
    if (name == "all") return kEventAll;
    return 0;
}

std::string event_line(const char *kind, const std::function<void(JsonWriter &)> &fields) {
    JsonWriter j;
    j.begin_object().kv("time", int64_t(time(nullptr))).kv("event", kind);
    if (fields) fields(j);
    j.end_object();
    return j.str() + "\n";
}

void Node::emit_event(const char *kind, const std::function<void(JsonWriter &)> &fields) {
    unsigned mask = event_mask(kind);
    // Building the line costs a little; nobody listening is the common case.
    if (mask == 0 || !ctl_.has_subscribers(mask)) return;
    ctl_.publish(mask, event_line(kind, fields));
}

void Node::session_rekeyed(const std::string &peer, uint32_t epoch, bool we_started) {
    ctl_counters_.rekeys++;
    LM_INFO("%s: rekeyed to epoch %u%s", peer.c_str(), epoch, we_started ? "" : " (peer's request)");
    emit_event("rekey", [&](JsonWriter &j) {
        j.kv("peer", peer).kv("epoch", uint64_t(epoch)).kv("initiator", we_started ? "local" : "remote");
    });
}

void Node::event_refused(const std::string &peer, const std::string &from, const std::string &reason) {
    count_refusal(reason);
    emit_event("refused", [&](JsonWriter &j) {
        if (!peer.empty()) j.kv("peer", peer);
        j.kv("from", from).kv("reason", reason);
    });
}

}  // namespace lm
