// SPDX-License-Identifier: MIT
// The client's side of the mesh: pairs with the peers the server introduces,
// their end-to-end keys, hole punching and the choice of path.
//
// A pair moves through three states, and traffic is never dropped between them:
//   relayed   no pair SA yet: the server decrypts and re-encrypts (plain relay)
//   blind     pair SA, no direct path: ESP goes to the server, which forwards
//             it by SPI without being able to decrypt it
//   direct    a path proved both ways by authenticated probes
// A direct path that stops answering probes falls back to blind within
// seconds and punching starts again with backoff.  A path is judged by the
// authenticated probe replies it brings back, never by data seen or not.
//
// Keys: each epoch's key is sent again with backoff until the peer answers;
// keys past twice their rekey limits tear the pair down, and it is built
// anew.  The pairs we hold go to the server in our HELLO, so that one that
// restarted (or saw us reconnect) takes them up instead of refusing their
// keys (docs/DESIGN.md §4).
#pragma once
#include <openssl/ssl.h>

#include <cstdint>
#include <ctime>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/json.h"
#include "control/frame.h"
#include "control/key_export.h"
#include "control/keying.h"
#include "control/messages.h"
#include "core/ctl_view.h"
#include "data/dataplane.h"
#include "data/route_table.h"
#include "data/tunnel.h"
#include "mesh/birthday_ports.h"
#include "mesh/nat_depth.h"
#include "mesh/pair_crypto.h"
#include "mesh/probe.h"
#include "mesh/punch_plan.h"
#include "mesh/punch_reason.h"

namespace lm {

struct MeshCounters {
    uint64_t introductions = 0, keys_accepted = 0, keys_rejected = 0, certs_rejected = 0;
    uint64_t probes_early = 0, path_changes = 0;
    uint64_t key_retries = 0, hard_limit_rebuilds = 0, rebinds = 0;
    // Birthday punching (punch_plan.h): rounds as each role, probes sent to
    // random ports, and the peer's probes that found one of our ports.
    uint64_t birthday_sprays = 0, birthday_opens = 0, spray_probes = 0, birthday_hits = 0;
};

class MeshClient {
public:
    struct Env {
        Dataplane *dp = nullptr;
        SaTable *sas = nullptr;
        KeyExport *keys = nullptr;
        Tunnel *uplink = nullptr;
        DataCounters *counters = nullptr;
        // Sends a control message to the server; false if not connected.
        std::function<bool(MsgType, const std::vector<uint8_t> &)> send;
        std::function<void(const std::string &peer, const char *path, const std::string &endpoint)> on_path;
        // Moves our data socket to a new port; returns the new port or 0.
        std::function<uint16_t()> rebind;
        // Sends one datagram from a data socket; unset: dp->send_udp.
        std::function<void(int udp_idx, const Endpoint &to, const uint8_t *p, size_t len, int ttl)> send_udp;
        // Clocks, monotonic milliseconds and wall seconds; unset: the system's.
        int64_t (*clock_ms)() = nullptr;
        time_t (*wall)() = nullptr;
        // Birthday punching: a data socket group on `port` (reuse >= 0: that
        // group moved there), returning its udp index or -1; and what every
        // extra socket gets before use (SO_MARK, past a full tunnel).
        std::function<int(int family, uint16_t port, int reuse)> adopt_port;
        std::function<void(int fd)> prepare_socket;
    };

    MeshClient(Env env) : env_(std::move(env)) {}
    ~MeshClient();
    // Our identity: the name and key of the certificate our session with the
    // server presented, and the store peers are checked against.  Set when
    // the TLS context is loaded, at each connection and at reload.
    void set_identity(const std::string &name, EVP_PKEY *key, X509_STORE *store);
    void set_limits(const RekeyLimits &l, int nat_keepalive) { limits_ = l; nat_keepalive_ = nat_keepalive; }
    RouteTable &routes() { return routes_; }

    void on_peer_info(const PeerInfo &m);
    void on_peer_key(const PeerKey &m);
    void on_peer_gone(const PeerGone &m);
    void on_non_esp(const uint8_t *p, size_t len, const Endpoint &from, int udp_idx);
    // The pairs we hold, for our HELLO: at most kMaxListItems.
    std::vector<std::pair<std::string, uint64_t>> held_pairs() const;
    // Back in touch with the server, which got held_pairs() in our HELLO.
    // It introduces again each pair the peer holds too; each then starts a
    // new epoch (the server forgot the SPIs it forwards).  Pairs the HELLO
    // could not list are dropped.
    void on_reconnect();
    // Connected behind a NAT whose public address the server saw: measure
    // how many NATs we sit behind, for the openers' TTL (nat_depth.h).
    void set_public_addr(const IpAddr &a);
    // Our own address or route changed (roaming): every direct path left
    // with the old one.  Traffic goes through the server, and the
    // re-introduction that follows our new registration starts punching on
    // both sides at once, with no backoff left from before.
    void repunch_all();
    void tick(int64_t now_ms);
    void status(JsonWriter &j) const;
    // One view per pair for `lanmesh peer show` and `sa show` (mesh_ctl.cc).
    void collect_peers(std::vector<PeerView> &out) const;
    const MeshCounters &counters() const { return c_; }

private:
    enum class Path { relayed, blind, direct };
    struct Pair {
        std::string name;
        uint64_t intro_id = 0;
        Cipher cipher = Cipher::aes256gcm;
        X509Ptr cert;
        std::vector<Endpoint> candidates;
        uint8_t flags = 0;
        Tunnel tunnel;
        Path path = Path::relayed;
        // Keys.
        uint32_t epoch = 0;                // established
        uint32_t pending_epoch = 0;        // our half sent, theirs awaited
        PkeyPtr my_eph;
        X25519Pub my_pub{}, their_pub{};
        uint32_t my_spi = 0;
        std::unique_ptr<OutboundSa> next_out;   // waits until the peer has its inbound SA
        int64_t next_out_deadline = 0;
        int64_t key_retry_at = 0;          // send our pending key again then
        int key_tries = 0;
        bool rekey_on_intro = false;       // we reconnected: new epoch at the re-introduction
        // Punching.
        bool punching = false;
        int64_t punch_until = 0, next_probe = 0, next_round = 0, probes_from = 0;
        int rounds = 0;
        // Rounds that ran to their end unanswered (a re-introduction cuts a
        // round short without failing it): punch_plan.h.
        int failed_rounds = 0;
        bool turns_logged = false;   // taking turns said once per episode
        uint64_t probes_sent = 0;
        std::unordered_map<uint64_t, int64_t> nonces;   // outstanding probe nonces
        // Path health and figures.
        int64_t introduced_ms = 0, direct_since = 0, time_to_direct = -1;
        int64_t last_reply = 0, last_probe = 0;
        int64_t unanswered_since = 0;      // direct: oldest probe not answered yet (0: none)
        int64_t ask_at = 0;                // send a PeerRequest then
        bool lost = false;                 // had a direct path and lost it
        bool peer_moved = false;           // re-introduced with other endpoints since
        // For the reason shown in `peer show` (punch_reason.h).
        int server_candidates = 0;
        uint16_t peer_local_port = 0, peer_public_port = 0;
        uint64_t replies = 0, probes_heard = 0;
        bool reflexive = false;
        std::string logged_reason;         // the last failure reason logged
        // Neighbouring NATs (punch_plan.h): hops to the peer's public
        // address, measured at the introduction, and this round's role.
        NatDepth peer_hops{true};
        PunchRole role = PunchRole::both;
        // Birthday punching (punch_plan.h): this round's role, the rounds of
        // this episode that took one, and the sprayer's progress.  One
        // nonce for a whole spray: any of its probes answered proves it.
        BirthdayRole bday = BirthdayRole::none;
        int birthdays = 0;
        int spray_left = 0, spray_sent = 0;
        int64_t spray_from = 0;
        uint64_t spray_nonce = 0;
        uint64_t sprayed = 0;              // this episode, for the reason
        bool ports_opened = false;         // this episode, for the reason
        int bday_udp = -1;                 // our data socket group toward this peer (random side)
        bool by_birthday = false;          // the direct path was found that way
    };
    struct ProbeKey {
        Pair *pair;
        uint8_t key[32];
    };

    Pair *find(const std::string &name);
    void drop_pair(const std::string &name, const char *why);
    bool send_key(Pair &p, bool answer);
    bool prepare_epoch(Pair &p, uint32_t epoch);
    bool start_epoch(Pair &p, uint32_t epoch);
    bool install(Pair &p, const X25519Pub &theirs, uint32_t their_spi, bool switch_now);
    void start_punch(Pair &p, int64_t now);
    void punch_step(Pair &p, int64_t now);
    // From `udp_idx`; -1: a direct path's own socket group, else the
    // family's first (the data socket the server knows).
    void send_probe(Pair &p, const Endpoint &to, int ttl, int64_t now, int udp_idx = -1);
    bool encode_probe(Pair &p, uint64_t nonce, uint8_t *out);
    // The pair a datagram is a valid probe for, or null (counted).
    Pair *authenticate_probe(const uint8_t *d, size_t len, Probe *pr);
    void answer_probe(Pair &p, const Probe &pr, const Endpoint &from, int udp_idx);
    // Birthday punching (punch_plan.h).
    void plan_birthday_round(Pair &p, int64_t now);
    void open_birthday_ports(Pair &p, int64_t now);
    void spray_step(Pair &p, int64_t now);
    void poll_birthday_ports(int64_t now);
    void on_birthday_datagram(const uint8_t *d, size_t len, const Endpoint &from, uint16_t port, int64_t now);
    void new_episode(Pair &p);
    void set_path(Pair &p, Path path, const Endpoint *ep, int udp_idx, int64_t now);
    void forget_probe_keys(const Pair *p, uint32_t keep_spi);
    bool i_am_lo(const Pair &p) const { return my_name_ < p.name; }
    // Our inbound SPI of the installed epoch (my_spi is the pending one's
    // while a rekey waits for the peer): probes are keyed by it.
    static uint32_t in_spi(const Pair &p) { return p.tunnel.in_cur ? p.tunnel.in_cur->spi : 0; }
    int64_t now_ms() const;
    time_t wall() const;
    void send_datagram(int udp_idx, const Endpoint &to, const uint8_t *p, size_t len, int ttl);
    // Another pair's direct path still answers: our own NAT mapping is fine.
    bool other_path_answers(const Pair &p, int64_t now) const;
    bool past_hard_limit(const Pair &p, time_t wall) const;
    void learn_candidates(Pair &p, const std::vector<Endpoint> &c);
    PunchFacts facts(const Pair &p, int64_t now) const;

    Env env_;
    std::string my_name_;
    EVP_PKEY *my_key_ = nullptr;
    X509_STORE *store_ = nullptr;
    RekeyLimits limits_;
    int nat_keepalive_ = 25;
    std::map<std::string, std::unique_ptr<Pair>> pairs_;
    std::unordered_map<uint32_t, ProbeKey> probe_keys_;    // our inbound pair SPI -> key
    RouteTable routes_;
    MeshCounters c_;
    uint16_t new_port_ = 0;                // to announce with the next PeerRequest
    // Peers we once reached directly: if punching to them fails now, the
    // cause is likely stale NAT state, which a new port gets around.  Kept
    // across re-introductions, which replace the Pair.
    std::set<std::string> was_direct_;
    int64_t last_rebind_ = -1000000;
    NatDepth nat_depth_;
    IpAddr my_public_;                     // as the server sees us (unset: no NAT)
    // The random side's extra sockets, for one pair at a time, and the data
    // socket groups birthday pairs have used (kept for reuse, at most
    // kMaxBirthdayGroups: each is a socket per worker).
    static constexpr int kMaxBirthdayGroups = 8;
    BirthdayPorts bports_;
    std::string bports_owner_;
    int64_t bports_until_ = 0;
    std::vector<int> free_groups_;
    int groups_opened_ = 0;
};

}  // namespace lm
