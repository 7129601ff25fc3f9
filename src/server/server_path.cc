// SPDX-License-Identifier: MIT
// The server's side of a client's data path (client/path_ladder.h): the
// client says which step it uses from now on, and ESP for clients on the
// last step travels in their TLS sessions.  The liveness answers themselves
// are the data plane's (Dataplane::reply_dummy).
#include "common/log.h"
#include "server/server.h"

namespace lm {

// As on the client (client/client_path.cc): ESP frames never fill more than
// half of a session's output queue, so control messages never wait behind
// bulk data and the session is never cut for it; the rest is dropped and
// counted (stream_full), as a full link would drop it.
static constexpr size_t kStreamBudget = kOutputHighWater / 2;

bool Server::on_path(Session &s, const PathMsg &m) {
    if (!(s.paths & path_bit(m.encap)))
        return protocol_error(s, ProtoError::bad_payload,
                              std::string("path: ") + to_string(m.encap) + " was not offered");
    if (s.tunnel.encap == m.encap) return true;
    LM_INFO("%s: data path now %s (was %s)", s.name.c_str(), to_string(m.encap), to_string(s.tunnel.encap));
    s.tunnel.encap = m.encap;   // the workers are paused while the loop runs this
    emit_event("path", [&](JsonWriter &j) {
        j.kv("peer", s.name).kv("state", "moved").kv("encapsulation", to_string(m.encap));
    });
    return true;
}

void Server::on_stream_out(const Tunnel *t, const uint8_t *esp, size_t len) {
    auto it = by_tunnel_.find(t);
    Session *s = it == by_tunnel_.end() ? nullptr : it->second;
    if (!s || s->dead || !s->conn->can_send() || s->conn->pending_out() + len > kStreamBudget) {
        dp_.counters().drop(Drop::stream_full);
        return;
    }
    s->conn->send(MsgType::esp, esp, len);
    if (!s->stream_pending) {
        s->stream_pending = true;
        stream_touched_.push_back(s);
    }
}

void Server::on_stream_end() {
    for (Session *s : stream_touched_) {
        s->stream_pending = false;
        if (s->dead) continue;
        s->conn->flush();   // a failure shows at the next read or tick
        update_interest(*s);
    }
    stream_touched_.clear();
}

}  // namespace lm
