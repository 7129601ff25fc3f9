// SPDX-License-Identifier: MIT
#include "server/pending_handshakes.h"

namespace lm {

IpAddr PendingHandshakes::source_key(const IpAddr &a) {
    IpAddr k = a;
    if (k.family == AF_INET6)
        for (int i = 8; i < 16; i++) k.b[i] = 0;
    return k;
}

std::optional<PendingHandshakes::Eviction> PendingHandshakes::make_room(const IpAddr &source) {
    auto src = by_source_.find(source_key(source));
    if (src != by_source_.end() && src->second.ages.size() >= limits_.per_source) {
        bool first = !src->second.reported;
        src->second.reported = true;
        return Eviction{by_age_.at(*src->second.ages.begin()).fd, true, first};
    }
    if (size() >= limits_.total && !by_age_.empty()) {
        bool first = !total_reported_;
        total_reported_ = true;
        return Eviction{by_age_.begin()->second.fd, false, first};
    }
    return std::nullopt;
}

std::optional<int> PendingHandshakes::oldest() const {
    if (by_age_.empty()) return std::nullopt;
    return by_age_.begin()->second.fd;
}

void PendingHandshakes::add(int fd, const IpAddr &source) {
    remove(fd);
    uint64_t seq = next_seq_++;
    IpAddr key = source_key(source);
    by_age_.emplace(seq, Entry{fd, key});
    by_fd_[fd] = seq;
    by_source_[key].ages.insert(seq);
}

void PendingHandshakes::remove(int fd) {
    auto f = by_fd_.find(fd);
    if (f == by_fd_.end()) return;
    auto a = by_age_.find(f->second);
    auto src = by_source_.find(a->second.source);
    src->second.ages.erase(f->second);
    if (src->second.ages.empty()) by_source_.erase(src);
    by_age_.erase(a);
    by_fd_.erase(f);
    if (size() < limits_.total / 2) total_reported_ = false;
}

size_t PendingHandshakes::from(const IpAddr &source) const {
    auto src = by_source_.find(source_key(source));
    return src == by_source_.end() ? 0 : src->second.ages.size();
}

}  // namespace lm
