// SPDX-License-Identifier: MIT
// The server's connections that have not been admitted yet (TLS handshake
// or hello pending), oldest first and by source, so that silent or slow
// connections cannot fill the server's places: one source holds at most
// per_source of them and all sources together at most total; a new
// connection beyond either limit pushes out the oldest one of its source,
// or the oldest overall.  IPv6 sources count by /64 (one host's share).
// Control path only.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

#include "common/addr.h"

namespace lm {

class PendingHandshakes {
public:
    struct Limits {
        size_t per_source = 32;
        size_t total = 1024;
    };
    struct Eviction {
        int fd;
        bool per_source;   // the source was at its limit (else the total was)
        bool first;        // the first eviction of this episode: worth a log line
    };

    PendingHandshakes() {}
    explicit PendingHandshakes(Limits l) : limits_(l) {}

    // The connection to close before a new one from `source` may be added,
    // if a limit is reached.  Does not remove it: the owner closes it, which
    // calls remove().
    std::optional<Eviction> make_room(const IpAddr &source);
    // The oldest pending connection of all (to free a file descriptor).
    std::optional<int> oldest() const;
    void add(int fd, const IpAddr &source);
    void remove(int fd);   // admitted or closed; unknown fds are ignored

    size_t size() const { return by_fd_.size(); }
    size_t from(const IpAddr &source) const;
    const Limits &limits() const { return limits_; }
    // The counting key of an address: itself, or its /64 for IPv6.
    static IpAddr source_key(const IpAddr &a);

private:
    struct Source {
        std::set<uint64_t> ages;   // sequence numbers, oldest first
        bool reported = false;     // at its limit: logged once until it empties
    };
    struct Entry {
        int fd;
        IpAddr source;             // already a source_key
    };

    Limits limits_;
    uint64_t next_seq_ = 1;
    std::map<uint64_t, Entry> by_age_;
    std::unordered_map<int, uint64_t> by_fd_;
    std::map<IpAddr, Source> by_source_;
    bool total_reported_ = false;  // at the total: logged once until half empty
};

}  // namespace lm
