// SPDX-License-Identifier: MIT
#include "mesh/mesh_client.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>

#include "common/log.h"
#include "core/loop.h"

namespace lm {

namespace {

// Punching: openers with a TTL that dies between the two NATs (learnt from
// our NAT depth, nat_depth.h), then probes every 200 ms for 5 s.  Rounds that fail are retried after these pauses;
// the later ones are longer than Linux's 30 s for unreplied UDP, so a stale
// conntrack entry left by an early probe is gone before we try again.
constexpr int64_t kOpenerLead = 400, kProbeEvery = 200, kRoundLength = 5000;
constexpr int64_t kRetryAfter[] = {1000, 5000, 15000, 35000, 60000};
// Holding: a direct path is probed once a second while it carries traffic,
// once every NatKeepalive when idle, and declared dead after this long
// without an answer.
// While a probe is unanswered, probes go once a second, so one lost
// datagram does not cost the path.
constexpr int64_t kPathTimeout = 4000, kActiveProbe = 1000;
// Our key for a new epoch is sent again after these pauses until the peer
// answers (the server may have dropped it: restarted, or not connected).
constexpr int64_t kKeyRetry[] = {2000, 4000, 8000, 16000, 30000, 60000};
constexpr int64_t kSwitchDeadline = 2000;
constexpr size_t kMaxNonces = 256;
constexpr int kAwaitHopsMs = 30;

uint64_t random_u64() {
    uint64_t v = 0;
    RAND_bytes(reinterpret_cast<unsigned char *>(&v), sizeof v);
    return v;
}

const char *path_name(int p) {
    static const char *names[] = {"via-server", "relay", "direct"};
    return names[p];
}

}  // namespace

int64_t MeshClient::now_ms() const { return env_.clock_ms ? env_.clock_ms() : EventLoop::now_ms(); }

time_t MeshClient::wall() const { return env_.wall ? env_.wall() : time(nullptr); }

void MeshClient::send_datagram(int udp_idx, const Endpoint &to, const uint8_t *p, size_t len, int ttl) {
    if (env_.send_udp)
        env_.send_udp(udp_idx, to, p, len, ttl);
    else
        env_.dp->send_udp(udp_idx, to, p, len, ttl);
}

MeshClient::~MeshClient() {
    for (auto &[name, p] : pairs_) {
        if (p->tunnel.in_cur) env_.sas->erase(p->tunnel.in_cur->spi);
        if (p->tunnel.in_old) env_.sas->erase(p->tunnel.in_old->spi);
    }
    EVP_PKEY_free(my_key_);
    X509_STORE_free(store_);
}

// References of our own: a reload may free the TLS context they came from.
void MeshClient::set_identity(const std::string &name, EVP_PKEY *key, X509_STORE *store) {
    my_name_ = name;
    if (key) EVP_PKEY_up_ref(key);
    EVP_PKEY_free(my_key_);
    my_key_ = key;
    if (store) X509_STORE_up_ref(store);
    X509_STORE_free(store_);
    store_ = store;
}

MeshClient::Pair *MeshClient::find(const std::string &name) {
    auto it = pairs_.find(name);
    return it == pairs_.end() ? nullptr : it->second.get();
}

void MeshClient::forget_probe_keys(const Pair *p, uint32_t keep_spi) {
    for (auto it = probe_keys_.begin(); it != probe_keys_.end();) {
        if (it->second.pair == p && it->first != keep_spi) {
            OPENSSL_cleanse(it->second.key, sizeof it->second.key);
            it = probe_keys_.erase(it);
        } else {
            ++it;
        }
    }
}

void MeshClient::drop_pair(const std::string &name, const char *why) {
    auto it = pairs_.find(name);
    if (it == pairs_.end()) return;
    Pair &p = *it->second;
    if (bports_owner_ == name) bports_.close_all();
    if (p.bday_udp >= 0) free_groups_.push_back(p.bday_udp);
    routes_.remove_tunnel(&p.tunnel);
    if (p.tunnel.in_cur) env_.sas->erase(p.tunnel.in_cur->spi);
    if (p.tunnel.in_old) env_.sas->erase(p.tunnel.in_old->spi);
    forget_probe_keys(&p, 0);
    LM_INFO("pair %s dropped: %s", name.c_str(), why);
    if (env_.on_path) env_.on_path(name, "gone", "-");
    pairs_.erase(it);
}

void MeshClient::on_peer_info(const PeerInfo &m) {
    if (m.name == my_name_) return;
    int64_t now = now_ms();
    Pair *p = find(m.name);
    if (p && p->intro_id == m.intro_id) {
        // A re-introduction: fresh candidates (the peer may have moved).
        // Keys stay; punching starts again on both sides now.
        if (m.candidates != p->candidates && p->path != Path::direct) p->peer_moved = true;
        // Its public address is another: it roamed, and our direct path
        // leads to where it was.  Through the server until punching finds
        // it again, rather than into the void until probes time out.
        if (p->path == Path::direct && !m.candidates.empty() && !p->candidates.empty() &&
            !(m.candidates[0].addr == p->candidates[0].addr)) {
            LM_INFO("pair %s: peer moved to %s", p->name.c_str(), m.candidates[0].str().c_str());
            set_path(*p, Path::blind, nullptr, -1, now);
            p->peer_moved = true;
            new_episode(*p);
            p->next_round = 0;
        }
        learn_candidates(*p, m.candidates);
        if (p->rekey_on_intro) {
            // We reconnected: the server forgot the SPIs it forwards for us,
            // and any key it refused meanwhile.  A new epoch registers ours.
            p->rekey_on_intro = false;
            if (p->pending_epoch) {
                p->key_tries = 0;
                p->key_retry_at = now;
            } else if (p->epoch > 0 && !p->next_out) {
                start_epoch(*p, p->epoch + 1);
            }
        }
        if (p->path != Path::direct && p->epoch > 0) start_punch(*p, now);
        return;
    }
    std::string why;
    X509Ptr cert = verify_peer_cert(store_, m.cert, m.name, &why);
    if (!cert) {
        c_.certs_rejected++;
        LM_WARN("introduction of %s refused: %s", m.name.c_str(), why.c_str());
        return;
    }
    if (p) drop_pair(m.name, "introduced again (new introduction)");
    auto np = std::make_unique<Pair>();
    Pair &q = *np;
    q.name = m.name;
    q.intro_id = m.intro_id;
    q.cipher = m.cipher;
    q.cert = std::move(cert);
    learn_candidates(q, m.candidates);
    q.flags = m.flags;
    q.introduced_ms = now;
    // Is the peer's NAT within reach of our openers (punch_plan.h)?  Known
    // within milliseconds, before the pair's keys are.
    if ((q.flags & kPeerFlagNat) && !q.candidates.empty() && my_public_.is_set() &&
        !(q.candidates[0].addr == my_public_))
        q.peer_hops.start(q.candidates[0].addr, now, nat_depth_.opener_ttl());
    q.tunnel.name = m.name;
    q.tunnel.encap = Encapsulation::udp;
    q.tunnel.udp_sock = env_.uplink->udp_sock;
    q.tunnel.via = env_.uplink;
    for (auto &a : m.addrs) q.tunnel.allowed_src.push_back(Prefix{a, a.family == AF_INET ? 32 : 128});
    for (auto &n : m.networks) q.tunnel.allowed_src.push_back(n);
    pairs_[m.name] = std::move(np);
    for (auto &pf : q.tunnel.allowed_src) routes_.add(pf, &q.tunnel);
    c_.introductions++;
    LM_INFO("introduced to %s (%zu candidate endpoints)", m.name.c_str(), m.candidates.size());
    start_epoch(q, 1);
}

// The server lists where it saw the peer's UDP (its NAT's public side)
// first, then the peer's own addresses with its socket's port
// (server_mesh.cc, peer_info_for): the two ports tell whether its NAT
// rewrote the port.
void MeshClient::learn_candidates(Pair &p, const std::vector<Endpoint> &c) {
    p.candidates = c;
    p.server_candidates = int(c.size());
    p.peer_public_port = c.empty() ? 0 : c[0].port;
    p.peer_local_port = c.size() > 1 ? c[1].port : 0;
}

PunchFacts MeshClient::facts(const Pair &p, int64_t now) const {
    PunchFacts f;
    f.keys = p.epoch > 0;
    f.direct = p.path == Path::direct;
    f.punching = p.punching;
    f.lost = p.lost;
    f.reflexive = p.reflexive;
    f.endpoint = p.tunnel.udp_peer;
    f.candidates = p.server_candidates;
    f.peer_local_port = p.peer_local_port;
    f.peer_public_port = p.peer_public_port;
    f.rounds = p.rounds;
    f.probes_sent = p.probes_sent;
    f.replies = p.replies;
    f.probes_heard = p.probes_heard;
    f.next_round_in_ms = !p.punching && p.next_round ? std::max<int64_t>(0, p.next_round - now) : -1;
    f.opener_ttl = nat_depth_.opener_ttl();
    f.peer_hops = p.peer_hops.first_arrival();
    // The neighbouring-NAT reason only for turns taken because of where the
    // NATs are; turns after a failed round keep saying why rounds fail.
    f.holding = p.punching && p.role == PunchRole::hold && p.failed_rounds == 0;
    f.waiting = p.punching && p.role == PunchRole::wait && p.failed_rounds == 0;
    f.by_birthday = p.by_birthday;
    f.sprayed = p.sprayed;
    f.spraying = p.punching && p.spray_left > 0;
    f.ports_opened = p.ports_opened;
    f.ports_open = p.punching && bports_owner_ == p.name && bports_.is_open();
    return f;
}

bool MeshClient::prepare_epoch(Pair &p, uint32_t epoch) {
    p.my_eph = x25519_generate(&p.my_pub);
    if (!p.my_eph) return false;
    p.pending_epoch = epoch;
    p.my_spi = env_.sas->allocate_spi();
    return true;
}

bool MeshClient::start_epoch(Pair &p, uint32_t epoch) {
    if (!prepare_epoch(p, epoch)) return false;
    p.key_tries = 0;
    p.key_retry_at = now_ms() + kKeyRetry[0];
    return send_key(p, false);
}

bool MeshClient::send_key(Pair &p, bool answer) {
    PeerKey k;
    k.intro_id = p.intro_id;
    k.name = p.name;
    k.epoch = p.pending_epoch ? p.pending_epoch : p.epoch;
    k.pub = p.my_pub;
    k.spi = p.my_spi;
    k.answer = answer;
    auto t = peer_key_transcript(k.intro_id, my_name_, p.name, k.epoch, k.pub, k.spi, p.cipher, answer);
    if (!sign_with(my_key_, t, &k.sig)) {
        LM_ERR("cannot sign a pair key for %s", p.name.c_str());
        return false;
    }
    return env_.send(MsgType::peer_key, encode(k));
}

bool MeshClient::install(Pair &p, const X25519Pub &theirs, uint32_t their_spi, bool switch_now) {
    bool lo = i_am_lo(p);
    PairKeys keys;
    uint32_t epoch = p.pending_epoch;
    if (!derive_pair_keys(p.my_eph.get(), theirs, p.intro_id, epoch, p.cipher, lo ? my_name_ : p.name,
                          lo ? p.name : my_name_, lo ? p.my_pub : theirs, lo ? theirs : p.my_pub, &keys)) {
        LM_WARN("pair %s: key derivation failed", p.name.c_str());
        return false;
    }
    const KeyMaterial &in_km = lo ? keys.hi_to_lo : keys.lo_to_hi;
    const KeyMaterial &out_km = lo ? keys.lo_to_hi : keys.hi_to_lo;
    time_t now = wall();
    auto in = std::make_unique<InboundSa>();
    in->spi = p.my_spi;
    in->epoch = epoch;
    in->cipher = p.cipher;
    in->tunnel = &p.tunnel;
    in->created = now;
    auto out = std::make_unique<OutboundSa>();
    out->spi = their_spi;
    out->epoch = epoch;
    out->cipher = p.cipher;
    out->created = now;
    bool ok = in->keys.set(p.cipher, in_km, false) && out->keys.set(p.cipher, out_km, true);
    if (ok && env_.keys && env_.keys->enabled()) {
        env_.keys->write(in->spi, p.cipher, in_km, false, ("pair inbound from " + p.name).c_str());
        env_.keys->write(out->spi, p.cipher, out_km, false, ("pair outbound to " + p.name).c_str());
    }
    ProbeKey pk{&p, {}};
    std::memcpy(pk.key, keys.probe, 32);
    keys.wipe();
    if (!ok) return false;
    Tunnel &t = p.tunnel;
    if (t.in_old) env_.sas->erase(t.in_old->spi);
    t.in_old = std::move(t.in_cur);
    t.in_old_expires = now + limits_.grace;
    t.in_cur = std::move(in);
    env_.sas->insert(t.in_cur.get());
    forget_probe_keys(&p, t.in_old ? t.in_old->spi : 0);
    probe_keys_[p.my_spi] = pk;
    OPENSSL_cleanse(pk.key, sizeof pk.key);
    p.their_pub = theirs;
    p.epoch = epoch;
    p.pending_epoch = 0;
    p.my_eph.reset();
    if (switch_now) {
        t.out = std::move(out);
    } else {
        // The peer may not have its inbound SA yet: keep sending as before
        // (old SA, or the plain relay) until it shows it has (a probe or a
        // packet on the new SA), or for kSwitchDeadline at most.
        p.next_out = std::move(out);
        p.next_out_deadline = now_ms() + kSwitchDeadline;
    }
    c_.keys_accepted++;
    if (p.path == Path::relayed) p.path = Path::blind;
    LM_INFO("pair %s: keys for epoch %u installed (%s)", p.name.c_str(), epoch, to_string(p.cipher));
    return true;
}

void MeshClient::on_peer_key(const PeerKey &m) {
    Pair *p = find(m.name);
    auto reject = [&](const char *why) {
        c_.keys_rejected++;
        LM_WARN("pair key from %s rejected: %s", m.name.c_str(), why);
    };
    if (!p) return reject("no introduction for this peer");
    if (m.intro_id != p->intro_id) return reject("stale introduction");
    auto t = peer_key_transcript(m.intro_id, m.name, my_name_, m.epoch, m.pub, m.spi, p->cipher, m.answer);
    if (!verify_with(p->cert.get(), t, m.sig)) return reject("bad signature");
    if (m.epoch <= p->epoch) {
        // The only legitimate repeat: the answer to a simultaneous start,
        // telling us the peer now has its inbound SA.
        if (m.epoch == p->epoch && m.answer && m.pub == p->their_pub) {
            if (p->next_out) p->tunnel.out = std::move(p->next_out);
            return;
        }
        // The peer sends its key again: our answer was lost.  Answer again
        // (the same signed half; nothing changes here).
        if (m.epoch == p->epoch && !m.answer && m.pub == p->their_pub) {
            send_key(*p, true);
            return;
        }
        return reject("replayed (old epoch)");
    }
    if (m.epoch != p->epoch + 1) return reject("epoch out of sequence");
    if (p->pending_epoch == m.epoch) {
        // We started this epoch too (or first): derive now.  An answer means
        // the peer already has its inbound SA; otherwise both started at
        // once and we answer so the peer can switch.
        if (!install(*p, m.pub, m.spi, m.answer)) return reject("cannot install");
        if (!m.answer) send_key(*p, true);
    } else {
        if (m.answer) return reject("answer without a request");
        if (!prepare_epoch(*p, m.epoch)) return reject("cannot start the epoch");
        if (!install(*p, m.pub, m.spi, false)) return reject("cannot install");
        send_key(*p, true);
    }
    if (p->epoch == 1 && p->path != Path::direct) start_punch(*p, now_ms());
}

std::vector<std::pair<std::string, uint64_t>> MeshClient::held_pairs() const {
    std::vector<std::pair<std::string, uint64_t>> v;
    for (auto &[name, p] : pairs_) {
        if (v.size() == kMaxListItems) break;
        v.emplace_back(name, p->intro_id);
    }
    return v;
}

void MeshClient::on_reconnect() {
    std::vector<std::string> unlisted;
    size_t n = 0;
    for (auto &[name, p] : pairs_) {
        if (n++ >= kMaxListItems) unlisted.push_back(name);
        p->rekey_on_intro = true;
    }
    for (auto &name : unlisted) drop_pair(name, "too many pairs to list in our HELLO");
}

void MeshClient::repunch_all() {
    int64_t now = now_ms();
    for (auto &[name, pp] : pairs_) {
        Pair &p = *pp;
        if (p.path == Path::direct) set_path(p, Path::blind, nullptr, -1, now);
        p.punching = false;
        p.rounds = 0;
        p.failed_rounds = 0;
        p.turns_logged = false;
        // Should no re-introduction come (the server is away), punch to
        // the candidates we have.
        p.next_round = now + 2000;
        p.lost = false;
        p.ask_at = 0;
        p.unanswered_since = 0;
        p.nonces.clear();
    }
}

void MeshClient::on_peer_gone(const PeerGone &m) {
    if (find(m.name)) drop_pair(m.name, ("server: " + m.reason).c_str());
}

void MeshClient::set_public_addr(const IpAddr &a) {
    my_public_ = a;
    if (a.is_set()) nat_depth_.start(a, now_ms());
}

void MeshClient::start_punch(Pair &p, int64_t now) {
    nat_depth_.poll(now);
    // Who sends first depends on where the peer's NAT is.  Not deferred to
    // a later tick: the TTL trick needs both sides to start together.  A
    // NAT next to ours answers within a LAN round trip, usually before the
    // keys are in; at most kAwaitHopsMs of waiting here, once per pair.
    p.peer_hops.poll(now);
    if (p.rounds == 0) p.peer_hops.await(nat_depth_.opener_ttl(), kAwaitHopsMs);
    p.punching = true;
    p.rounds++;
    PunchPlanFacts pf;
    pf.failed_rounds = p.failed_rounds;
    pf.own_depth = nat_depth_.depth();
    pf.peer_hops = p.peer_hops.first_arrival();
    pf.peer_behind_nat = p.flags & kPeerFlagNat;
    pf.same_public = !p.candidates.empty() && my_public_.is_set() && p.candidates[0].addr == my_public_;
    pf.i_am_lo = i_am_lo(p);
    p.role = plan_round(pf);
    const char *turn = p.role == PunchRole::hold
                           ? "we send first and hold our mapping open; the peer answers in about 30 s"
                           : "the peer sends first; we wait about 30 s for its stale entry to expire";
    if (p.role != PunchRole::both && p.failed_rounds == 0 && !p.turns_logged) {
        p.turns_logged = true;
        LM_INFO("pair %s: its NAT is %d hops away, where our openers reach it (neighbouring NATs): %s",
                p.name.c_str(), pf.peer_hops, turn);
    } else if (p.role != PunchRole::both && p.failed_rounds > 0 && !p.turns_logged) {
        p.turns_logged = true;   // once per episode, not per round
        LM_INFO("pair %s: punching at once failed; taking turns: %s", p.name.c_str(), turn);
    }
    int64_t wait = p.role == PunchRole::wait ? kStaleWaitMs : 0;
    p.probes_from = now + kOpenerLead + wait;
    p.next_probe = p.probes_from;
    p.punch_until = now + kOpenerLead + kRoundLength + (p.role == PunchRole::both ? 0 : kStaleWaitMs + 1000);
    // Openers first: each creates the mapping in our own NAT and dies before
    // the peer's, so the peer's NAT keeps no stale entry (docs/PROTOCOLS.md §10).
    // The waiter sends nothing at all toward the peer before its turn.
    if (p.role != PunchRole::wait)
        for (auto &c : p.candidates) send_probe(p, c, nat_depth_.opener_ttl(), now);
    plan_birthday_round(p, now);
}

bool MeshClient::encode_probe(Pair &p, uint64_t nonce, uint8_t *out) {
    if (!p.tunnel.out && !p.next_out) return false;
    uint32_t spi = p.next_out ? p.next_out->spi : p.tunnel.out->spi;
    auto it = probe_keys_.find(in_spi(p));
    if (it == probe_keys_.end()) return false;
    probe_encode(Probe{ProbeType::probe, spi, nonce}, it->second.key, out);
    return true;
}

void MeshClient::send_probe(Pair &p, const Endpoint &to, int ttl, int64_t now, int udp_idx) {
    uint64_t nonce = random_u64();
    uint8_t buf[kProbeLen];
    if (!encode_probe(p, nonce, buf)) return;
    int idx = udp_idx >= 0                                      ? udp_idx
              : p.path == Path::direct && p.tunnel.udp_sock >= 0 ? p.tunnel.udp_sock
                                                                 : env_.dp->udp_for_family(to.addr.family);
    if (idx < 0) return;
    send_datagram(idx, to, buf, sizeof buf, ttl);
    if (p.nonces.size() >= kMaxNonces) p.nonces.clear();
    p.nonces[nonce] = now;
    p.probes_sent++;
    p.last_probe = now;
    env_.counters->probe_tx++;
}

MeshClient::Pair *MeshClient::authenticate_probe(const uint8_t *d, size_t len, Probe *pr) {
    if (!probe_parse(d, len, pr)) {
        env_.counters->drop(Drop::udp_non_esp);
        return nullptr;
    }
    auto it = probe_keys_.find(pr->spi);
    if (it == probe_keys_.end()) {
        // Keys not derived yet on our side (or long gone): not a forgery.
        c_.probes_early++;
        return nullptr;
    }
    if (!probe_verify(d, len, it->second.key)) {
        env_.counters->drop(Drop::probe_bad);
        return nullptr;
    }
    env_.counters->probe_rx++;
    return it->second.pair;
}

void MeshClient::on_non_esp(const uint8_t *d, size_t len, const Endpoint &from, int udp_idx) {
    Probe pr;
    Pair *pp = authenticate_probe(d, len, &pr);
    if (!pp) return;
    Pair &p = *pp;
    int64_t now = now_ms();
    if (pr.type == ProbeType::probe) p.probes_heard++;
    // A valid probe proves the peer has derived this epoch's keys.
    if (p.next_out && pr.spi == in_spi(p)) p.tunnel.out = std::move(p.next_out);
    if (pr.type == ProbeType::probe) {
        if (!p.tunnel.out) return;
        answer_probe(p, pr, from, udp_idx);
        // The waiter's probe came through: the hold is over, probe back in
        // full (its NAT has the mapping now).
        if (p.role != PunchRole::both && p.path != Path::direct) {
            p.role = PunchRole::both;
            p.next_probe = now + kProbeEvery;
            send_probe(p, from, 0, now);
        }
        // Where the peer's probe came from is a candidate too (a NAT may
        // have given it another port toward us): probe it back at once.
        if (p.path != Path::direct &&
            std::find(p.candidates.begin(), p.candidates.end(), from) == p.candidates.end()) {
            if (p.candidates.size() < 16) p.candidates.push_back(from);
            send_probe(p, from, 0, now);
        }
        return;
    }
    auto n = p.nonces.find(pr.nonce);
    bool spray_hit = p.spray_nonce && pr.nonce == p.spray_nonce;
    if (spray_hit) {
        // A probe of our spray found one of the peer's ports (birthday
        // punching): `from` is its NAT's mapping toward us.
        p.spray_nonce = 0;
        p.spray_left = 0;
        LM_INFO("pair %s: a probe to random port %u of the peer's address was answered (birthday punching)",
                p.name.c_str(), unsigned(from.port));
    } else if (n == p.nonces.end()) {
        return;   // not ours, or already used: confirms nothing
    } else {
        p.nonces.erase(n);
    }
    p.replies++;
    if (p.path != Path::direct) {
        p.last_reply = now;
        // Not where the server said: the peer's NAT chose another port
        // toward us, learnt from its probe (a peer-reflexive candidate).
        auto given = p.candidates.begin() + std::min<ptrdiff_t>(p.candidates.size(), p.server_candidates);
        p.reflexive = std::find(p.candidates.begin(), given, from) == given;
        set_path(p, Path::direct, &from, udp_idx, now);
        if (spray_hit) p.by_birthday = true;
    } else if (from == p.tunnel.udp_peer) {
        // Only an answer from where we send proves the path we use (a late
        // answer from another candidate proves another one).
        p.last_reply = now;
        p.unanswered_since = 0;
    }
}

void MeshClient::answer_probe(Pair &p, const Probe &pr, const Endpoint &from, int udp_idx) {
    auto k = probe_keys_.find(in_spi(p));
    if (k == probe_keys_.end()) return;
    uint8_t buf[kProbeLen];
    probe_encode(Probe{ProbeType::reply, p.tunnel.out->spi, pr.nonce}, k->second.key, buf);
    send_datagram(udp_idx, from, buf, sizeof buf, 0);
    env_.counters->probe_tx++;
}

void MeshClient::new_episode(Pair &p) {
    p.rounds = 0;
    p.failed_rounds = 0;
    p.turns_logged = false;
    p.birthdays = 0;
    p.sprayed = 0;
    p.ports_opened = false;
    p.spray_left = 0;
    p.spray_nonce = 0;
}

void MeshClient::set_path(Pair &p, Path path, const Endpoint *ep, int udp_idx, int64_t now) {
    Path old = p.path;
    p.path = path;
    Tunnel &t = p.tunnel;
    if (path == Path::direct) {
        t.via = nullptr;
        t.udp_peer = *ep;
        t.udp_sock = udp_idx;
        t.encap = Encapsulation::udp;
        p.by_birthday = udp_idx >= 0 && udp_idx == p.bday_udp;
        p.punching = false;
        new_episode(p);
        p.lost = false;
        p.peer_moved = false;
        p.unanswered_since = 0;
        p.direct_since = now;
        was_direct_.insert(p.name);
        if (p.time_to_direct < 0) p.time_to_direct = now - p.introduced_ms;
        LM_INFO("pair %s: direct path via %s (%lld ms after introduction)", p.name.c_str(), ep->str().c_str(),
                (long long)(now - p.introduced_ms));
    } else {
        t.via = env_.uplink;
        LM_INFO("pair %s: direct path lost, traffic goes through the server", p.name.c_str());
    }
    if (old != path) {
        c_.path_changes++;
        if (env_.on_path) env_.on_path(p.name, path_name(int(path)), path == Path::direct ? ep->str() : "-");
    }
}

void MeshClient::punch_step(Pair &p, int64_t now) {
    if (now < p.next_probe) return;
    if (p.role == PunchRole::hold) {
        // Keeps our own NAT's mapping alive and nothing more: the TTL dies
        // in our outermost NAT, after conntrack has refreshed the entry, so
        // the peer's NAT forgets our opener (punch_plan.h).
        p.next_probe = now + kHoldRefreshMs;
        for (auto &c : p.candidates) send_probe(p, c, nat_depth_.depth(), now);
        return;
    }
    p.next_probe = now + kProbeEvery;
    for (auto &c : p.candidates) send_probe(p, c, 0, now);
}

bool MeshClient::other_path_answers(const Pair &p, int64_t now) const {
    for (auto &[name, q] : pairs_)
        if (q.get() != &p && q->path == Path::direct &&
            (!q->unanswered_since || now - q->unanswered_since < kPathTimeout))
            return true;
    return false;
}

// Twice the rekey limits: by then the rekey has failed for as long again.
bool MeshClient::past_hard_limit(const Pair &p, time_t secs) const {
    const OutboundSa *o = p.tunnel.out.get();
    if (!o) return false;
    auto twice = [](uint64_t v) { return v > UINT64_MAX / 2 ? UINT64_MAX : 2 * v; };
    return secs - o->created >= 2 * time_t(limits_.after_time) || o->bytes() >= twice(limits_.after_bytes) ||
           o->packets() >= std::min<uint64_t>(twice(limits_.after_packets), 0xffffff00u);
}

void MeshClient::tick(int64_t now) {
    nat_depth_.poll(now);
    poll_birthday_ports(now);
    time_t secs = wall();
    std::vector<std::string> expired;
    for (auto &[name, pp] : pairs_) {
        Pair &p = *pp;
        Tunnel &t = p.tunnel;
        if (p.peer_hops.measuring()) p.peer_hops.poll(now);   // its socket closes within kWaitMs
        if (p.next_out && (now >= p.next_out_deadline || (t.in_cur && t.in_cur->packets() > 0)))
            t.out = std::move(p.next_out);
        if (t.in_old && secs >= t.in_old_expires) {
            env_.sas->erase(t.in_old->spi);
            forget_probe_keys(&p, in_spi(p));
            t.in_old.reset();
        }
        if (past_hard_limit(p, secs)) {
            expired.push_back(name);
            continue;
        }
        // Rekey on the same limits as the server's SAs.
        if (t.out && !p.pending_epoch && !p.next_out &&
            (secs - t.out->created >= limits_.after_time || t.out->bytes() >= limits_.after_bytes ||
             t.out->packets() >= limits_.after_packets))
            start_epoch(p, p.epoch + 1);
        if (p.pending_epoch && p.key_retry_at && now >= p.key_retry_at) {
            int i = std::min<int>(p.key_tries, int(std::size(kKeyRetry)) - 1);
            p.key_tries++;
            p.key_retry_at = now + kKeyRetry[std::min<int>(i + 1, int(std::size(kKeyRetry)) - 1)];
            c_.key_retries++;
            LM_INFO("pair %s: no answer to our key for epoch %u; sending it again (try %d)", p.name.c_str(),
                    p.pending_epoch, p.key_tries + 1);
            send_key(p, false);
        }

        if (p.path == Path::direct) {
            // Judged by answered probes alone: an idle path is probed once
            // per NatKeepalive, a busy one (or one with a probe unanswered)
            // once a second, and lost when a probe stays unanswered for
            // kPathTimeout -- not when data has been quiet for a while.
            bool active = secs - t.total().last_tx <= 1;
            int64_t every = active || p.unanswered_since ? kActiveProbe : int64_t(nat_keepalive_) * 1000;
            if (now - p.last_probe >= every) {
                if (!p.unanswered_since) p.unanswered_since = now;
                send_probe(p, t.udp_peer, 0, now);
            }
            if (p.unanswered_since && now - p.unanswered_since > kPathTimeout) {
                set_path(p, Path::blind, nullptr, -1, now);
                p.lost = true;
                p.unanswered_since = 0;
                new_episode(p);
                p.next_round = 0;
                // Ask for fresh candidates: the peer (or we) may have moved.
                // The server's answer starts punching on both sides at once.
                p.ask_at = now;
            }
            continue;
        }
        if (p.ask_at && now >= p.ask_at) {
            p.ask_at = 0;
            PeerRequest r{p.name, new_port_, p.intro_id};
            env_.send(MsgType::peer_request, encode(r));
            p.next_round = now + kRetryAfter[0] + kRoundLength;   // if no answer comes
        }
        if (p.punching) {
            if (now >= p.punch_until) {
                p.punching = false;
                p.failed_rounds++;
                // A path that worked and failed to come back: our NAT, or the
                // peer's, may hold a stale entry for our old 5-tuple that our
                // own probes keep alive (docs/PROTOCOLS.md §10).  A fresh port
                // means fresh mappings on both sides; the server learns it
                // from our next packet and passes it on.  But only when our
                // own mapping is suspect: not when the peer moved (the server
                // gave it new endpoints), nor while another pair's direct
                // path still answers -- a new port would break those.
                // Not after a round of turns: its wait outlasts any stale
                // entry, and a new port would only move the holder's mapping
                // away from where the waiter aims.
                if ((p.lost || was_direct_.count(p.name)) && !p.peer_moved && p.role == PunchRole::both &&
                    !other_path_answers(p, now) &&
                    env_.rebind && now - last_rebind_ > 30000) {
                    last_rebind_ = now;
                    if (uint16_t port = env_.rebind()) {
                        new_port_ = port;
                        c_.rebinds++;
                        LM_INFO("pair %s: punching failed after the path was lost, and no other path answers; "
                                "data socket moved to port %u",
                                p.name.c_str(), unsigned(port));
                        p.ask_at = now + 300;   // after the server has seen the new port
                    }
                }
                int i = std::min<int>(p.rounds - 1, int(std::size(kRetryAfter)) - 1);
                p.next_round = now + kRetryAfter[std::max(0, i)];
                // Said once per reason, not once per round.
                PunchFacts f = facts(p, now);
                f.next_round_in_ms = -1;
                std::string why = punch_reason(f);
                if (why != p.logged_reason) {
                    p.logged_reason = why;
                    LM_INFO("pair %s: no direct path: %s", p.name.c_str(), why.c_str());
                }
            } else {
                // The spray keeps its own pace, whatever the turns say.
                if (p.spray_left > 0 && now >= p.spray_from) spray_step(p, now);
                if (now >= p.probes_from) punch_step(p, now);
            }
        } else if (p.epoch > 0 && p.next_round && now >= p.next_round) {
            p.next_round = 0;
            start_punch(p, now);
        }
    }
    for (auto &name : expired) {
        Pair &p = *pairs_[name];
        c_.hard_limit_rebuilds++;
        LM_WARN("pair %s: keys of epoch %u past their hard limit (%lld s, %llu packets) without a new epoch; "
                "pair torn down and rebuilt",
                name.c_str(), p.epoch, (long long)(secs - p.tunnel.out->created),
                (unsigned long long)p.tunnel.out->packets());
        drop_pair(name, "keys past their hard limit");
        // No introduction named: the server makes a fresh one, and both
        // sides start again from epoch 1.
        env_.send(MsgType::peer_request, encode(PeerRequest{name, new_port_, 0}));
    }
}

void MeshClient::status(JsonWriter &j) const {
    int64_t now = now_ms();
    for (auto &[name, pp] : pairs_) {
        const Pair &p = *pp;
        j.begin_object();
        j.kv("name", p.name).kv("path", path_name(int(p.path)));
        j.kv("endpoint", p.path == Path::direct ? p.tunnel.udp_peer.str() : std::string("-"));
        j.kv("epoch", uint64_t(p.epoch)).kv("cipher", to_string(p.cipher));
        j.kv("time_to_direct_ms", int64_t(p.time_to_direct));
        j.kv("punch_rounds", p.rounds).kv("probes_sent", p.probes_sent);
        j.kv("punching", p.punching).kv("opener_ttl", nat_depth_.opener_ttl());
        j.kv("peer_nat_hops", p.peer_hops.first_arrival());
        j.kv("punch_reason", punch_reason(facts(p, now)));
        j.kv("birthday_probes_sent", p.sprayed).kv("birthday_ports_opened", p.ports_opened);
        j.kv("last_probe_reply_ms_ago", p.last_reply ? now - p.last_reply : int64_t(-1));
        Tunnel::Stats st = p.tunnel.total();
        j.kv("rx_packets", st.rx_packets).kv("rx_bytes", st.rx_bytes);
        j.kv("tx_packets", st.tx_packets).kv("tx_bytes", st.tx_bytes);
        j.begin_array("candidates");
        for (auto &c : p.candidates) j.value(c.str());
        j.end_array();
        j.begin_array("spis");
        if (p.tunnel.in_cur) j.value(std::to_string(p.tunnel.in_cur->spi));
        if (p.tunnel.out) j.value(std::to_string(p.tunnel.out->spi));
        j.end_array();
        j.end_object();
    }
}

// ---- birthday punching (punch_plan.h) ------------------------------------

void MeshClient::plan_birthday_round(Pair &p, int64_t now) {
    BirthdayFacts f;
    f.failed_rounds = p.failed_rounds;
    f.peer_behind_nat = p.flags & kPeerFlagNat;
    f.me_behind_nat = my_public_.is_set();
    f.same_public = !p.candidates.empty() && my_public_.is_set() && p.candidates[0].addr == my_public_;
    f.ipv4 = p.server_candidates > 0 && p.candidates[0].addr.family == AF_INET;
    f.peer_local_port = p.peer_local_port;
    f.peer_public_port = p.peer_public_port;
    f.own_depth = nat_depth_.depth();
    f.peer_hops = p.peer_hops.first_arrival();
    f.attempts = p.birthdays;
    f.ports_free = !bports_.is_open() && env_.adopt_port &&
                   (p.bday_udp >= 0 || !free_groups_.empty() || groups_opened_ < kMaxBirthdayGroups);
    p.bday = plan_birthday(f);
    if (p.bday == BirthdayRole::spray) {
        p.birthdays++;
        c_.birthday_sprays++;
        p.spray_left = kSprayProbes;
        p.spray_sent = 0;
        p.spray_from = now + kOpenerLead + kSprayDelayMs;
        p.spray_nonce = random_u64();
        p.punch_until = std::max<int64_t>(p.punch_until, p.spray_from + 1000LL * kSprayProbes / kSprayPerSecond + 1000);
        LM_INFO("pair %s: the peer's NAT changes port per destination (its port %u was seen as %u); probing "
                "random ports of %s, up to %d at %d/s (birthday punching)",
                p.name.c_str(), unsigned(p.peer_local_port), unsigned(p.peer_public_port),
                p.candidates[0].addr.str().c_str(), kSprayProbes, kSprayPerSecond);
    } else if (p.bday == BirthdayRole::open_ports) {
        open_birthday_ports(p, now);
    }
}

void MeshClient::open_birthday_ports(Pair &p, int64_t now) {
    uint8_t buf[kProbeLen];
    if (!encode_probe(p, random_u64(), buf)) {
        p.bday = BirthdayRole::none;
        return;
    }
    std::string err;
    int n = bports_.open(AF_INET, kBirthdayPorts, env_.prepare_socket, &err);
    if (n == 0) {
        p.bday = BirthdayRole::none;
        LM_WARN("pair %s: no extra ports for birthday punching: %s", p.name.c_str(), err.c_str());
        return;
    }
    // Openers: past our own NATs, dead before the peer's (plan_birthday
    // made sure), so that its NAT keeps no entry for the ports it will probe.
    int sent = bports_.send_all(p.candidates[0], buf, sizeof buf, nat_depth_.opener_ttl());
    bports_owner_ = p.name;
    bports_until_ = now + kOpenerLead + kBirthdayHoldMs;
    p.punch_until = std::max(p.punch_until, bports_until_);
    p.birthdays++;
    p.ports_opened = true;
    c_.birthday_opens++;
    LM_INFO("pair %s: the peer's NAT keeps its port and the last round failed: our NAT may change port per "
            "destination; %d extra ports opened toward %s (%d openers, TTL %d) for the peer to find (birthday "
            "punching)",
            p.name.c_str(), n, p.candidates[0].str().c_str(), sent, nat_depth_.opener_ttl());
}

void MeshClient::spray_step(Pair &p, int64_t now) {
    // Paced from the spray's start: no burst after a late tick.
    int due = int(std::min<int64_t>(kSprayProbes, (now - p.spray_from) * kSprayPerSecond / 1000));
    int n = std::min(p.spray_left, due - p.spray_sent);
    if (n <= 0) return;
    int idx = env_.dp->udp_for_family(AF_INET);
    uint8_t buf[kProbeLen];
    if (idx < 0 || !encode_probe(p, p.spray_nonce, buf)) return;
    std::vector<uint16_t> rnd(size_t(n), 0);
    RAND_bytes(reinterpret_cast<unsigned char *>(rnd.data()), int(rnd.size() * sizeof rnd[0]));
    Endpoint to = p.candidates[0];
    for (uint16_t r : rnd) {
        to.port = uint16_t(kSprayLowPort + r % (65536 - kSprayLowPort));
        send_datagram(idx, to, buf, sizeof buf, 0);
    }
    p.spray_left -= n;
    p.spray_sent += n;
    p.sprayed += uint64_t(n);
    p.probes_sent += uint64_t(n);
    c_.spray_probes += uint64_t(n);
    env_.counters->probe_tx += uint64_t(n);
}

void MeshClient::poll_birthday_ports(int64_t now) {
    if (!bports_.is_open()) return;
    Pair *p = find(bports_owner_);
    if (!p || now >= bports_until_ || p->path == Path::direct) {
        bports_.close_all();
        return;
    }
    bports_.poll(64, [&](const uint8_t *d, size_t len, const Endpoint &from, uint16_t port) {
        on_birthday_datagram(d, len, from, port, now);
    });
}

void MeshClient::on_birthday_datagram(const uint8_t *d, size_t len, const Endpoint &from, uint16_t port,
                                      int64_t now) {
    Probe pr;
    Pair *pp = authenticate_probe(d, len, &pr);
    // Only the peer they were opened for can find them.
    if (!pp || pp->name != bports_owner_) return;
    Pair &p = *pp;
    if (pr.type != ProbeType::probe || !p.tunnel.out) return;
    p.probes_heard++;
    // The peer's probe found our NAT's mapping of this socket: the port
    // moves into the data plane (the NAT maps by 5-tuple, not by socket),
    // and the answer goes out from there.
    bports_.close_all();
    int reuse = p.bday_udp;
    if (reuse < 0 && !free_groups_.empty()) {
        reuse = free_groups_.back();
        free_groups_.pop_back();
    }
    int idx = env_.adopt_port(AF_INET, port, reuse);
    if (idx < 0) {
        if (reuse >= 0 && reuse != p.bday_udp) free_groups_.push_back(reuse);
        LM_WARN("pair %s: the peer's probe found our port %u, but no data socket could take it over; "
                "staying on the relay",
                p.name.c_str(), unsigned(port));
        return;
    }
    if (reuse < 0) groups_opened_++;
    p.bday_udp = idx;
    c_.birthday_hits++;
    LM_INFO("pair %s: the peer's probe from %s found our port %u (birthday punching); the data path to the peer "
            "moves to it",
            p.name.c_str(), from.str().c_str(), unsigned(port));
    answer_probe(p, pr, from, idx);
    send_probe(p, from, 0, now, idx);
}

}  // namespace lm
