// SPDX-License-Identifier: MIT
#include "control/messages.h"
#include "control/frame.h"

#include <cstring>

#include <cctype>

#include <algorithm>
#include <array>
#include <cstdarg>
#include <cstdio>
#include <iterator>

#include "common/bytes.h"

namespace lm {
namespace {

constexpr uint8_t kFam4 = 4, kFam6 = 6;

__attribute__((format(printf, 3, 4)))
bool fail(std::string *err, const char *msg, const char *fmt, ...) {
    if (!err) return false;
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    *err = std::string(msg) + ": " + buf;
    return false;
}

// ---- enum <-> wire codes (explicit, so reordering an enum cannot change the wire) ----

const char *cipher_name(Cipher c) {
    switch (c) {
    case Cipher::aes256gcm: return "aes-256-gcm";
    case Cipher::chacha20poly1305: return "chacha20-poly1305";
    }
    return "unknown";
}

bool cipher_known(uint16_t v) {
    return v == uint16_t(Cipher::aes256gcm) || v == uint16_t(Cipher::chacha20poly1305);
}

uint8_t encap_code(Encapsulation e) {
    switch (e) {
    case Encapsulation::auto_: return 0;
    case Encapsulation::udp: return 1;
    case Encapsulation::raw: return 2;
    case Encapsulation::tls: return 3;
    }
    return 0xff;
}

bool encap_from(uint8_t v, Encapsulation *e) {
    static const Encapsulation k[] = {Encapsulation::auto_, Encapsulation::udp, Encapsulation::raw,
                                      Encapsulation::tls};
    if (v >= std::size(k)) return false;
    *e = k[v];
    return true;
}

uint8_t topology_code(Topology t) {
    switch (t) {
    case Topology::net30: return 0;
    case Topology::p2p: return 1;
    case Topology::subnet: return 2;
    }
    return 0xff;
}

bool topology_from(uint8_t v, Topology *t) {
    static const Topology k[] = {Topology::net30, Topology::p2p, Topology::subnet};
    if (v >= std::size(k)) return false;
    *t = k[v];
    return true;
}

uint8_t c2c_code(ClientToClient c) {
    switch (c) {
    case ClientToClient::off: return 0;
    case ClientToClient::relay: return 1;
    case ClientToClient::direct: return 2;
    }
    return 0xff;
}

bool c2c_from(uint8_t v, ClientToClient *c) {
    static const ClientToClient k[] = {ClientToClient::off, ClientToClient::relay,
                                       ClientToClient::direct};
    if (v >= std::size(k)) return false;
    *c = k[v];
    return true;
}

// ---- address helpers ----

uint8_t family_code(const IpAddr &a) { return a.family == AF_INET ? kFam4 : kFam6; }

IpAddr make_addr(int family, const uint8_t *p) {
    IpAddr a;
    a.family = family;
    std::memcpy(a.b, p, family == AF_INET ? 4 : 16);
    return a;
}

bool is_unicast(const IpAddr &a, int family) { return a.family == family && is_unicast(a); }

bool host_bits_clear(const Prefix &p) {
    for (size_t i = 0; i < p.addr.len(); i++) {
        int keep = std::min(8, std::max(0, p.len - int(i) * 8));
        uint8_t mask = keep == 0 ? 0 : uint8_t(0xff << (8 - keep));
        if (p.addr.b[i] & ~mask) return false;
    }
    return true;
}

// ---- TLV writer ----

class Writer {
  public:
    void u8(uint8_t tag, uint8_t v) { put(tag, &v, 1); }
    void u16(uint8_t tag, uint16_t v) {
        uint8_t b[2];
        store_be16(b, v);
        put(tag, b, 2);
    }
    void u32(uint8_t tag, uint32_t v) {
        uint8_t b[4];
        store_be32(b, v);
        put(tag, b, 4);
    }
    void u64(uint8_t tag, uint64_t v) {
        uint8_t b[8];
        store_be64(b, v);
        put(tag, b, 8);
    }
    void addr(uint8_t tag, const IpAddr &a, size_t len) { put(tag, a.b, len); }
    void bytes(uint8_t tag, const std::vector<uint8_t> &v) { put(tag, v.data(), v.size()); }
    // Lengths above 0xffff cannot be framed; they are cut and the peer rejects them.
    void put(uint8_t tag, const uint8_t *p, size_t n) {
        n = std::min<size_t>(n, 0xffff);
        uint8_t h[3] = {tag, 0, 0};
        store_be16(h + 1, uint16_t(n));
        out_.insert(out_.end(), h, h + 3);
        out_.insert(out_.end(), p, p + n);
    }
    std::vector<uint8_t> take() { return std::move(out_); }

  private:
    std::vector<uint8_t> out_;
};

void append_faddr(std::vector<uint8_t> *v, const IpAddr &a) {
    v->push_back(family_code(a));
    v->insert(v->end(), a.b, a.b + a.len());
}

// ---- TLV reader ----

constexpr int kMaxTag = 31;

struct FieldSpec {
    uint8_t tag;
    const char *name;
    uint16_t min_len, max_len;
    bool required;
};

struct Field {
    const uint8_t *p = nullptr;
    size_t len = 0;
    bool present = false;
};

using Fields = std::array<Field, kMaxTag + 1>;

template <size_t N>
const FieldSpec *find_spec(const FieldSpec (&specs)[N], uint8_t tag) {
    for (const auto &s : specs)
        if (s.tag == tag) return &s;
    return nullptr;
}

bool check_length(const char *msg, const FieldSpec &s, size_t len, std::string *err) {
    if (s.min_len == s.max_len && len != s.min_len)
        return fail(err, msg, "field %u (%s) has length %zu, want %u", s.tag, s.name, len,
                    s.min_len);
    if (len < s.min_len || len > s.max_len)
        return fail(err, msg, "field %u (%s) has length %zu, want %u..%u", s.tag, s.name, len,
                    s.min_len, s.max_len);
    return true;
}

template <size_t N>
bool parse_fields(const char *msg, const std::vector<uint8_t> &in, const FieldSpec (&specs)[N],
                  Fields *f, std::string *err) {
    const uint8_t *p = in.data();
    size_t n = in.size(), off = 0;
    while (off < n) {
        if (n - off < 3)
            return fail(err, msg, "%zu trailing bytes at offset %zu, too short for a field",
                        n - off, off);
        uint8_t tag = p[off];
        size_t len = load_be16(p + off + 1);
        const FieldSpec *s = find_spec(specs, tag);
        if (!s) return fail(err, msg, "unknown field %u at offset %zu", tag, off);
        if (len > n - off - 3)
            return fail(err, msg, "field %u (%s) has length %zu but only %zu bytes follow", tag,
                        s->name, len, n - off - 3);
        if ((*f)[tag].present) return fail(err, msg, "duplicate field %u (%s)", tag, s->name);
        if (!check_length(msg, *s, len, err)) return false;
        (*f)[tag] = Field{p + off + 3, len, true};
        off += 3 + len;
    }
    for (const auto &s : specs)
        if (s.required && !(*f)[s.tag].present)
            return fail(err, msg, "missing field %u (%s)", s.tag, s.name);
    return true;
}

uint8_t get_u8(const Field &f) { return f.p[0]; }
uint16_t get_u16(const Field &f) { return load_be16(f.p); }
uint32_t get_u32(const Field &f) { return load_be32(f.p); }
uint64_t get_u64(const Field &f) { return load_be64(f.p); }

// Reads faddr = family(u8) | address from a packed list; `what` names the entry.
bool read_faddr(const char *msg, const char *what, const Field &f, size_t *off, IpAddr *a,
                std::string *err) {
    uint8_t fam = f.p[*off];
    if (fam != kFam4 && fam != kFam6)
        return fail(err, msg, "%s has address family %u, want 4 or 6", what, fam);
    size_t alen = fam == kFam4 ? 4 : 16;
    if (f.len - *off - 1 < alen) return fail(err, msg, "%s is truncated", what);
    *a = make_addr(fam == kFam4 ? AF_INET : AF_INET6, f.p + *off + 1);
    *off += 1 + alen;
    return true;
}

// ---- Hello ----

enum HelloTag : uint8_t { kHCiphers = 1, kHEncap, kHSpi, kHLocalAddrs, kHDataPort, kHPairs };
constexpr size_t kPairEntryMin = 8 + 1 + 1, kPairEntryMax = 8 + 1 + kMaxPeerName;

const FieldSpec kHelloFields[] = {
    {kHCiphers, "ciphers", 2, 2 * kMaxListItems, true},
    {kHEncap, "encap", 1, 1, true},
    {kHSpi, "spi_s2c", 4, 4, true},
    {kHLocalAddrs, "local_addrs", 5, 17 * kMaxListItems, false},
    {kHDataPort, "data_port", 2, 2, true},
    {kHPairs, "pairs", kPairEntryMin, kPairEntryMax * kMaxListItems, false},
};

bool decode_ciphers(const char *msg, const Field &f, std::vector<Cipher> *out, std::string *err) {
    if (f.len % 2)
        return fail(err, msg, "field %u (ciphers) has length %zu, want a multiple of 2", kHCiphers,
                    f.len);
    for (size_t off = 0; off < f.len; off += 2) {
        uint16_t v = load_be16(f.p + off);
        if (!cipher_known(v)) return fail(err, msg, "unknown cipher %u", v);
        out->push_back(Cipher(v));
    }
    return true;
}

bool decode_addr_list(const char *msg, const Field &f, std::vector<IpAddr> *out, std::string *err) {
    size_t off = 0;
    while (off < f.len) {
        if (out->size() == kMaxListItems)
            return fail(err, msg, "local_addrs has more than %zu entries", kMaxListItems);
        std::string what = "local_addrs entry " + std::to_string(out->size() + 1);
        IpAddr a;
        if (!read_faddr(msg, what.c_str(), f, &off, &a, err)) return false;
        out->push_back(a);
    }
    return true;
}

// ---- Config ----

enum ConfigTag : uint8_t {
    kCTopology = 1, kCCipher, kCEncap, kCSpi, kCEpoch, kCLocal4, kCPrefix4, kCPeer4, kCGateway4,
    kCLocal6, kCPrefix6, kCRoutes, kCMtu, kCDataPort, kCKaInterval, kCKaTimeout, kCNatKa,
    kCRekeyTime, kCRekeyBytes, kCRekeyPackets, kCObserved, kCC2c, kCPaths, kCServerAddr,
};

constexpr uint16_t kRouteMin = 1 + 4 + 1 + 1, kRouteMax = 1 + 16 + 1 + 1 + 16;

const FieldSpec kConfigFields[] = {
    {kCTopology, "topology", 1, 1, true},
    {kCCipher, "cipher", 2, 2, true},
    {kCEncap, "encap", 1, 1, true},
    {kCSpi, "spi_c2s", 4, 4, true},
    {kCEpoch, "epoch", 4, 4, true},
    {kCLocal4, "local4", 4, 4, true},
    {kCPrefix4, "prefix4", 1, 1, true},
    {kCPeer4, "peer4", 4, 4, false},
    {kCGateway4, "gateway4", 4, 4, true},
    {kCLocal6, "local6", 16, 16, false},
    {kCPrefix6, "prefix6", 1, 1, false},
    {kCRoutes, "routes", kRouteMin, kRouteMax * kMaxListItems, false},
    {kCMtu, "mtu", 2, 2, true},
    {kCDataPort, "data_port", 2, 2, true},
    {kCKaInterval, "keepalive_interval", 2, 2, true},
    {kCKaTimeout, "keepalive_timeout", 2, 2, true},
    {kCNatKa, "nat_keepalive", 2, 2, true},
    {kCRekeyTime, "rekey_after_time", 4, 4, true},
    {kCRekeyBytes, "rekey_after_bytes", 8, 8, true},
    {kCRekeyPackets, "rekey_after_packets", 8, 8, true},
    {kCObserved, "observed", 6, 18, false},
    {kCC2c, "c2c", 1, 1, true},
    {kCPaths, "paths", 1, 1, false},
    {kCServerAddr, "server_addr", 5, 17, false},
};

void append_route(std::vector<uint8_t> *v, const Prefix &dst, const IpAddr &gw) {
    append_faddr(v, dst.addr);
    v->push_back(uint8_t(dst.len));
    if (!gw.is_set()) {
        v->push_back(0);
        return;
    }
    append_faddr(v, gw);
}

bool read_route(const char *msg, const Field &f, size_t *off, size_t index,
                std::pair<Prefix, IpAddr> *r, std::string *err) {
    std::string what = "route " + std::to_string(index);
    if (!read_faddr(msg, what.c_str(), f, off, &r->first.addr, err)) return false;
    if (f.len - *off < 2) return fail(err, msg, "%s is truncated", what.c_str());
    r->first.len = f.p[*off];
    uint8_t gwfam = f.p[*off + 1];
    *off += 1;
    if (gwfam != 0 && gwfam != kFam4 && gwfam != kFam6)
        return fail(err, msg, "%s gateway has address family %u, want 0, 4 or 6", what.c_str(),
                    gwfam);
    if (gwfam == 0) {
        *off += 1;
        r->second = IpAddr();
        return true;
    }
    std::string gwhat = what + " gateway";
    return read_faddr(msg, gwhat.c_str(), f, off, &r->second, err);
}

bool decode_routes(const char *msg, const Field &f, std::vector<std::pair<Prefix, IpAddr>> *out,
                   std::string *err) {
    size_t off = 0;
    while (off < f.len) {
        if (out->size() == kMaxListItems)
            return fail(err, msg, "routes has more than %zu entries", kMaxListItems);
        std::pair<Prefix, IpAddr> r;
        if (!read_route(msg, f, &off, out->size() + 1, &r, err)) return false;
        out->push_back(r);
    }
    return true;
}

bool decode_observed(const char *msg, const Field &f, Endpoint *e, std::string *err) {
    if (f.len != 6 && f.len != 18)
        return fail(err, msg, "field %u (observed) has length %zu, want 6 or 18", kCObserved,
                    f.len);
    e->addr = make_addr(f.len == 6 ? AF_INET : AF_INET6, f.p);
    e->port = load_be16(f.p + f.len - 2);
    return true;
}

// Enum-valued config fields; ranges are checked here because the enums cannot
// hold unknown values.
bool decode_config_enums(const char *msg, const Fields &f, ConfigMsg *m, std::string *err) {
    if (!topology_from(get_u8(f[kCTopology]), &m->topology))
        return fail(err, msg, "unknown topology %u", get_u8(f[kCTopology]));
    uint16_t c = get_u16(f[kCCipher]);
    if (!cipher_known(c)) return fail(err, msg, "unknown cipher %u", c);
    m->cipher = Cipher(c);
    if (!encap_from(get_u8(f[kCEncap]), &m->encap))
        return fail(err, msg, "unknown encapsulation %u", get_u8(f[kCEncap]));
    if (!c2c_from(get_u8(f[kCC2c]), &m->c2c))
        return fail(err, msg, "unknown client-to-client mode %u", get_u8(f[kCC2c]));
    return true;
}

void decode_config_scalars(const Fields &f, ConfigMsg *m) {
    m->spi_c2s = get_u32(f[kCSpi]);
    m->epoch = get_u32(f[kCEpoch]);
    m->local4 = make_addr(AF_INET, f[kCLocal4].p);
    m->prefix4 = get_u8(f[kCPrefix4]);
    m->peer4 = f[kCPeer4].present ? make_addr(AF_INET, f[kCPeer4].p) : IpAddr();
    m->gateway4 = make_addr(AF_INET, f[kCGateway4].p);
    m->local6 = f[kCLocal6].present ? make_addr(AF_INET6, f[kCLocal6].p) : IpAddr();
    m->prefix6 = f[kCPrefix6].present ? get_u8(f[kCPrefix6]) : 128;
    m->mtu = get_u16(f[kCMtu]);
    m->data_port = get_u16(f[kCDataPort]);
    m->keepalive_interval = get_u16(f[kCKaInterval]);
    m->keepalive_timeout = get_u16(f[kCKaTimeout]);
    m->nat_keepalive = get_u16(f[kCNatKa]);
    m->rekey_after_time = get_u32(f[kCRekeyTime]);
    m->rekey_after_bytes = get_u64(f[kCRekeyBytes]);
    m->rekey_after_packets = get_u64(f[kCRekeyPackets]);
}

bool validate_route(const char *msg, size_t i, const Prefix &dst, const IpAddr &gw,
                    std::string *err) {
    if (dst.addr.family != AF_INET && dst.addr.family != AF_INET6)
        return fail(err, msg, "route %zu has no destination address", i);
    int max = dst.addr.family == AF_INET ? 32 : 128;
    if (dst.len < 0 || dst.len > max)
        return fail(err, msg, "route %zu prefix length %d out of range 0..%d", i, dst.len, max);
    if (!host_bits_clear(dst))
        return fail(err, msg, "route %zu %s has host bits set", i, dst.str().c_str());
    if (gw.is_set() && gw.family != dst.addr.family)
        return fail(err, msg, "route %zu %s has a gateway of the other family", i,
                    dst.str().c_str());
    if (gw.is_set() && !is_unicast(gw))
        return fail(err, msg, "route %zu gateway %s is not a unicast address", i, gw.str().c_str());
    return true;
}

bool validate_routes(const char *msg, const std::vector<std::pair<Prefix, IpAddr>> &routes,
                     std::string *err) {
    if (routes.size() > kMaxListItems)
        return fail(err, msg, "%zu routes, at most %zu allowed", routes.size(), kMaxListItems);
    for (size_t i = 0; i < routes.size(); i++) {
        if (!validate_route(msg, i + 1, routes[i].first, routes[i].second, err)) return false;
        for (size_t j = 0; j < i; j++)
            if (routes[j].first == routes[i].first)
                return fail(err, msg, "route %s listed twice", routes[i].first.str().c_str());
    }
    return true;
}

bool validate_config_addrs(const char *msg, const ConfigMsg &m, std::string *err) {
    if (!is_unicast(m.local4, AF_INET))
        return fail(err, msg, "local4 %s is not an IPv4 unicast address", m.local4.str().c_str());
    if (m.prefix4 < 1 || m.prefix4 > 32)
        return fail(err, msg, "prefix4 %u out of range 1..32", m.prefix4);
    if (m.peer4.is_set() && !is_unicast(m.peer4, AF_INET))
        return fail(err, msg, "peer4 %s is not an IPv4 unicast address", m.peer4.str().c_str());
    if (m.topology != Topology::subnet && !m.peer4.is_set())
        return fail(err, msg, "topology %s needs peer4",
                    m.topology == Topology::p2p ? "p2p" : "net30");
    if (m.topology == Topology::subnet && m.peer4.is_set())
        return fail(err, msg, "topology subnet has no peer4");
    if (!is_unicast(m.gateway4, AF_INET))
        return fail(err, msg, "gateway4 %s is not an IPv4 unicast address",
                    m.gateway4.str().c_str());
    if (m.local6.is_set() && !is_unicast(m.local6, AF_INET6))
        return fail(err, msg, "local6 %s is not an IPv6 unicast address", m.local6.str().c_str());
    if (m.local6.is_set() && (m.prefix6 < 1 || m.prefix6 > 128))
        return fail(err, msg, "prefix6 %u out of range 1..128", m.prefix6);
    if (m.observed.is_set() && !is_unicast(m.observed.addr))
        return fail(err, msg, "observed %s is not a unicast address", m.observed.str().c_str());
    if (!m.observed.is_set() && m.observed.port != 0)
        return fail(err, msg, "observed port %u without an address", m.observed.port);
    return true;
}

// ---- small messages ----

enum RekeyTag : uint8_t { kREpoch = 1, kRSpi };
const FieldSpec kRekeyFields[] = {
    {kREpoch, "epoch", 4, 4, true},
    {kRSpi, "spi", 4, 4, true},
};

enum PingTag : uint8_t { kPNonce = 1 };
const FieldSpec kPingFields[] = {{kPNonce, "nonce", 8, 8, true}};

enum ByeTag : uint8_t { kBReason = 1 };
const FieldSpec kByeFields[] = {{kBReason, "reason", 0, kMaxByeReason, true}};

bool printable(char c) { return c >= 0x20 && c <= 0x7e; }

const char kHello[] = "hello", kConfig[] = "config", kRekey[] = "rekey", kPing[] = "ping",
           kBye[] = "bye";

}  // namespace

// ---- Hello ----

std::vector<uint8_t> encode(const Hello &m) {
    Writer w;
    std::vector<uint8_t> ciphers;
    for (Cipher c : m.ciphers) {
        uint8_t b[2];
        store_be16(b, uint16_t(c));
        ciphers.insert(ciphers.end(), b, b + 2);
    }
    w.bytes(kHCiphers, ciphers);
    w.u8(kHEncap, encap_code(m.encap));
    w.u32(kHSpi, m.spi_s2c);
    if (!m.local_addrs.empty()) {
        std::vector<uint8_t> addrs;
        for (const IpAddr &a : m.local_addrs) append_faddr(&addrs, a);
        w.bytes(kHLocalAddrs, addrs);
    }
    w.u16(kHDataPort, m.data_port);
    if (!m.pairs.empty()) {
        std::vector<uint8_t> v;
        for (const auto &[name, id] : m.pairs) {
            uint8_t b[8];
            store_be64(b, id);
            v.insert(v.end(), b, b + 8);
            v.push_back(uint8_t(std::min<size_t>(name.size(), 0xff)));
            v.insert(v.end(), name.begin(), name.end());
        }
        w.bytes(kHPairs, v);
    }
    return w.take();
}

bool validate(const Hello &m, std::string *err) {
    if (m.ciphers.empty()) return fail(err, kHello, "no ciphers offered");
    if (m.ciphers.size() > kMaxListItems)
        return fail(err, kHello, "%zu ciphers, at most %zu allowed", m.ciphers.size(),
                    kMaxListItems);
    for (size_t i = 0; i < m.ciphers.size(); i++) {
        if (!cipher_known(uint16_t(m.ciphers[i])))
            return fail(err, kHello, "unknown cipher %u", unsigned(m.ciphers[i]));
        for (size_t j = 0; j < i; j++)
            if (m.ciphers[j] == m.ciphers[i])
                return fail(err, kHello, "cipher %s listed twice", cipher_name(m.ciphers[i]));
    }
    if (m.spi_s2c < kMinSpi)
        return fail(err, kHello, "spi_s2c %u is reserved, want >= %u", m.spi_s2c, kMinSpi);
    if (encap_code(m.encap) == 0xff)
        return fail(err, kHello, "unknown encapsulation %d", int(m.encap));
    if (m.local_addrs.size() > kMaxListItems)
        return fail(err, kHello, "%zu local addresses, at most %zu allowed", m.local_addrs.size(),
                    kMaxListItems);
    for (const IpAddr &a : m.local_addrs)
        if (!is_unicast(a))
            return fail(err, kHello, "local address %s is not a unicast address", a.str().c_str());
    if (m.pairs.size() > kMaxListItems)
        return fail(err, kHello, "%zu pairs, at most %zu allowed", m.pairs.size(), kMaxListItems);
    for (size_t i = 0; i < m.pairs.size(); i++) {
        if (!valid_peer_name(m.pairs[i].first)) return fail(err, kHello, "pair %zu has a bad peer name", i + 1);
        if (m.pairs[i].second == 0) return fail(err, kHello, "pair %zu has introduction 0", i + 1);
        for (size_t j = 0; j < i; j++)
            if (m.pairs[j].first == m.pairs[i].first)
                return fail(err, kHello, "pair with %s listed twice", m.pairs[i].first.c_str());
    }
    return true;
}

bool decode(const std::vector<uint8_t> &in, Hello *out, std::string *err) {
    Fields f;
    if (!parse_fields(kHello, in, kHelloFields, &f, err)) return false;
    Hello m;
    if (!decode_ciphers(kHello, f[kHCiphers], &m.ciphers, err)) return false;
    if (!encap_from(get_u8(f[kHEncap]), &m.encap))
        return fail(err, kHello, "unknown encapsulation %u", get_u8(f[kHEncap]));
    m.spi_s2c = get_u32(f[kHSpi]);
    if (f[kHLocalAddrs].present && !decode_addr_list(kHello, f[kHLocalAddrs], &m.local_addrs, err))
        return false;
    m.data_port = get_u16(f[kHDataPort]);
    const Field &pf = f[kHPairs];
    for (size_t off = 0; pf.present && off < pf.len;) {
        if (m.pairs.size() == kMaxListItems) return fail(err, kHello, "too many pairs");
        if (pf.len - off < kPairEntryMin) return fail(err, kHello, "pair %zu is truncated", m.pairs.size() + 1);
        uint64_t id = load_be64(pf.p + off);
        size_t nlen = pf.p[off + 8];
        if (nlen == 0 || nlen > kMaxPeerName || pf.len - off - 9 < nlen)
            return fail(err, kHello, "pair %zu has a name of bad length %zu", m.pairs.size() + 1, nlen);
        m.pairs.emplace_back(std::string(reinterpret_cast<const char *>(pf.p + off + 9), nlen), id);
        off += 9 + nlen;
    }
    if (!validate(m, err)) return false;
    *out = std::move(m);
    return true;
}

// ---- ConfigMsg ----

std::vector<uint8_t> encode(const ConfigMsg &m) {
    Writer w;
    w.u8(kCTopology, topology_code(m.topology));
    w.u16(kCCipher, uint16_t(m.cipher));
    w.u8(kCEncap, encap_code(m.encap));
    w.u32(kCSpi, m.spi_c2s);
    w.u32(kCEpoch, m.epoch);
    w.addr(kCLocal4, m.local4, 4);
    w.u8(kCPrefix4, m.prefix4);
    if (m.peer4.is_set()) w.addr(kCPeer4, m.peer4, 4);
    w.addr(kCGateway4, m.gateway4, 4);
    if (m.local6.is_set()) {
        w.addr(kCLocal6, m.local6, 16);
        w.u8(kCPrefix6, m.prefix6);
    }
    if (!m.routes.empty()) {
        std::vector<uint8_t> v;
        for (const auto &[dst, gw] : m.routes) append_route(&v, dst, gw);
        w.bytes(kCRoutes, v);
    }
    w.u16(kCMtu, m.mtu);
    w.u16(kCDataPort, m.data_port);
    w.u16(kCKaInterval, m.keepalive_interval);
    w.u16(kCKaTimeout, m.keepalive_timeout);
    w.u16(kCNatKa, m.nat_keepalive);
    w.u32(kCRekeyTime, m.rekey_after_time);
    w.u64(kCRekeyBytes, m.rekey_after_bytes);
    w.u64(kCRekeyPackets, m.rekey_after_packets);
    if (m.observed.is_set()) {
        std::vector<uint8_t> v(m.observed.addr.b, m.observed.addr.b + m.observed.addr.len());
        v.push_back(uint8_t(m.observed.port >> 8));
        v.push_back(uint8_t(m.observed.port));
        w.bytes(kCObserved, v);
    }
    w.u8(kCC2c, c2c_code(m.c2c));
    if (m.paths) w.u8(kCPaths, m.paths);
    if (m.server_addr.is_set()) {
        std::vector<uint8_t> v;
        append_faddr(&v, m.server_addr);
        w.bytes(kCServerAddr, v);
    }
    return w.take();
}

bool validate(const ConfigMsg &m, std::string *err) {
    if (topology_code(m.topology) == 0xff)
        return fail(err, kConfig, "unknown topology %d", int(m.topology));
    if (!cipher_known(uint16_t(m.cipher)))
        return fail(err, kConfig, "unknown cipher %u", unsigned(m.cipher));
    if (m.encap == Encapsulation::auto_ || encap_code(m.encap) == 0xff)
        return fail(err, kConfig, "encapsulation must be raw, udp or tls");
    if (m.paths & ~kPathsAll) return fail(err, kConfig, "paths 0x%02x has unknown bits", m.paths);
    if (m.paths && !(m.paths & path_bit(m.encap)))
        return fail(err, kConfig, "paths 0x%02x leave out the encapsulation %s", m.paths, to_string(m.encap));
    if (c2c_code(m.c2c) == 0xff)
        return fail(err, kConfig, "unknown client-to-client mode %d", int(m.c2c));
    if (m.spi_c2s < kMinSpi)
        return fail(err, kConfig, "spi_c2s %u is reserved, want >= %u", m.spi_c2s, kMinSpi);
    if (!validate_config_addrs(kConfig, m, err)) return false;
    if (!validate_routes(kConfig, m.routes, err)) return false;
    if (m.mtu < kMinMtu || m.mtu > kMaxMtu)
        return fail(err, kConfig, "mtu %u out of range %u..%u", m.mtu, kMinMtu, kMaxMtu);
    if (m.local6.is_set() && m.mtu < kMinMtu6)
        return fail(err, kConfig, "mtu %u is below %u, too small for IPv6", m.mtu, kMinMtu6);
    if (m.data_port == 0) return fail(err, kConfig, "data_port is 0");
    return true;
}

bool decode(const std::vector<uint8_t> &in, ConfigMsg *out, std::string *err) {
    Fields f;
    if (!parse_fields(kConfig, in, kConfigFields, &f, err)) return false;
    if (f[kCPrefix6].present != f[kCLocal6].present)
        return fail(err, kConfig, f[kCLocal6].present ? "local6 without prefix6"
                                                      : "prefix6 without local6");
    ConfigMsg m;
    if (!decode_config_enums(kConfig, f, &m, err)) return false;
    decode_config_scalars(f, &m);
    if (f[kCRoutes].present && !decode_routes(kConfig, f[kCRoutes], &m.routes, err)) return false;
    if (f[kCObserved].present && !decode_observed(kConfig, f[kCObserved], &m.observed, err))
        return false;
    if (f[kCPaths].present) {
        m.paths = get_u8(f[kCPaths]);
        if (!m.paths) return fail(err, kConfig, "paths is 0");
    }
    if (f[kCServerAddr].present) {
        size_t off = 0;
        if (!read_faddr(kConfig, "server_addr", f[kCServerAddr], &off, &m.server_addr, err)) return false;
        if (off != f[kCServerAddr].len) return fail(err, kConfig, "server_addr has trailing bytes");
    }
    if (!validate(m, err)) return false;
    *out = std::move(m);
    return true;
}

// ---- Rekey ----

std::vector<uint8_t> encode(const Rekey &m) {
    Writer w;
    w.u32(kREpoch, m.epoch);
    w.u32(kRSpi, m.spi);
    return w.take();
}

bool validate(const Rekey &m, std::string *err) {
    if (m.spi < kMinSpi) return fail(err, kRekey, "spi %u is reserved, want >= %u", m.spi, kMinSpi);
    return true;
}

bool decode(const std::vector<uint8_t> &in, Rekey *out, std::string *err) {
    Fields f;
    if (!parse_fields(kRekey, in, kRekeyFields, &f, err)) return false;
    Rekey m;
    m.epoch = get_u32(f[kREpoch]);
    m.spi = get_u32(f[kRSpi]);
    if (!validate(m, err)) return false;
    *out = m;
    return true;
}

// ---- Ping ----

std::vector<uint8_t> encode(const Ping &m) {
    Writer w;
    w.u64(kPNonce, m.nonce);
    return w.take();
}

bool validate(const Ping &, std::string *) { return true; }

bool decode(const std::vector<uint8_t> &in, Ping *out, std::string *err) {
    Fields f;
    if (!parse_fields(kPing, in, kPingFields, &f, err)) return false;
    out->nonce = get_u64(f[kPNonce]);
    return true;
}

// ---- Bye ----

std::vector<uint8_t> encode(const Bye &m) {
    std::vector<uint8_t> reason;
    for (size_t i = 0; i < m.reason.size() && i < kMaxByeReason; i++)
        reason.push_back(printable(m.reason[i]) ? uint8_t(m.reason[i]) : uint8_t('?'));
    Writer w;
    w.bytes(kBReason, reason);
    return w.take();
}

bool validate(const Bye &m, std::string *err) {
    if (m.reason.size() > kMaxByeReason)
        return fail(err, kBye, "reason is %zu bytes, at most %zu allowed", m.reason.size(),
                    kMaxByeReason);
    for (size_t i = 0; i < m.reason.size(); i++)
        if (!printable(m.reason[i]))
            return fail(err, kBye, "reason has a non-printable byte 0x%02x at offset %zu",
                        uint8_t(m.reason[i]), i);
    return true;
}

bool decode(const std::vector<uint8_t> &in, Bye *out, std::string *err) {
    Fields f;
    if (!parse_fields(kBye, in, kByeFields, &f, err)) return false;
    Bye m;
    m.reason.assign(reinterpret_cast<const char *>(f[kBReason].p), f[kBReason].len);
    if (!validate(m, err)) return false;
    *out = std::move(m);
    return true;
}

// ---- Route update ----

namespace {
constexpr char kRouteUpdate[] = "route_update";
enum RouteUpdateTag : uint8_t { kRURoutes = 1 };
const FieldSpec kRouteUpdateFields[] = {
    {kRURoutes, "routes", kRouteMin, kRouteMax * kMaxListItems, false},
};
}  // namespace

std::vector<uint8_t> encode(const RouteUpdate &m) {
    Writer w;
    if (!m.routes.empty()) {
        std::vector<uint8_t> v;
        for (const auto &[dst, gw] : m.routes) append_route(&v, dst, gw);
        w.bytes(kRURoutes, v);
    }
    return w.take();
}

bool validate(const RouteUpdate &m, std::string *err) { return validate_routes(kRouteUpdate, m.routes, err); }

bool decode(const std::vector<uint8_t> &in, RouteUpdate *out, std::string *err) {
    Fields f;
    if (!parse_fields(kRouteUpdate, in, kRouteUpdateFields, &f, err)) return false;
    RouteUpdate m;
    if (f[kRURoutes].present && !decode_routes(kRouteUpdate, f[kRURoutes], &m.routes, err)) return false;
    if (!validate(m, err)) return false;
    *out = std::move(m);
    return true;
}

// ---- Path ----

namespace {
constexpr char kPath[] = "path";
enum PathTag : uint8_t { kPEncap = 1 };
const FieldSpec kPathFields[] = {
    {kPEncap, "encap", 1, 1, true},
};
}  // namespace

std::vector<uint8_t> encode(const PathMsg &m) {
    Writer w;
    w.u8(kPEncap, encap_code(m.encap));
    return w.take();
}

bool validate(const PathMsg &m, std::string *err) {
    if (m.encap == Encapsulation::auto_ || encap_code(m.encap) == 0xff)
        return fail(err, kPath, "encapsulation must be raw, udp or tls");
    return true;
}

bool decode(const std::vector<uint8_t> &in, PathMsg *out, std::string *err) {
    Fields f;
    if (!parse_fields(kPath, in, kPathFields, &f, err)) return false;
    PathMsg m;
    if (!encap_from(get_u8(f[kPEncap]), &m.encap))
        return fail(err, kPath, "unknown encapsulation %u", get_u8(f[kPEncap]));
    if (!validate(m, err)) return false;
    *out = m;
    return true;
}

// ---- The mesh ----

namespace {

enum PeerInfoTag : uint8_t { kPIIntro = 1, kPIName, kPICert, kPIAddrs, kPINets, kPICands, kPIFlags, kPICipher };
const FieldSpec kPeerInfoFields[] = {
    {kPIIntro, "intro_id", 8, 8, true},
    {kPIName, "name", 1, kMaxPeerName, true},
    {kPICert, "cert", 1, kMaxCertDer, true},
    {kPIAddrs, "addrs", 5, 17 * kMaxListItems, true},
    {kPINets, "networks", kRouteMin, kRouteMax * kMaxListItems, false},
    {kPICands, "candidates", 7, 19 * kMaxListItems, false},
    {kPIFlags, "flags", 1, 1, true},
    {kPICipher, "cipher", 2, 2, true},
};
enum PeerKeyTag : uint8_t { kPKIntro = 1, kPKName, kPKEpoch, kPKPub, kPKSpi, kPKSig, kPKAnswer };
const FieldSpec kPeerKeyFields[] = {
    {kPKIntro, "intro_id", 8, 8, true}, {kPKName, "name", 1, kMaxPeerName, true},
    {kPKEpoch, "epoch", 4, 4, true},    {kPKPub, "pub", 32, 32, true},
    {kPKSpi, "spi", 4, 4, true},        {kPKSig, "sig", 1, kMaxSig, true},
    {kPKAnswer, "answer", 1, 1, true},
};
enum PeerRequestTag : uint8_t { kPRName = 1, kPRPort, kPRIntro };
const FieldSpec kPeerRequestFields[] = {{kPRName, "name", 1, kMaxPeerName, true},
                                        {kPRPort, "data_port", 2, 2, false},
                                        {kPRIntro, "intro_id", 8, 8, false}};
enum PeerGoneTag : uint8_t { kPGName = 1, kPGReason };
const FieldSpec kPeerGoneFields[] = {{kPGName, "name", 1, kMaxPeerName, true},
                                     {kPGReason, "reason", 0, kMaxByeReason, true}};

const char kPeerInfo[] = "peer_info", kPeerKey[] = "peer_key", kPeerRequest[] = "peer_request",
           kPeerGone[] = "peer_gone";

std::string get_str(const Field &f) { return std::string(reinterpret_cast<const char *>(f.p), f.len); }

bool check_name(const char *msg, const std::string &name, std::string *err) {
    if (!valid_peer_name(name)) return fail(err, msg, "bad peer name");
    return true;
}

}  // namespace

std::vector<uint8_t> encode(const PeerInfo &m) {
    Writer w;
    w.u64(kPIIntro, m.intro_id);
    w.put(kPIName, reinterpret_cast<const uint8_t *>(m.name.data()), m.name.size());
    w.bytes(kPICert, m.cert);
    std::vector<uint8_t> v;
    for (const IpAddr &a : m.addrs) append_faddr(&v, a);
    w.bytes(kPIAddrs, v);
    if (!m.networks.empty()) {
        v.clear();
        for (const Prefix &p : m.networks) append_route(&v, p, IpAddr());
        w.bytes(kPINets, v);
    }
    if (!m.candidates.empty()) {
        v.clear();
        for (const Endpoint &e : m.candidates) {
            append_faddr(&v, e.addr);
            uint8_t b[2];
            store_be16(b, e.port);
            v.insert(v.end(), b, b + 2);
        }
        w.bytes(kPICands, v);
    }
    w.u8(kPIFlags, m.flags);
    w.u16(kPICipher, uint16_t(m.cipher));
    return w.take();
}

bool decode(const std::vector<uint8_t> &in, PeerInfo *out, std::string *err) {
    Fields f;
    if (!parse_fields(kPeerInfo, in, kPeerInfoFields, &f, err)) return false;
    PeerInfo m;
    m.intro_id = get_u64(f[kPIIntro]);
    m.name = get_str(f[kPIName]);
    if (!check_name(kPeerInfo, m.name, err)) return false;
    m.cert.assign(f[kPICert].p, f[kPICert].p + f[kPICert].len);
    size_t off = 0;
    while (off < f[kPIAddrs].len) {
        if (m.addrs.size() == kMaxListItems) return fail(err, kPeerInfo, "too many addrs");
        IpAddr a;
        if (!read_faddr(kPeerInfo, "addr", f[kPIAddrs], &off, &a, err)) return false;
        if (!is_unicast(a)) return fail(err, kPeerInfo, "addr %s is not unicast", a.str().c_str());
        m.addrs.push_back(a);
    }
    if (f[kPINets].present) {
        std::vector<std::pair<Prefix, IpAddr>> routes;
        if (!decode_routes(kPeerInfo, f[kPINets], &routes, err)) return false;
        for (auto &[p, gw] : routes) {
            if (gw.is_set() || !host_bits_clear(p) || p.len > (p.addr.family == AF_INET ? 32 : 128))
                return fail(err, kPeerInfo, "bad network %s", p.str().c_str());
            m.networks.push_back(p);
        }
    }
    off = 0;
    const Field &c = f[kPICands];
    while (c.present && off < c.len) {
        if (m.candidates.size() == kMaxListItems) return fail(err, kPeerInfo, "too many candidates");
        Endpoint e;
        if (!read_faddr(kPeerInfo, "candidate", c, &off, &e.addr, err)) return false;
        if (c.len - off < 2) return fail(err, kPeerInfo, "candidate is truncated");
        e.port = load_be16(c.p + off);
        off += 2;
        if (e.port == 0 || !is_unicast(e.addr)) return fail(err, kPeerInfo, "bad candidate %s", e.str().c_str());
        m.candidates.push_back(e);
    }
    m.flags = get_u8(f[kPIFlags]);
    if (m.flags & ~(kPeerFlagNat | kPeerFlagRaw)) return fail(err, kPeerInfo, "unknown flags 0x%02x", m.flags);
    uint16_t cv = get_u16(f[kPICipher]);
    if (!cipher_known(cv)) return fail(err, kPeerInfo, "unknown cipher %u", cv);
    m.cipher = Cipher(cv);
    *out = std::move(m);
    return true;
}

std::vector<uint8_t> encode(const PeerKey &m) {
    Writer w;
    w.u64(kPKIntro, m.intro_id);
    w.put(kPKName, reinterpret_cast<const uint8_t *>(m.name.data()), m.name.size());
    w.u32(kPKEpoch, m.epoch);
    w.put(kPKPub, m.pub.data(), m.pub.size());
    w.u32(kPKSpi, m.spi);
    w.bytes(kPKSig, m.sig);
    w.u8(kPKAnswer, m.answer ? 1 : 0);
    return w.take();
}

bool decode(const std::vector<uint8_t> &in, PeerKey *out, std::string *err) {
    Fields f;
    if (!parse_fields(kPeerKey, in, kPeerKeyFields, &f, err)) return false;
    PeerKey m;
    m.intro_id = get_u64(f[kPKIntro]);
    m.name = get_str(f[kPKName]);
    if (!check_name(kPeerKey, m.name, err)) return false;
    m.epoch = get_u32(f[kPKEpoch]);
    if (m.epoch == 0) return fail(err, kPeerKey, "epoch 0");
    std::memcpy(m.pub.data(), f[kPKPub].p, 32);
    m.spi = get_u32(f[kPKSpi]);
    if (m.spi < kMinSpi) return fail(err, kPeerKey, "spi %u is reserved, want >= %u", m.spi, kMinSpi);
    m.sig.assign(f[kPKSig].p, f[kPKSig].p + f[kPKSig].len);
    uint8_t a = get_u8(f[kPKAnswer]);
    if (a > 1) return fail(err, kPeerKey, "answer %u", a);
    m.answer = a == 1;
    *out = std::move(m);
    return true;
}

std::vector<uint8_t> encode(const PeerRequest &m) {
    Writer w;
    w.put(kPRName, reinterpret_cast<const uint8_t *>(m.name.data()), m.name.size());
    if (m.data_port) w.u16(kPRPort, m.data_port);
    if (m.intro_id) w.u64(kPRIntro, m.intro_id);
    return w.take();
}

bool decode(const std::vector<uint8_t> &in, PeerRequest *out, std::string *err) {
    Fields f;
    if (!parse_fields(kPeerRequest, in, kPeerRequestFields, &f, err)) return false;
    out->name = get_str(f[kPRName]);
    out->data_port = f[kPRPort].present ? get_u16(f[kPRPort]) : 0;
    out->intro_id = f[kPRIntro].present ? get_u64(f[kPRIntro]) : 0;
    if (f[kPRIntro].present && out->intro_id == 0) return fail(err, kPeerRequest, "intro_id 0");
    return check_name(kPeerRequest, out->name, err);
}

std::vector<uint8_t> encode(const PeerGone &m) {
    Writer w;
    w.put(kPGName, reinterpret_cast<const uint8_t *>(m.name.data()), m.name.size());
    std::vector<uint8_t> reason;
    for (size_t i = 0; i < m.reason.size() && i < kMaxByeReason; i++)
        reason.push_back(printable(m.reason[i]) ? uint8_t(m.reason[i]) : uint8_t('?'));
    w.bytes(kPGReason, reason);
    return w.take();
}

bool decode(const std::vector<uint8_t> &in, PeerGone *out, std::string *err) {
    Fields f;
    if (!parse_fields(kPeerGone, in, kPeerGoneFields, &f, err)) return false;
    out->name = get_str(f[kPGName]);
    if (!check_name(kPeerGone, out->name, err)) return false;
    out->reason = get_str(f[kPGReason]);
    for (char ch : out->reason)
        if (!printable(ch)) return fail(err, kPeerGone, "non-printable reason");
    return true;
}

namespace {
enum ServerHelloTag : uint8_t { kSHName = 1, kSHSpi, kSHCiphers };
const FieldSpec kServerHelloFields[] = {{kSHName, "name", 1, kMaxPeerName, true},
                                        {kSHSpi, "spi", 4, 4, true},
                                        {kSHCiphers, "ciphers", 2, 2 * kMaxListItems, true}};
const char kServerHello[] = "server_hello";
}  // namespace

std::vector<uint8_t> encode(const ServerHello &m) {
    Writer w;
    w.put(kSHName, reinterpret_cast<const uint8_t *>(m.name.data()), m.name.size());
    w.u32(kSHSpi, m.spi);
    std::vector<uint8_t> ciphers;
    for (Cipher c : m.ciphers) {
        uint8_t b[2];
        store_be16(b, uint16_t(c));
        ciphers.insert(ciphers.end(), b, b + 2);
    }
    w.bytes(kSHCiphers, ciphers);
    return w.take();
}

bool validate(const ServerHello &m, std::string *err) {
    if (!check_name(kServerHello, m.name, err)) return false;
    if (m.spi < kMinSpi) return fail(err, kServerHello, "spi %u is reserved (< %u)", m.spi, kMinSpi);
    if (m.ciphers.empty() || m.ciphers.size() > kMaxListItems)
        return fail(err, kServerHello, "%zu ciphers (1..%zu)", m.ciphers.size(), kMaxListItems);
    return true;
}

bool decode(const std::vector<uint8_t> &in, ServerHello *out, std::string *err) {
    Fields f;
    if (!parse_fields(kServerHello, in, kServerHelloFields, &f, err)) return false;
    out->name = get_str(f[kSHName]);
    if (!check_name(kServerHello, out->name, err)) return false;
    out->spi = get_u32(f[kSHSpi]);
    if (out->spi < kMinSpi) return fail(err, kServerHello, "spi %u is reserved (< %u)", out->spi, kMinSpi);
    out->ciphers.clear();
    return decode_ciphers(kServerHello, f[kSHCiphers], &out->ciphers, err);
}

namespace {
enum ServerIntroTag : uint8_t { kSIIntro = 1, kSIAnswer, kSITo, kSIInfo, kSICiphers };
const FieldSpec kServerIntroFields[] = {{kSIIntro, "intro_id", 8, 8, true},
                                        {kSIAnswer, "answer", 1, 1, true},
                                        {kSITo, "to", 1, kMaxPeerName, true},
                                        {kSIInfo, "info", 1, kMaxPayload - 256, true},
                                        {kSICiphers, "ciphers", 2, 2 * kMaxListItems, true}};
enum ServerKeyTag : uint8_t { kSKFrom = 1, kSKKey };
const FieldSpec kServerKeyFields[] = {{kSKFrom, "from", 1, kMaxPeerName, true},
                                      {kSKKey, "key", 1, kMaxPayload - 128, true}};
const char kServerIntro[] = "server_intro", kServerKey[] = "server_key";
}  // namespace

std::vector<uint8_t> encode(const ServerIntro &m) {
    Writer w;
    w.u64(kSIIntro, m.intro_id);
    w.u8(kSIAnswer, m.answer ? 1 : m.takeup ? 2 : 0);
    w.put(kSITo, reinterpret_cast<const uint8_t *>(m.to.data()), m.to.size());
    w.bytes(kSIInfo, encode(m.info));
    std::vector<uint8_t> ciphers;
    for (Cipher c : m.ciphers) {
        uint8_t b[2];
        store_be16(b, uint16_t(c));
        ciphers.insert(ciphers.end(), b, b + 2);
    }
    w.bytes(kSICiphers, ciphers);
    return w.take();
}

bool decode(const std::vector<uint8_t> &in, ServerIntro *out, std::string *err) {
    Fields f;
    if (!parse_fields(kServerIntro, in, kServerIntroFields, &f, err)) return false;
    out->intro_id = get_u64(f[kSIIntro]);
    if (!out->intro_id) return fail(err, kServerIntro, "intro_id 0");
    uint8_t a = get_u8(f[kSIAnswer]);
    if (a > 2) return fail(err, kServerIntro, "answer %u (0, 1 or 2)", a);
    out->answer = a == 1;
    out->takeup = a == 2;
    out->to = get_str(f[kSITo]);
    if (!check_name(kServerIntro, out->to, err)) return false;
    std::vector<uint8_t> info(f[kSIInfo].p, f[kSIInfo].p + f[kSIInfo].len);
    std::string why;
    if (!decode(info, &out->info, &why)) return fail(err, kServerIntro, "info: %s", why.c_str());
    if (out->info.intro_id != out->intro_id) return fail(err, kServerIntro, "info for another introduction");
    out->ciphers.clear();
    return decode_ciphers(kServerIntro, f[kSICiphers], &out->ciphers, err);
}

std::vector<uint8_t> encode(const ServerKey &m) {
    Writer w;
    w.put(kSKFrom, reinterpret_cast<const uint8_t *>(m.from.data()), m.from.size());
    w.bytes(kSKKey, encode(m.key));
    return w.take();
}

bool decode(const std::vector<uint8_t> &in, ServerKey *out, std::string *err) {
    Fields f;
    if (!parse_fields(kServerKey, in, kServerKeyFields, &f, err)) return false;
    out->from = get_str(f[kSKFrom]);
    if (!check_name(kServerKey, out->from, err)) return false;
    std::vector<uint8_t> key(f[kSKKey].p, f[kSKKey].p + f[kSKKey].len);
    std::string why;
    if (!decode(key, &out->key, &why)) return fail(err, kServerKey, "key: %s", why.c_str());
    return true;
}

}  // namespace lm
