// SPDX-License-Identifier: MIT
#include "server/leases.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "common/log.h"
#include "common/might_block.h"
#include "common/names.h"

namespace lm {

namespace {

std::vector<std::string_view> split_fields(std::string_view line) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) i++;
        size_t start = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') i++;
        if (i > start) out.push_back(line.substr(start, i - start));
    }
    return out;
}

bool write_all(int fd, const std::string &s) {
    size_t off = 0;
    while (off < s.size()) {
        ssize_t n = ::write(fd, s.data() + off, s.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        off += size_t(n);
    }
    return true;
}

// Reads a whole file.  Returns false with errno set on failure.
bool read_file(const std::string &path, std::string *out) {
    might_block(BlockingCall::file, "lease file");
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    char buf[8192];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            ::close(fd);
            errno = e;
            return false;
        }
        if (n == 0) break;
        out->append(buf, size_t(n));
    }
    ::close(fd);
    return true;
}

}  // namespace

LeaseStore::LeaseStore(const TopologyPlan &plan, std::string state_file)
    : plan_(plan), file_(std::move(state_file)) {}

bool LeaseStore::valid_name(std::string_view name) { return valid_peer_name(name); }

LeaseStore::Entry LeaseStore::make_entry(const std::string &name, size_t index) {
    Entry e;
    e.lease.name = name;
    e.lease.addr4 = plan_.nth_client_addr4(index);
    e.lease.addr6 = plan_.nth_client_addr6(index);  // unset without pool6
    e.index = index;
    return e;
}

bool LeaseStore::load(std::string *err) {
    by_name_.clear();
    by_index_.clear();
    low_free_ = 0;
    clock_ = 0;
    if (file_.empty()) return true;

    std::string text;
    if (!read_file(file_, &text)) {
        if (errno == ENOENT) return true;  // first start: nothing leased yet
        *err = "cannot read " + file_ + ": " + std::strerror(errno);
        return false;
    }

    // Parse into temporaries so a bad file leaves the store empty rather
    // than half loaded.
    std::map<std::string, Entry> by_name;
    std::map<size_t, std::string> by_index;
    uint64_t clock = 0;
    std::string_view rest = text;
    for (int lineno = 1; !rest.empty(); lineno++) {
        size_t nl = rest.find('\n');
        std::string_view line = rest.substr(0, nl);
        rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
        if (size_t hash = line.find('#'); hash != std::string_view::npos)
            line = line.substr(0, hash);
        auto f = split_fields(line);
        if (f.empty()) continue;

        std::string where = file_ + ":" + std::to_string(lineno) + ": ";
        if (f.size() > 3 || f.size() < 2) {
            *err = where + "expected 'name addr4 [addr6]'";
            return false;
        }
        std::string name(f[0]);
        if (!valid_name(name)) {
            *err = where + "invalid name '" + name + "'";
            return false;
        }
        auto a4 = IpAddr::parse(f[1]);
        if (!a4 || a4->family != AF_INET) {
            *err = where + "invalid IPv4 address '" + std::string(f[1]) + "'";
            return false;
        }
        std::optional<IpAddr> a6;
        if (f.size() == 3) {
            a6 = IpAddr::parse(f[2]);
            if (!a6 || a6->family != AF_INET6) {
                *err = where + "invalid IPv6 address '" + std::string(f[2]) + "'";
                return false;
            }
        }
        if (by_name.count(name)) {
            *err = where + "duplicate name '" + name + "'";
            return false;
        }
        auto index = plan_.index_of(*a4);
        if (!index) {
            LM_WARN("%sdropping lease %s %s: not a client address of pool %s", where.c_str(),
                    name.c_str(), a4->str().c_str(), plan_.pool().str().c_str());
            continue;
        }
        if (auto other = by_index.find(*index); other != by_index.end()) {
            *err = where + "address " + a4->str() + " is also leased to '" + other->second + "'";
            return false;
        }
        Entry e = make_entry(name, *index);
        if (a6 && e.lease.addr6.is_set() && !(*a6 == e.lease.addr6))
            LM_INFO("%s%s moves from %s to %s (IPv6 pool changed)", where.c_str(), name.c_str(),
                    a6->str().c_str(), e.lease.addr6.str().c_str());
        e.last_used = ++clock;  // file order is least recently used first
        by_index.emplace(*index, name);
        by_name.emplace(name, std::move(e));
    }
    by_name_ = std::move(by_name);
    by_index_ = std::move(by_index);
    low_free_ = 0;
    clock_ = clock;
    yield_fixed();
    return true;
}

bool LeaseStore::reserved_for_other(size_t index, const std::string &name) const {
    auto it = fixed_.find(index);
    return it != fixed_.end() && it->second != name;
}

void LeaseStore::set_fixed(const std::vector<PeerConfig> &peers) {
    fixed_.clear();
    for (const auto &pc : peers) {
        if (!pc.address) continue;
        if (auto index = plan_.index_of(*pc.address); index && pc.address->family == AF_INET)
            fixed_.emplace(*index, pc.name);
    }
    low_free_ = 0;   // a slot no longer fixed is free again
    yield_fixed();
}

// Leases on another name's fixed address give way (see set_fixed).
void LeaseStore::yield_fixed() {
    bool changed = false;
    for (const auto &[index, owner] : fixed_) {
        auto holder = by_index_.find(index);
        if (holder == by_index_.end() || holder->second == owner) continue;
        auto e = by_name_.find(holder->second);
        if (e->second.active) {
            LM_WARN("address %s is fixed for %s but leased to %s, who is connected: %s gets it when %s disconnects",
                    e->second.lease.addr4.str().c_str(), owner.c_str(), e->first.c_str(), owner.c_str(),
                    e->first.c_str());
            continue;
        }
        LM_WARN("address %s is fixed for %s: the lease of %s is dropped (it gets a new address)",
                e->second.lease.addr4.str().c_str(), owner.c_str(), e->first.c_str());
        forget_index(index);
        by_name_.erase(e);
        changed = true;
    }
    if (changed) persist();
}

void LeaseStore::forget_index(size_t index) {
    by_index_.erase(index);
    low_free_ = std::min(low_free_, index);
}

std::optional<size_t> LeaseStore::first_free() const {
    // by_index_ is ordered, so the first gap in low_free_, low_free_ + 1,
    // ... that is nobody's fixed address is the lowest free slot.
    size_t expect = low_free_;
    while (expect < plan_.capacity() && (by_index_.count(expect) || fixed_.count(expect))) expect++;
    low_free_ = expect;
    if (expect < plan_.capacity()) return expect;
    return std::nullopt;
}

std::optional<Lease> LeaseStore::acquire(const std::string &name, const IpAddr *fixed,
                                         std::string *err) {
    if (!valid_name(name)) {
        *err = "invalid client name '" + name + "' for an address lease";
        return std::nullopt;
    }

    std::optional<size_t> want;
    if (fixed) {
        if (fixed->family == AF_INET) want = plan_.index_of(*fixed);
        if (!want) {
            *err = "fixed address " + fixed->str() + " of " + name +
                   " is not a client address of pool " + plan_.pool().str();
            return std::nullopt;
        }
        auto holder = by_index_.find(*want);
        if (holder != by_index_.end() && holder->second != name) {
            auto other = by_name_.find(holder->second);
            if (other->second.active) {
                *err = "fixed address " + fixed->str() + " of " + name + " is in use by " +
                       other->first;
                return std::nullopt;
            }
            LM_WARN("address %s is fixed for %s; taking it from the inactive lease of %s",
                    fixed->str().c_str(), name.c_str(), other->first.c_str());
            forget_index(holder->first);
            by_name_.erase(other);
        }
    }

    if (auto it = by_name_.find(name); it != by_name_.end() && !want && reserved_for_other(it->second.index, name)) {
        // Its address has become someone else's fixed address while it was
        // connected (a reload); it gets a new one now.
        LM_WARN("address %s is now fixed for %s: %s gets another", it->second.lease.addr4.str().c_str(),
                fixed_.at(it->second.index).c_str(), name.c_str());
        forget_index(it->second.index);
        by_name_.erase(it);
    }
    if (auto it = by_name_.find(name); it != by_name_.end()) {
        Entry &e = it->second;
        if (want && *want != e.index) {
            // The config now fixes another address for this name.
            forget_index(e.index);
            e = make_entry(name, *want);
            by_index_.emplace(*want, name);
        }
        e.active = true;
        e.last_used = ++clock_;
        persist();
        return e.lease;
    }

    size_t index;
    if (want) {
        index = *want;
    } else if (auto free = first_free()) {
        index = *free;
    } else {
        // Full: reclaim the inactive lease released longest ago.
        auto victim = by_name_.end();
        for (auto it = by_name_.begin(); it != by_name_.end(); ++it) {
            if (it->second.active || reserved_for_other(it->second.index, name)) continue;
            if (victim == by_name_.end() || it->second.last_used < victim->second.last_used)
                victim = it;
        }
        if (victim == by_name_.end()) {
            *err = "address pool exhausted";
            return std::nullopt;
        }
        index = victim->second.index;
        LM_INFO("address pool %s full: %s gets %s, the inactive lease of %s",
                plan_.pool().str().c_str(), name.c_str(),
                victim->second.lease.addr4.str().c_str(), victim->first.c_str());
        forget_index(index);
        by_name_.erase(victim);
    }

    Entry e = make_entry(name, index);
    e.active = true;
    e.last_used = ++clock_;
    Lease out = e.lease;
    by_index_.emplace(index, name);
    by_name_.emplace(name, std::move(e));
    persist();
    return out;
}

void LeaseStore::release(const std::string &name) {
    auto it = by_name_.find(name);
    if (it == by_name_.end() || !it->second.active) return;
    if (reserved_for_other(it->second.index, name)) {
        LM_INFO("%s disconnected: its address %s goes to %s, for whom it is fixed", name.c_str(),
                it->second.lease.addr4.str().c_str(), fixed_.at(it->second.index).c_str());
        forget_index(it->second.index);
        by_name_.erase(it);
        persist();
        return;
    }
    it->second.active = false;
    it->second.last_used = ++clock_;
    persist();
}

const Lease *LeaseStore::find_by_name(const std::string &name) const {
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : &it->second.lease;
}

const Lease *LeaseStore::find_by_addr(const IpAddr &a) const {
    auto index = plan_.index_of(a);
    if (!index) return nullptr;
    auto it = by_index_.find(*index);
    if (it == by_index_.end()) return nullptr;
    const Lease &l = by_name_.at(it->second).lease;
    // index_of() maps both families onto the slot; make sure the address
    // really is this lease's (an IPv6 slot without an IPv6 lease, say).
    return (l.addr4 == a || l.addr6 == a) ? &l : nullptr;
}

void LeaseStore::persist() {
    if (file_.empty()) return;
    dirty_ = true;
    if (!deferred_) flush();
}

void LeaseStore::flush() {
    if (!dirty_ || file_.empty()) return;
    std::string err;
    if (save(&err))
        dirty_ = false;
    else
        LM_WARN("cannot save address leases: %s", err.c_str());
}

bool LeaseStore::save(std::string *err) const {
    std::vector<const Entry *> order;
    order.reserve(by_name_.size());
    for (const auto &kv : by_name_) order.push_back(&kv.second);
    std::sort(order.begin(), order.end(),
              [](const Entry *a, const Entry *b) { return a->last_used < b->last_used; });

    std::string text =
        "# lanmesh address leases: name addr4 [addr6]\n"
        "# Rewritten by lanmeshd on every change; edit only while it is stopped.\n"
        "# Least recently used first: when the pool is full, the first name not\n"
        "# connected loses its address.\n";
    for (const Entry *e : order) {
        text += e->lease.name + " " + e->lease.addr4.str();
        if (e->lease.addr6.is_set()) text += " " + e->lease.addr6.str();
        text += "\n";
    }

    // Temp file + fsync + rename: readers and a crash see the old or the new
    // file, never a truncated one.  The temp name is fixed because one
    // daemon owns the state directory.
    might_block(BlockingCall::file, "lease file");
    std::string tmp = file_ + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        *err = "cannot create " + tmp + ": " + std::strerror(errno);
        return false;
    }
    if (!write_all(fd, text) || ::fsync(fd) < 0) {
        *err = "cannot write " + tmp + ": " + std::strerror(errno);
        ::close(fd);
        ::unlink(tmp.c_str());
        return false;
    }
    if (::close(fd) < 0) {
        *err = "cannot write " + tmp + ": " + std::strerror(errno);
        ::unlink(tmp.c_str());
        return false;
    }
    if (::rename(tmp.c_str(), file_.c_str()) < 0) {
        *err = "cannot rename " + tmp + " to " + file_ + ": " + std::strerror(errno);
        ::unlink(tmp.c_str());
        return false;
    }
    // The rename itself is only durable once the directory is synced.
    size_t slash = file_.rfind('/');
    std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : file_.substr(0, slash);
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    return true;
}

}  // namespace lm
