// SPDX-License-Identifier: MIT
// A client of etcd v3 through its JSON gateway (the /v3/... HTTP endpoints
// every etcd 3.4 member serves on its client port; docs/DESIGN.md §11).
// lanmesh needs a handful of calls: read a key or a prefix, put, delete, a
// transaction of comparisons and writes (compare-and-swap), and leases with
// a time to live.  The gateway carries keys and values base64-encoded and
// 64-bit numbers as strings; this file hides both.
//
// Each call tries the endpoints in turn, starting with the one that answered
// last, so one member going down costs one timeout, not every call.
// Blocking: used only from the registry thread.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "registry/http.h"

namespace lm {

struct Json;

struct EtcdKv {
    std::string key, value;
    int64_t create_revision = 0;   // 0: the key does not exist
    int64_t mod_revision = 0;
    int64_t lease = 0;
};

struct EtcdCompare {
    enum class Target { create_revision, mod_revision, value };
    std::string key;
    Target target = Target::create_revision;
    int64_t revision = 0;          // create_revision / mod_revision must equal this
    std::string value;             // value must equal this
};

struct EtcdOp {
    enum class Kind { put, del };
    Kind kind = Kind::put;
    std::string key, value;
    int64_t lease = 0;             // put: attach to this lease (0: none)
};

struct EtcdOptions {
    std::vector<HttpUrl> endpoints;
    HttpClientTls tls;
    int timeout_ms = 2000;         // per endpoint and call
};

class Etcd {
public:
    explicit Etcd(EtcdOptions o) : o_(std::move(o)) {}

    // Every call: false with *err when no endpoint answered or etcd refused.
    bool get(std::string_view key, std::optional<EtcdKv> *out, std::string *err);
    bool list(std::string_view prefix, std::vector<EtcdKv> *out, std::string *err);
    bool put(std::string_view key, std::string_view value, int64_t lease, std::string *err);
    bool del(std::string_view key, std::string *err);
    // All comparisons hold -> the operations run, *succeeded = true; else
    // nothing is written and *succeeded = false.  Atomic across the cluster.
    bool txn(const std::vector<EtcdCompare> &cmp, const std::vector<EtcdOp> &ops, bool *succeeded,
             std::string *err);
    bool lease_grant(int ttl_s, int64_t *id, std::string *err);
    // *ttl_left is 0 when the lease has expired (it cannot be revived).
    bool lease_keepalive(int64_t id, int64_t *ttl_left, std::string *err);
    bool lease_revoke(int64_t id, std::string *err);

    const std::string &endpoint_in_use() const { return in_use_; }
    // The last call reached no member at all (as opposed to etcd refusing it).
    bool unreachable() const { return unreachable_; }

private:
    bool call(std::string_view path, const std::string &body, bool stream, Json *out, std::string *err);
    EtcdOptions o_;
    size_t current_ = 0;
    std::string in_use_;
    bool unreachable_ = false;
};

// The gateway's encodings (exposed for the unit tests).
std::string base64_encode(std::string_view in);
bool base64_decode(std::string_view in, std::string *out);
// The key just past every key that starts with prefix (etcd's range_end).
std::string prefix_end(std::string_view prefix);

}  // namespace lm
