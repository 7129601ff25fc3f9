// SPDX-License-Identifier: MIT
#include "registry/etcd.h"

#include <openssl/evp.h>

#include <cstdlib>

#include "common/json.h"
#include "common/json_value.h"

namespace lm {

std::string base64_encode(std::string_view in) {
    std::string out(4 * ((in.size() + 2) / 3), '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char *>(out.data()),
                            reinterpret_cast<const unsigned char *>(in.data()), int(in.size()));
    out.resize(size_t(n));
    return out;
}

bool base64_decode(std::string_view in, std::string *out) {
    if (in.size() % 4 != 0) return false;
    for (size_t i = 0; i < in.size(); i++) {
        char c = in[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
                  c == '/' || (c == '=' && (i + 1 == in.size() || (i + 2 == in.size() && in.back() == '=')));
        if (!ok) return false;
    }
    out->assign(in.size() / 4 * 3, '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char *>(out->data()),
                            reinterpret_cast<const unsigned char *>(in.data()), int(in.size()));
    if (n < 0) return false;
    // EVP_DecodeBlock counts the padding as zero bytes.
    size_t pad = (!in.empty() && in.back() == '=') + (in.size() > 1 && in[in.size() - 2] == '=');
    out->resize(size_t(n) - pad);
    return true;
}

std::string prefix_end(std::string_view prefix) {
    std::string end(prefix);
    while (!end.empty()) {
        if (uint8_t(end.back()) != 0xff) {
            end.back() = char(uint8_t(end.back()) + 1);
            return end;
        }
        end.pop_back();
    }
    return std::string(1, '\0');   // every key
}

namespace {

// proto3 JSON writes int64 as a string; a missing member is 0.
int64_t num(const Json &o, std::string_view key) {
    const Json *v = o.get(key);
    if (!v || (v->type != Json::Type::string && v->type != Json::Type::number)) return 0;
    return std::strtoll(v->s.c_str(), nullptr, 10);
}

bool read_kv(const Json &o, EtcdKv *kv) {
    const Json *k = o.get("key"), *v = o.get("value");
    if (!k || k->type != Json::Type::string || !base64_decode(k->s, &kv->key)) return false;
    if (v && (v->type != Json::Type::string || !base64_decode(v->s, &kv->value))) return false;
    kv->create_revision = num(o, "create_revision");
    kv->mod_revision = num(o, "mod_revision");
    kv->lease = num(o, "lease");
    return true;
}

bool read_kvs(const Json &resp, std::vector<EtcdKv> *out, std::string *err) {
    out->clear();
    const Json *kvs = resp.get("kvs");
    if (!kvs) return true;
    if (!kvs->is_array()) {
        *err = "etcd: malformed range response";
        return false;
    }
    for (const Json &item : kvs->items) {
        EtcdKv kv;
        if (!item.is_object() || !read_kv(item, &kv)) {
            *err = "etcd: malformed key-value in a range response";
            return false;
        }
        out->push_back(std::move(kv));
    }
    return true;
}

}  // namespace

bool Etcd::call(std::string_view path, const std::string &body, bool stream, Json *out, std::string *err) {
    if (o_.endpoints.empty()) {
        *err = "etcd: no endpoint configured";
        return false;
    }
    std::string tried;
    unreachable_ = false;
    for (size_t i = 0; i < o_.endpoints.size(); i++) {
        size_t idx = (current_ + i) % o_.endpoints.size();
        const HttpUrl &url = o_.endpoints[idx];
        HttpResponse resp;
        std::string why;
        if (!http_post(url, path, body, o_.timeout_ms, o_.tls, stream, &resp, &why)) {
            tried += (tried.empty() ? "" : "; ") + why;
            continue;
        }
        Json j;
        std::string perr;
        if (!parse_json(resp.body, &j, &perr) || !j.is_object()) {
            tried += (tried.empty() ? "" : "; ") + url.str() + ": response is not a JSON object";
            continue;
        }
        // A streaming call wraps its answer in "result".
        if (const Json *r = j.get("result"); stream && r && r->is_object()) j = *r;
        const Json *e = j.get("error");
        if (resp.status / 100 != 2 || e) {
            std::string msg = e && e->type == Json::Type::string ? e->s : "HTTP status " + std::to_string(resp.status);
            // 14 is gRPC's "unavailable" (no leader, member stopping): another member may do.
            if (num(j, "code") == 14 || resp.status == 503) {
                tried += (tried.empty() ? "" : "; ") + url.str() + ": " + msg;
                continue;
            }
            *err = "etcd " + url.str() + ": " + msg;
            return false;
        }
        current_ = idx;
        in_use_ = url.str();
        *out = std::move(j);
        return true;
    }
    *err = "etcd unreachable: " + tried;
    unreachable_ = true;
    return false;
}

bool Etcd::get(std::string_view key, std::optional<EtcdKv> *out, std::string *err) {
    JsonWriter w;
    w.begin_object().kv("key", base64_encode(key)).end_object();
    Json resp;
    std::vector<EtcdKv> kvs;
    if (!call("/v3/kv/range", w.str(), false, &resp, err) || !read_kvs(resp, &kvs, err)) return false;
    out->reset();
    for (auto &kv : kvs)
        if (kv.key == key) *out = std::move(kv);
    return true;
}

bool Etcd::list(std::string_view prefix, std::vector<EtcdKv> *out, std::string *err) {
    JsonWriter w;
    w.begin_object().kv("key", base64_encode(prefix)).kv("range_end", base64_encode(prefix_end(prefix))).end_object();
    Json resp;
    return call("/v3/kv/range", w.str(), false, &resp, err) && read_kvs(resp, out, err);
}

bool Etcd::put(std::string_view key, std::string_view value, int64_t lease, std::string *err) {
    JsonWriter w;
    w.begin_object().kv("key", base64_encode(key)).kv("value", base64_encode(value));
    if (lease) w.kv("lease", std::to_string(lease));
    w.end_object();
    Json resp;
    return call("/v3/kv/put", w.str(), false, &resp, err);
}

bool Etcd::del(std::string_view key, std::string *err) {
    JsonWriter w;
    w.begin_object().kv("key", base64_encode(key)).end_object();
    Json resp;
    return call("/v3/kv/deleterange", w.str(), false, &resp, err);
}

bool Etcd::txn(const std::vector<EtcdCompare> &cmp, const std::vector<EtcdOp> &ops, bool *succeeded,
               std::string *err) {
    JsonWriter w;
    w.begin_object().begin_array("compare");
    for (const EtcdCompare &c : cmp) {
        w.begin_object().kv("key", base64_encode(c.key)).kv("result", "EQUAL");
        switch (c.target) {
        case EtcdCompare::Target::create_revision:
            w.kv("target", "CREATE").kv("create_revision", std::to_string(c.revision));
            break;
        case EtcdCompare::Target::mod_revision:
            w.kv("target", "MOD").kv("mod_revision", std::to_string(c.revision));
            break;
        case EtcdCompare::Target::value:
            w.kv("target", "VALUE").kv("value", base64_encode(c.value));
            break;
        }
        w.end_object();
    }
    w.end_array().begin_array("success");
    for (const EtcdOp &op : ops) {
        w.begin_object();
        if (op.kind == EtcdOp::Kind::put) {
            w.begin_object("request_put").kv("key", base64_encode(op.key)).kv("value", base64_encode(op.value));
            if (op.lease) w.kv("lease", std::to_string(op.lease));
        } else {
            w.begin_object("request_delete_range").kv("key", base64_encode(op.key));
        }
        w.end_object().end_object();
    }
    w.end_array().end_object();
    Json resp;
    if (!call("/v3/kv/txn", w.str(), false, &resp, err)) return false;
    *succeeded = resp.flag("succeeded");
    return true;
}

bool Etcd::lease_grant(int ttl_s, int64_t *id, std::string *err) {
    JsonWriter w;
    w.begin_object().kv("TTL", std::to_string(ttl_s)).end_object();
    Json resp;
    if (!call("/v3/lease/grant", w.str(), false, &resp, err)) return false;
    *id = num(resp, "ID");
    if (*id == 0) {
        *err = "etcd: lease grant returned no ID";
        return false;
    }
    return true;
}

bool Etcd::lease_keepalive(int64_t id, int64_t *ttl_left, std::string *err) {
    JsonWriter w;
    w.begin_object().kv("ID", std::to_string(id)).end_object();
    Json resp;
    if (!call("/v3/lease/keepalive", w.str(), true, &resp, err)) return false;
    *ttl_left = num(resp, "TTL");
    return true;
}

bool Etcd::lease_revoke(int64_t id, std::string *err) {
    JsonWriter w;
    w.begin_object().kv("ID", std::to_string(id)).end_object();
    Json resp;
    return call("/v3/lease/revoke", w.str(), false, &resp, err);
}

}  // namespace lm
