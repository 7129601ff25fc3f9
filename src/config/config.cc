// SPDX-License-Identifier: MIT
// The configuration file parser: /etc/lanmesh/NET.conf, documented in
// lanmesh.conf(5).  One pass reads lines and parses each value with its
// key's own strict parser; a final pass checks what depends on several keys
// (role, topology, pool) once the whole file is known.  The first error
// stops the parse and is reported as "PATH:LINE: message".
#include "config/config.h"

#include "common/names.h"

#include "config/topology.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <string_view>
#include <utility>

#include "common/might_block.h"

namespace lm {

std::string ServerAddress::str() const {
    if (is_name()) return host + ":" + std::to_string(port);
    return Endpoint{addr, port}.str();
}

const PeerConfig *Config::find_peer(const std::string &name) const {
    for (const auto &p : peers)
        if (p.name == name) return &p;
    return nullptr;
}

namespace {

constexpr size_t kMaxLineBytes = 4096;
constexpr size_t kMaxFileBytes = 1 << 20;
constexpr size_t kMaxDevice = 15;       // IFNAMSIZ - 1
constexpr size_t kQuoteMax = 80;        // longest value echoed in a message

enum class Section { none, network, tls, peer, registry };

const char *section_name(Section s) {
    switch (s) {
    case Section::network: return "Network";
    case Section::tls: return "TLS";
    case Section::peer: return "Peer";
    case Section::registry: return "Registry";
    case Section::none: break;
    }
    return "";
}

constexpr unsigned kServer = 1, kClient = 2, kAnyRole = kServer | kClient;

unsigned role_bit(Role r) { return r == Role::server ? kServer : kClient; }

struct Parser;
using Handler = bool (*)(Parser &, std::string_view value);

// What a reload does with a key's value: the running configuration's fields
// for it, compared and copied as one.
struct Fields {
    bool (*differ)(const Config &, const Config &);
    void (*take)(Config &, const Config &);
};

template <auto... M>
constexpr Fields fields() {
    return {[](const Config &a, const Config &b) { return ((a.*M != b.*M) || ...); },
            [](Config &to, const Config &from) { ((to.*M = from.*M), ...); }};
}

// The same for a key of [Registry]: one field of the optional section.  A
// section added or removed is a change of every one of its keys.
template <auto M>
constexpr Fields registry_field() {
    return {[](const Config &a, const Config &b) {
                if (!a.registry || !b.registry) return a.registry.has_value() != b.registry.has_value();
                return (*a.registry).*M != (*b.registry).*M;
            },
            [](Config &to, const Config &from) {
                if (!from.registry) to.registry.reset();
                else if (!to.registry) to.registry = from.registry;
                else (*to.registry).*M = (*from.registry).*M;
            }};
}

struct KeyDef {
    Section section;
    const char *name;
    bool repeatable;
    unsigned roles;
    Handler handle;
    OnReload reload;
    Fields value;   // the Config fields the key sets; unused for OnReload::role
};

// A key or section that only one role may use, checked once Role is known;
// recorded in file order, so the first misuse is reported.
struct RoleUse {
    int line;
    std::string what;  // "Pool is", "[Peer] sections are"
    unsigned roles;
};

// An inline PEM value of [TLS] (lanmesh.conf(5) INLINE PEM): the lines
// from "Key = -----BEGIN LABEL-----" to "-----END LABEL-----"; for CA and
// Certificate, further blocks may follow at once (a bundle, a chain).
enum class PemKind { certificates, key };

struct InlinePem {
    const char *key = nullptr;  // "CA"
    PemKind kind = PemKind::certificates;
    std::string *text = nullptr;
    std::string label;          // of the open block: "CERTIFICATE"
    int first = 0;              // line of the key
    int start = 0;              // line of the open block's BEGIN
    int body = 0;               // base64 lines in the open block
    bool open = false;          // between BEGIN and END
};

struct PeerLines {
    int name = 0, address = 0;
    std::vector<int> networks;  // parallel to PeerConfig::networks
};

bool is_space(char ch) { return ch == ' ' || ch == '\t'; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

std::vector<std::string_view> split_words(std::string_view s) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && is_space(s[i])) i++;
        size_t start = i;
        while (i < s.size() && !is_space(s[i])) i++;
        if (i > start) out.push_back(s.substr(start, i - start));
    }
    return out;
}

// A value echoed back in a message: cut so a hostile 4 KiB line stays readable.
std::string quote(std::string_view v) {
    if (v.size() <= kQuoteMax) return "'" + std::string(v) + "'";
    return "'" + std::string(v.substr(0, kQuoteMax)) + "...'";
}

bool is_alnum(unsigned char ch) {
    return (ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
}

char lower(char ch) { return ch >= 'A' && ch <= 'Z' ? char(ch - 'A' + 'a') : ch; }

bool equal_nocase(std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

enum class NumResult { ok, syntax, overflow };

// Plain decimal: digits only, no sign, no leading zero (010 is not octal 8 here).
NumResult parse_decimal(std::string_view s, uint64_t *out) {
    if (s.empty() || (s.size() > 1 && s[0] == '0')) return NumResult::syntax;
    uint64_t v = 0;
    for (char ch : s) {
        if (ch < '0' || ch > '9') return NumResult::syntax;
        unsigned d = unsigned(ch - '0');
        if (v > (UINT64_MAX - d) / 10) return NumResult::overflow;
        v = v * 10 + d;
    }
    *out = v;
    return NumResult::ok;
}

bool overlaps(const Prefix &a, const Prefix &b) {
    return a.contains(b.addr) || b.contains(a.addr);
}

std::string dirname_of(const std::string &path) {
    auto slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

// "office" from "/etc/lanmesh/office.conf".
std::string stem_of(const std::string &path) {
    auto slash = path.rfind('/');
    std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    constexpr std::string_view ext = ".conf";
    if (base.size() > ext.size() && base.compare(base.size() - ext.size(), ext.size(), ext) == 0)
        base.resize(base.size() - ext.size());
    return base;
}

struct Parser {
    Parser(const std::string &path, ConfigError *err) : path(path), err(err) {}

    std::optional<Config> run(std::string_view text);

    // Errors.  Each returns false so handlers can `return bad(...)`.
    bool fail_at(int at, const std::string &msg);
    bool bad(const std::string &msg) { return fail_at(line, msg); }

    // Value parsers shared by several keys; `key->name` names the key.
    template <typename T>
    bool integer(std::string_view v, uint64_t lo, uint64_t hi, T *out, const char *range = nullptr);
    bool size(std::string_view v, std::string_view suffixes, uint64_t lo, uint64_t hi, const char *range,
              uint64_t *out);
    template <typename E, size_t N>
    bool keyword(std::string_view v, const std::pair<const char *, E> (&table)[N], E *out);
    bool prefix(std::string_view v, Prefix *out);
    bool address(std::string_view v, IpAddr *out);
    bool absolute_path(std::string_view v, std::string *out);
    bool tls_path(std::string_view v, std::string *out);
    bool tls_source(std::string_view v, PemKind kind, std::string *path, std::string *pem);

    int line_of(const char *name) const;
    PeerConfig &peer() { return c.peers.back(); }
    PeerLines &peer_lines() { return peer_info.back(); }

    const std::string &path;
    ConfigError *err;
    std::string base_dir;     // where relative [TLS] paths start
    Config c;
    int line = 0;
    Section section = Section::none;
    const KeyDef *key = nullptr;
    int network_line = 0, tls_line = 0;
    std::map<const KeyDef *, int> seen;       // [Network] and [TLS]: first line of each key
    std::map<const KeyDef *, int> peer_seen;  // the current [Peer]
    std::vector<RoleUse> role_uses;
    std::vector<PeerLines> peer_info;          // parallel to c.peers
    std::map<std::string, int> peer_names;
    std::map<uint32_t, int> peer_addresses;
    std::set<IpAddr> listen_seen;
    std::set<std::pair<IpAddr, int>> route_seen;
    std::vector<bool> server_port_given;   // parallel to c.servers
    std::optional<InlinePem> pem;          // the inline PEM value being read

private:
    bool parse_line(std::string_view raw);
    bool pem_begin(std::string_view s);
    bool pem_line(std::string_view s);
    bool parse_section(std::string_view s);
    bool parse_assignment(std::string_view s);
    std::string unknown_key(std::string_view k) const;
    bool validate();
    bool validate_roles();
    bool validate_required();
    bool validate_server();
    bool validate_peer_address(size_t i);
    bool validate_registry();
    bool validate_networks();
    void apply_defaults();
};

bool Parser::fail_at(int at, const std::string &msg) {
    if (err) err->message = path + (at > 0 ? ":" + std::to_string(at) : std::string()) + ": " + msg;
    return false;
}

template <typename T>
bool Parser::integer(std::string_view v, uint64_t lo, uint64_t hi, T *out, const char *range) {
    uint64_t n = 0;
    switch (parse_decimal(v, &n)) {
    case NumResult::syntax:
        return bad("bad integer " + quote(v) + " for " + key->name + " (expected a plain decimal number)");
    case NumResult::overflow:
        return bad("integer " + quote(v) + " for " + key->name + " is too large");
    case NumResult::ok:
        break;
    }
    if (n < lo || n > hi)
        return bad(std::string(key->name) + " " + std::to_string(n) + " out of range (" +
                   (range ? std::string(range) : std::to_string(lo) + ".." + std::to_string(hi)) + ")");
    *out = T(n);
    return true;
}

bool Parser::size(std::string_view v, std::string_view suffixes, uint64_t lo, uint64_t hi, const char *range,
                  uint64_t *out) {
    int shift = 0;
    std::string_view digits = v;
    if (!v.empty()) {
        auto pos = suffixes.find(v.back());
        if (pos != std::string_view::npos) {
            shift = 10 * int(pos + 1);
            digits.remove_suffix(1);
        }
    }
    uint64_t n = 0;
    auto r = parse_decimal(digits, &n);
    if (r == NumResult::syntax)
        return bad("bad size " + quote(v) + " for " + key->name + " (expected a decimal number with an optional " +
                   std::string(suffixes) + " suffix)");
    if (r == NumResult::overflow || (shift && n > (UINT64_MAX >> shift)))
        return bad("size " + quote(v) + " for " + key->name + " is too large");
    n <<= shift;
    if (n < lo || n > hi)
        return bad(std::string(key->name) + " " + std::string(v) + " out of range (" + range + ")");
    *out = n;
    return true;
}

template <typename E, size_t N>
bool Parser::keyword(std::string_view v, const std::pair<const char *, E> (&table)[N], E *out) {
    std::string expected;
    for (size_t i = 0; i < N; i++) {
        if (v == table[i].first) {
            *out = table[i].second;
            return true;
        }
        expected += i == 0 ? "" : i + 1 == N ? " or " : ", ";
        expected += table[i].first;
    }
    return bad("bad value " + quote(v) + " for " + key->name + " (expected " + expected + ")");
}

// Says why a prefix is wrong: the usual mistake is an address with host bits.
bool Parser::prefix(std::string_view v, Prefix *out) {
    if (auto p = Prefix::parse(v)) {
        *out = *p;
        return true;
    }
    std::string msg = "bad prefix " + quote(v) + " for " + key->name;
    auto slash = v.find('/');
    if (slash == std::string_view::npos) return bad(msg + " (expected ADDRESS/LENGTH)");
    auto a = IpAddr::parse(v.substr(0, slash));
    if (!a) return bad(msg + " (bad address)");
    uint64_t len = 0;
    if (parse_decimal(v.substr(slash + 1), &len) != NumResult::ok || len > (a->family == AF_INET ? 32u : 128u))
        return bad(msg + " (bad prefix length)");
    return bad(msg + " (host bits set?)");
}

bool Parser::address(std::string_view v, IpAddr *out) {
    auto a = IpAddr::parse(v);
    if (!a) return bad("bad address " + quote(v) + " for " + key->name);
    *out = *a;
    return true;
}

bool Parser::absolute_path(std::string_view v, std::string *out) {
    if (v[0] != '/') return bad(std::string(key->name) + " must be an absolute path, got " + quote(v));
    size_t i = 0;
    while (i < v.size()) {
        auto next = v.find('/', i);
        if (next == std::string_view::npos) next = v.size();
        auto comp = v.substr(i, next - i);
        if (comp == "." || comp == "..")
            return bad(std::string(key->name) + " must not contain '.' or '..' components, got " + quote(v));
        i = next + 1;
    }
    *out = std::string(v);
    return true;
}

constexpr std::string_view kPemBegin = "-----BEGIN ";

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// Relative to the directory of the configuration file, so the daemon finds the
// same files whatever its working directory.
bool Parser::tls_path(std::string_view v, std::string *out) {
    if (starts_with(v, "-----"))
        return bad(std::string(key->name) + " must name a file here (inline PEM blocks are for [TLS] CA, "
                                            "Certificate and Key)");
    if (v[0] == '/') {
        *out = std::string(v);
        return true;
    }
    const std::string_view given = v;
    while (v.size() >= 2 && v.substr(0, 2) == "./") {
        v.remove_prefix(2);
        while (!v.empty() && v[0] == '/') v.remove_prefix(1);
    }
    if (v.empty() || v == "." || v == "..")
        return bad(std::string(key->name) + " must name a file, got " + quote(given));
    *out = base_dir + (base_dir.back() == '/' ? "" : "/") + std::string(v);
    return true;
}

// A [TLS] value that is either a path or the first line of an inline PEM
// block; for a block, *path names where it stands, for messages.
bool Parser::tls_source(std::string_view v, PemKind kind, std::string *path_out, std::string *text) {
    if (!starts_with(v, kPemBegin)) return tls_path(v, path_out);
    pem.emplace();
    pem->key = key->name;
    pem->kind = kind;
    pem->text = text;
    pem->first = line;
    *path_out = path + ":" + std::to_string(line);
    return pem_begin(v);
}

bool Parser::pem_begin(std::string_view s) {
    const std::string k = pem->key;
    if (s.size() <= kPemBegin.size() + 5 || s.substr(s.size() - 5) != "-----")
        return bad("bad PEM line " + quote(s) + " for " + k + " (expected -----BEGIN LABEL-----)");
    auto label = s.substr(kPemBegin.size(), s.size() - kPemBegin.size() - 5);
    if (pem->kind == PemKind::certificates && label != "CERTIFICATE")
        return bad(k + ": expected -----BEGIN CERTIFICATE-----, got " + quote(s));
    if (pem->kind == PemKind::key) {
        if (label == "ENCRYPTED PRIVATE KEY")
            return bad("Key: the key is encrypted; an unencrypted key is needed (openssl pkey -in KEY)");
        if (label != "PRIVATE KEY" && label != "EC PRIVATE KEY" && label != "RSA PRIVATE KEY")
            return bad("Key: expected -----BEGIN PRIVATE KEY----- (or EC PRIVATE KEY, RSA PRIVATE KEY), got " +
                       quote(s));
    }
    pem->label = std::string(label);
    pem->start = line;
    pem->body = 0;
    pem->open = true;
    pem->text->append(s).push_back('\n');
    return true;
}

// One line inside BEGIN..END: base64, or the END line.  PEM headers
// (RFC 1421's "Proc-Type: 4,ENCRYPTED") only come with encrypted keys.
bool Parser::pem_line(std::string_view s) {
    const std::string where = "the PEM block of " + std::string(pem->key) + " (line " + std::to_string(pem->start) + ")";
    if (s.empty()) return bad("empty line inside " + where);
    if (starts_with(s, "-----")) {
        std::string end = "-----END " + pem->label + "-----";
        if (s != end) return bad("expected " + end + " to close " + where + ", got " + quote(s));
        if (pem->body == 0) return bad("no base64 lines in " + where);
        pem->text->append(s).push_back('\n');
        pem->open = false;
        return true;
    }
    if (s.find(':') != std::string_view::npos)
        return bad("PEM header " + quote(s) + " inside " + where +
                   ": an encrypted key? an unencrypted key is needed");
    for (unsigned char ch : s)
        if (!is_alnum(ch) && ch != '+' && ch != '/' && ch != '=')
            return bad("expected base64 (A-Z a-z 0-9 + / =) or -----END " + pem->label + "----- inside " + where +
                       ", got " + quote(s));
    pem->body++;
    pem->text->append(s).push_back('\n');
    return true;
}

int Parser::line_of(const char *name) const {
    for (const auto &[def, at] : seen)
        if (std::strcmp(def->name, name) == 0) return at;
    return 0;
}

// ---- Handlers, one per key -------------------------------------------------

bool h_role(Parser &p, std::string_view v) {
    static const std::pair<const char *, Role> t[] = {{"server", Role::server}, {"client", Role::client}};
    return p.keyword(v, t, &p.c.role);
}

bool h_device(Parser &p, std::string_view v) {
    bool ok = !v.empty() && v.size() <= kMaxDevice && v != "." && v != "..";
    for (unsigned char ch : v)
        if (!is_alnum(ch) && ch != '_' && ch != '.' && ch != '-') ok = false;
    if (!ok)
        return p.bad("bad interface name " + quote(v) +
                     " for Device (1-15 characters of A-Z a-z 0-9 _ . -, not '.' or '..')");
    p.c.device = std::string(v);
    return true;
}

bool h_topology(Parser &p, std::string_view v) {
    static const std::pair<const char *, Topology> t[] = {
        {"net30", Topology::net30}, {"p2p", Topology::p2p}, {"subnet", Topology::subnet}};
    return p.keyword(v, t, &p.c.topology);
}

bool h_pool(Parser &p, std::string_view v) {
    Prefix pf;
    if (!p.prefix(v, &pf)) return false;
    if (pf.addr.family != AF_INET) return p.bad("Pool must be an IPv4 prefix, got " + quote(v) + " (use Pool6)");
    p.c.pool = pf;  // the length is checked against Topology at the end
    return true;
}

bool h_pool6(Parser &p, std::string_view v) {
    Prefix pf;
    if (!p.prefix(v, &pf)) return false;
    if (pf.addr.family != AF_INET6) return p.bad("Pool6 must be an IPv6 prefix, got " + quote(v) + " (use Pool)");
    if (pf.len < kMinPool6Len || pf.len > kMaxPool6Len)
        return p.bad("Pool6 prefix length /" + std::to_string(pf.len) + " out of range (/" +
                     std::to_string(kMinPool6Len) + "../" + std::to_string(kMaxPool6Len) + ")");
    p.c.pool6 = pf;
    return true;
}

bool h_listen(Parser &p, std::string_view v) {
    for (auto w : split_words(v)) {
        IpAddr a;
        if (!p.address(w, &a)) return false;
        if (is_multicast(a)) return p.bad("Listen address " + a.str() + " is a multicast address");
        if (!p.listen_seen.insert(a).second) return p.bad("duplicate Listen address " + a.str());
        p.c.listen.push_back(a);
    }
    return true;
}

// "2001:db8:ffff::1:4500" is an address, but reads just as well as
// 2001:db8:ffff::1 with port 4500: when both readings are valid, the user
// must say which with brackets rather than get the one they did not mean.
static bool ambiguous_v6_with_port(std::string_view v) {
    if (v.empty() || v[0] == '[' || v.find(':') == v.rfind(':')) return false;
    size_t colon = v.rfind(':');
    std::string_view port = v.substr(colon + 1);
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos)
        return false;
    unsigned n = unsigned(std::stoul(std::string(port)));
    return n >= 1 && n <= 65535 && IpAddr::parse(v.substr(0, colon)).has_value();
}

// A DNS host name as RFC 1123 allows it (letters, digits, hyphens; labels
// of 1-63, 253 in all, an optional final dot), whose last label is not all
// digits (RFC 3696 §2): "192.0.2" must not be read as a name.
static bool valid_host_name(std::string_view v) {
    if (!v.empty() && v.back() == '.') v.remove_suffix(1);
    if (v.empty() || v.size() > 253) return false;
    size_t start = 0;
    bool last_numeric = true;
    while (start <= v.size()) {
        size_t dot = v.find('.', start);
        if (dot == std::string_view::npos) dot = v.size();
        std::string_view label = v.substr(start, dot - start);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
        last_numeric = true;
        for (unsigned char ch : label) {
            if (!is_alnum(ch) && ch != '-') return false;
            if (ch < '0' || ch > '9') last_numeric = false;
        }
        start = dot + 1;
    }
    return !last_numeric;
}

// One server of the client's list: an address or a host name, with or
// without a port.
static bool parse_one_server(Parser &p, std::string_view v) {
    if (ambiguous_v6_with_port(v)) {
        size_t colon = v.rfind(':');
        return p.bad("ambiguous Server " + quote(v) + ": write [" + std::string(v.substr(0, colon)) + "]:" +
                     std::string(v.substr(colon + 1)) + " for an address and port, or [" + std::string(v) +
                     "] for an address alone");
    }
    // The default port is ControlPort, which may come later in the file: parse
    // with a placeholder and fill it in at the end.
    auto e = Endpoint::parse(v);
    bool port_given = e.has_value();
    if (!e) e = Endpoint::parse(v, 1);
    ServerAddress sa;
    if (e) {
        if (is_unspecified(e->addr) || is_multicast(e->addr))
            return p.bad("Server address " + e->addr.str() + " is not a unicast address");
        sa = ServerAddress{"", e->addr, e->port};
    } else {
        // A host name, with or without a port: names have no colon.
        std::string_view host = v;
        uint16_t n = 1;
        bool ok = true;
        if (size_t colon = v.find(':'); colon != std::string_view::npos) {
            host = v.substr(0, colon);
            std::string_view port = v.substr(colon + 1);
            ok = !port.empty() && port.size() <= 5 && port.find_first_not_of("0123456789") == std::string_view::npos;
            unsigned long x = ok ? std::stoul(std::string(port)) : 0;
            ok = ok && x >= 1 && x <= 65535;
            n = uint16_t(x);
            port_given = true;
        }
        if (!ok || !valid_host_name(host))
            return p.bad("bad Server " + quote(v) + " (expected HOST, HOST:PORT, ADDRESS, IPv4:PORT or [IPv6]:PORT)");
        sa = ServerAddress{std::string(host), IpAddr{}, n};
    }
    // The same server twice would only be tried twice in a row.
    for (size_t i = 0; i < p.c.servers.size(); i++) {
        const ServerAddress &o = p.c.servers[i];
        if (o.host == sa.host && o.addr == sa.addr && (!port_given || !p.server_port_given[i] || o.port == sa.port))
            return p.bad("Server " + quote(v) + " is listed twice");
    }
    if (p.c.servers.size() >= kMaxServers)
        return p.bad("more than " + std::to_string(kMaxServers) + " servers listed");
    p.c.servers.push_back(sa);
    p.server_port_given.push_back(port_given);
    return true;
}

// Several servers of one network (docs/DESIGN.md §11): the key may be given
// several times and each value may list several, separated by spaces.
bool h_server(Parser &p, std::string_view v) {
    auto words = split_words(v);
    if (words.empty()) return p.bad("Server needs an address or host name");
    for (auto w : words)
        if (!parse_one_server(p, w)) return false;
    return true;
}

bool h_server_name(Parser &p, std::string_view v) {
    bool ok = v.size() <= kMaxPeerName;
    for (unsigned char ch : v)
        if (ch < 0x20 || ch > 0x7e) ok = false;
    if (!ok) return p.bad("bad ServerName " + quote(v) + " (1-64 printable ASCII characters)");
    p.c.server_name = std::string(v);
    return true;
}

bool h_control_port(Parser &p, std::string_view v) { return p.integer(v, 1, 65535, &p.c.control_port); }
bool h_data_port(Parser &p, std::string_view v) { return p.integer(v, 1, 65535, &p.c.data_port); }

bool h_client_to_client(Parser &p, std::string_view v) {
    static const std::pair<const char *, ClientToClient> t[] = {
        {"off", ClientToClient::off}, {"relay", ClientToClient::relay}, {"direct", ClientToClient::direct}};
    return p.keyword(v, t, &p.c.client_to_client);
}

bool h_ciphers(Parser &p, std::string_view v) {
    std::vector<Cipher> list;
    for (auto w : split_words(v)) {
        auto ci = cipher_from_string(std::string(w));
        if (!ci)
            return p.bad("unknown cipher " + quote(w) + " in Ciphers (expected aes-256-gcm or chacha20-poly1305)");
        if (std::find(list.begin(), list.end(), *ci) != list.end())
            return p.bad("duplicate cipher " + quote(w) + " in Ciphers");
        list.push_back(*ci);
    }
    p.c.ciphers = std::move(list);
    return true;
}

bool h_encapsulation(Parser &p, std::string_view v) {
    static const std::pair<const char *, Encapsulation> t[] = {
        {"auto", Encapsulation::auto_}, {"udp", Encapsulation::udp}, {"raw", Encapsulation::raw},
        {"tls", Encapsulation::tls}};
    return p.keyword(v, t, &p.c.encapsulation);
}

bool h_workers(Parser &p, std::string_view v) {
    if (v == "auto") {
        p.c.workers = 0;
        return true;
    }
    return p.integer(v, 1, kMaxWorkers, &p.c.workers, "auto or 1..64");
}

bool h_mtu(Parser &p, std::string_view v) {
    if (v == "0") {
        p.c.mtu = 0;  // automatic
        return true;
    }
    return p.integer(v, 576, 9000, &p.c.mtu, "576..9000, or 0 for automatic");
}

// A full tunnel's firewall mark and routing table (net/policy_rules.h).
bool h_fwmark(Parser &p, std::string_view v) {
    if (v == "off") {
        p.c.fwmark = 0;
        return true;
    }
    return p.integer(v, 1, 0xffffffffu, &p.c.fwmark, "1..4294967295, or off");
}

bool h_route(Parser &p, std::string_view v) {
    for (auto w : split_words(v)) {
        Prefix pf;
        if (!p.prefix(w, &pf)) return false;
        if (!p.route_seen.insert({pf.addr, pf.len}).second) return p.bad("duplicate Route " + pf.str());
        p.c.routes.push_back(pf);
    }
    return true;
}

bool h_keepalive(Parser &p, std::string_view v) {
    auto w = split_words(v);
    if (w.size() != 2)
        return p.bad("bad value " + quote(v) + " for Keepalive (expected two numbers: INTERVAL TIMEOUT)");
    int interval = 0, timeout = 0;
    if (!p.integer(w[0], 1, 3600, &interval) || !p.integer(w[1], 1, 3600, &timeout)) return false;
    if (timeout < 2 * interval)
        return p.bad("Keepalive timeout " + std::to_string(timeout) + " must be at least twice the interval " +
                     std::to_string(interval));
    p.c.keepalive_interval = interval;
    p.c.keepalive_timeout = timeout;
    return true;
}

bool h_nat_keepalive(Parser &p, std::string_view v) { return p.integer(v, 1, 3600, &p.c.nat_keepalive); }
bool h_handshake_timeout(Parser &p, std::string_view v) { return p.integer(v, 1, 300, &p.c.handshake_timeout); }
bool h_rekey_time(Parser &p, std::string_view v) { return p.integer(v, 10, 86400, &p.c.rekey_after_time); }
bool h_rekey_grace(Parser &p, std::string_view v) { return p.integer(v, 1, 3600, &p.c.rekey_grace); }

bool h_rekey_bytes(Parser &p, std::string_view v) {
    return p.size(v, "KMGT", 1ull << 20, 1ull << 50, "1M..1048576G, i.e. 1048576..1125899906842624 bytes",
                  &p.c.rekey_after_bytes);
}

bool h_rekey_packets(Parser &p, std::string_view v) {
    return p.size(v, "KMG", 1000, 1ull << 31, "1000..2G, i.e. 1000..2147483648 packets", &p.c.rekey_after_packets);
}

bool h_state_dir(Parser &p, std::string_view v) { return p.absolute_path(v, &p.c.state_directory); }
bool h_runtime_dir(Parser &p, std::string_view v) { return p.absolute_path(v, &p.c.runtime_directory); }
bool h_debug_key_file(Parser &p, std::string_view v) { return p.absolute_path(v, &p.c.debug_key_file); }

bool h_metrics_listen(Parser &p, std::string_view v) {
    if (!v.empty() && v[0] == '/') return p.absolute_path(v, &p.c.metrics_unix);
    auto e = Endpoint::parse(v);
    if (!e)
        return p.bad("bad value " + quote(v) +
                     " for MetricsListen (expected IPv4:PORT, [IPv6]:PORT or an absolute socket path)");
    if (is_multicast(e->addr)) return p.bad("MetricsListen address " + e->addr.str() + " is a multicast address");
    p.c.metrics_tcp = *e;
    return true;
}

bool h_log_level(Parser &p, std::string_view v) {
    static const std::pair<const char *, int> t[] = {{"debug", 0}, {"info", 1}, {"warning", 2}, {"error", 3}};
    int level = 0;
    if (!p.keyword(v, t, &level)) return false;
    p.c.log_level = t[level].first;
    return true;
}

// A system user name as useradd(8) accepts it by default, so the value can be
// looked up with getpwnam() without surprises.
bool h_user(Parser &p, std::string_view v) {
    bool ok = v.size() <= 32 && ((v[0] >= 'a' && v[0] <= 'z') || v[0] == '_');
    for (unsigned char ch : v)
        if (!(ch >= 'a' && ch <= 'z') && !(ch >= '0' && ch <= '9') && ch != '_' && ch != '-') ok = false;
    if (!ok)
        return p.bad("bad user name " + quote(v) +
                     " for User (1-32 characters of a-z 0-9 _ -, starting with a letter or _)");
    p.c.user = std::string(v);
    return true;
}

bool h_ca(Parser &p, std::string_view v) { return p.tls_source(v, PemKind::certificates, &p.c.ca, &p.c.ca_pem); }
bool h_certificate(Parser &p, std::string_view v) {
    return p.tls_source(v, PemKind::certificates, &p.c.certificate, &p.c.certificate_pem);
}
bool h_key(Parser &p, std::string_view v) { return p.tls_source(v, PemKind::key, &p.c.key, &p.c.key_pem); }
bool h_crl(Parser &p, std::string_view v) { return p.tls_path(v, &p.c.crl); }

bool h_remote_cert_tls(Parser &p, std::string_view v) {
    static const std::pair<const char *, bool> t[] = {{"yes", true}, {"no", false}};
    return p.keyword(v, t, &p.c.remote_cert_tls);
}

// [Registry]: etcd endpoints and how this server appears there.
RegistryConfig &registry(Parser &p) { return *p.c.registry; }

bool h_registry_endpoint(Parser &p, std::string_view v) {
    for (auto w : split_words(v)) {
        std::string why;
        auto u = HttpUrl::parse(w, &why);
        if (!u) return p.bad("bad Endpoint " + why);
        registry(p).endpoints.push_back(*u);
    }
    return true;
}

// etcd takes any bytes as a key; lanmesh's keys are read by people with
// etcdctl, so the prefix is plain text: /name/name/.
bool h_registry_prefix(Parser &p, std::string_view v) {
    bool ok = v.size() >= 2 && v.size() <= 128 && v.front() == '/' && v.back() == '/' && v.find("//") == v.npos;
    for (unsigned char ch : v)
        if (!is_alnum(ch) && ch != '/' && ch != '_' && ch != '-' && ch != '.') ok = false;
    if (!ok)
        return p.bad("bad Prefix " + quote(v) +
                     " (a key path such as /lanmesh/office/: starts and ends with '/', 2-128 characters of "
                     "A-Z a-z 0-9 _ - . /)");
    registry(p).prefix = std::string(v);
    return true;
}

bool h_registry_name(Parser &p, std::string_view v) {
    bool ok = v.size() <= kMaxPeerName;
    for (unsigned char ch : v)
        if (!is_alnum(ch) && ch != '_' && ch != '.' && ch != '-') ok = false;
    if (!ok) return p.bad("bad Name " + quote(v) + " (1-64 characters of A-Z a-z 0-9 _ . -)");
    registry(p).name = std::string(v);
    return true;
}

bool h_registry_ttl(Parser &p, std::string_view v) { return p.integer(v, 5, 300, &registry(p).ttl); }
bool h_registry_ca(Parser &p, std::string_view v) { return p.tls_path(v, &registry(p).ca); }
bool h_registry_certificate(Parser &p, std::string_view v) { return p.tls_path(v, &registry(p).certificate); }
bool h_registry_key(Parser &p, std::string_view v) { return p.tls_path(v, &registry(p).key); }
bool h_registry_peer_address(Parser &p, std::string_view v) {
    IpAddr a;
    if (!p.address(v, &a)) return false;
    bool zero = std::all_of(a.b, a.b + a.len(), [](uint8_t x) { return x == 0; });
    if (zero || is_multicast(a))
        return p.bad("PeerAddress " + a.str() + " is not an address other servers can reach");
    registry(p).peer_address = a;
    return true;
}
bool h_registry_peer_port(Parser &p, std::string_view v) { return p.integer(v, 1, 65535, &registry(p).peer_port); }

bool h_peer_name(Parser &p, std::string_view v) {
    if (!valid_peer_name(v)) return p.bad("bad peer Name " + quote(v) + " (" + kPeerNameRule + ")");
    std::string name(v);
    auto [it, fresh] = p.peer_names.emplace(name, p.line);
    if (!fresh)
        return p.bad("duplicate peer Name '" + name + "' (first at line " + std::to_string(it->second) + ")");
    p.peer().name = name;
    p.peer_lines().name = p.line;
    return true;
}

bool h_peer_address(Parser &p, std::string_view v) {
    IpAddr a;
    if (!p.address(v, &a)) return false;
    if (a.family != AF_INET) return p.bad("peer Address must be an IPv4 address inside Pool, got " + quote(v));
    auto [it, fresh] = p.peer_addresses.emplace(a.v4_host(), p.line);
    if (!fresh)
        return p.bad("peer Address " + a.str() + " already given to another peer (line " +
                     std::to_string(it->second) + ")");
    p.peer().address = a;  // checked against Pool and Topology at the end
    p.peer_lines().address = p.line;
    return true;
}

bool h_peer_network(Parser &p, std::string_view v) {
    for (auto w : split_words(v)) {
        Prefix pf;
        if (!p.prefix(w, &pf)) return false;
        p.peer().networks.push_back(pf);  // overlaps are checked at the end
        p.peer_lines().networks.push_back(p.line);
    }
    return true;
}

// The one table of keys.  Order is the order of lanmesh.conf(5).
constexpr KeyDef kKeys[] = {
    {Section::network, "Role", false, kAnyRole, h_role, OnReload::restart, fields<&Config::role>()},
    {Section::network, "Device", false, kAnyRole, h_device, OnReload::restart, fields<&Config::device>()},
    {Section::network, "Topology", false, kServer, h_topology, OnReload::restart, fields<&Config::topology>()},
    {Section::network, "Pool", false, kServer, h_pool, OnReload::restart, fields<&Config::pool>()},
    {Section::network, "Pool6", false, kServer, h_pool6, OnReload::restart, fields<&Config::pool6>()},
    {Section::network, "Listen", true, kServer, h_listen, OnReload::restart, fields<&Config::listen>()},
    {Section::network, "Server", true, kClient, h_server, OnReload::restart, fields<&Config::servers>()},
    {Section::network, "ServerName", false, kClient, h_server_name, OnReload::restart, fields<&Config::server_name>()},
    {Section::network, "ControlPort", false, kAnyRole, h_control_port, OnReload::restart, fields<&Config::control_port>()},
    {Section::network, "DataPort", false, kAnyRole, h_data_port, OnReload::restart, fields<&Config::data_port>()},
    {Section::network, "ClientToClient", false, kServer, h_client_to_client, OnReload::restart, fields<&Config::client_to_client>()},
    {Section::network, "Ciphers", false, kAnyRole, h_ciphers, OnReload::live, fields<&Config::ciphers>()},
    {Section::network, "Encapsulation", false, kAnyRole, h_encapsulation, OnReload::restart, fields<&Config::encapsulation>()},
    {Section::network, "MTU", false, kAnyRole, h_mtu, OnReload::restart, fields<&Config::mtu>()},
    {Section::network, "Workers", false, kAnyRole, h_workers, OnReload::restart, fields<&Config::workers>()},
    {Section::network, "Route", true, kServer, h_route, OnReload::live, fields<&Config::routes>()},
    {Section::network, "FwMark", false, kClient, h_fwmark, OnReload::restart, fields<&Config::fwmark>()},
    {Section::network, "Keepalive", false, kAnyRole, h_keepalive, OnReload::live, fields<&Config::keepalive_interval, &Config::keepalive_timeout>()},
    {Section::network, "NatKeepalive", false, kAnyRole, h_nat_keepalive, OnReload::live, fields<&Config::nat_keepalive>()},
    {Section::network, "HandshakeTimeout", false, kAnyRole, h_handshake_timeout, OnReload::live, fields<&Config::handshake_timeout>()},
    {Section::network, "RekeyAfterTime", false, kAnyRole, h_rekey_time, OnReload::live, fields<&Config::rekey_after_time>()},
    {Section::network, "RekeyAfterBytes", false, kAnyRole, h_rekey_bytes, OnReload::live, fields<&Config::rekey_after_bytes>()},
    {Section::network, "RekeyAfterPackets", false, kAnyRole, h_rekey_packets, OnReload::live, fields<&Config::rekey_after_packets>()},
    {Section::network, "RekeyGrace", false, kAnyRole, h_rekey_grace, OnReload::live, fields<&Config::rekey_grace>()},
    {Section::network, "StateDirectory", false, kAnyRole, h_state_dir, OnReload::restart, fields<&Config::state_directory>()},
    {Section::network, "RuntimeDirectory", false, kAnyRole, h_runtime_dir, OnReload::restart, fields<&Config::runtime_directory>()},
    {Section::network, "DebugKeyFile", false, kAnyRole, h_debug_key_file, OnReload::restart, fields<&Config::debug_key_file>()},
    {Section::network, "MetricsListen", false, kAnyRole, h_metrics_listen, OnReload::restart, fields<&Config::metrics_tcp, &Config::metrics_unix>()},
    {Section::network, "LogLevel", false, kAnyRole, h_log_level, OnReload::live, fields<&Config::log_level>()},
    {Section::network, "User", false, kAnyRole, h_user, OnReload::restart, fields<&Config::user>()},
    {Section::tls, "CA", false, kAnyRole, h_ca, OnReload::role, {}},
    {Section::tls, "Certificate", false, kAnyRole, h_certificate, OnReload::role, {}},
    {Section::tls, "Key", false, kAnyRole, h_key, OnReload::role, {}},
    {Section::tls, "CRL", false, kAnyRole, h_crl, OnReload::live, fields<&Config::crl>()},
    {Section::tls, "RemoteCertTls", false, kAnyRole, h_remote_cert_tls, OnReload::role, {}},
    {Section::peer, "Name", false, kServer, h_peer_name, OnReload::role, {}},
    {Section::peer, "Address", false, kServer, h_peer_address, OnReload::role, {}},
    {Section::peer, "Network", true, kServer, h_peer_network, OnReload::role, {}},
    {Section::registry, "Endpoint", true, kServer, h_registry_endpoint, OnReload::restart, registry_field<&RegistryConfig::endpoints>()},
    {Section::registry, "Prefix", false, kServer, h_registry_prefix, OnReload::restart, registry_field<&RegistryConfig::prefix>()},
    {Section::registry, "Name", false, kServer, h_registry_name, OnReload::restart, registry_field<&RegistryConfig::name>()},
    {Section::registry, "TTL", false, kServer, h_registry_ttl, OnReload::restart, registry_field<&RegistryConfig::ttl>()},
    {Section::registry, "CA", false, kServer, h_registry_ca, OnReload::restart, registry_field<&RegistryConfig::ca>()},
    {Section::registry, "Certificate", false, kServer, h_registry_certificate, OnReload::restart, registry_field<&RegistryConfig::certificate>()},
    {Section::registry, "Key", false, kServer, h_registry_key, OnReload::restart, registry_field<&RegistryConfig::key>()},
    {Section::registry, "PeerAddress", false, kServer, h_registry_peer_address, OnReload::restart, registry_field<&RegistryConfig::peer_address>()},
    {Section::registry, "PeerPort", false, kServer, h_registry_peer_port, OnReload::restart, registry_field<&RegistryConfig::peer_port>()},
};

// Every key says what a reload does with it, and a key the reload compares or
// copies names its fields (a row without them would read as `live`).
constexpr bool every_key_has_reload_fields() {
    for (const auto &k : kKeys)
        if (k.reload != OnReload::role && (!k.value.differ || !k.value.take)) return false;
    return true;
}
static_assert(every_key_has_reload_fields(), "a key in kKeys lacks its OnReload fields");

const KeyDef *find_key(Section s, std::string_view name) {
    for (const auto &k : kKeys)
        if (k.section == s && name == k.name) return &k;
    return nullptr;
}

// ---- Lines -----------------------------------------------------------------

std::optional<Config> Parser::run(std::string_view text) {
    if (text.size() > kMaxFileBytes) {
        fail_at(0, "file too large (" + std::to_string(text.size()) + " bytes, limit " +
                       std::to_string(kMaxFileBytes) + ")");
        return std::nullopt;
    }
    c.file = path;
    c.net = stem_of(path);
    if (!valid_net_name(c.net)) {
        fail_at(0, "bad network name " + quote(c.net) + ": the file must be named NET.conf, NET being " +
                       kNetNameRule);
        return std::nullopt;
    }
    base_dir = dirname_of(path);
    if (base_dir[0] != '/') {
        char cwd[PATH_MAX];
        if (getcwd(cwd, sizeof cwd)) base_dir = std::string(cwd) + (base_dir == "." ? "" : "/" + base_dir);
    }

    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        size_t end = nl == std::string_view::npos ? text.size() : nl;
        line++;
        if (!parse_line(text.substr(pos, end - pos))) return std::nullopt;
        pos = end + 1;
    }
    if (pem && pem->open) {
        fail_at(pem->start, "the PEM block of " + std::string(pem->key) + " has no -----END " + pem->label +
                                "----- line");
        return std::nullopt;
    }
    if (!validate()) return std::nullopt;
    return std::move(c);
}

bool Parser::parse_line(std::string_view raw) {
    if (raw.size() > kMaxLineBytes)
        return bad("line too long (" + std::to_string(raw.size()) + " bytes, limit " +
                   std::to_string(kMaxLineBytes) + ")");
    if (raw.find('\0') != std::string_view::npos) return bad("NUL byte in line");
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);  // CRLF files
    for (unsigned char ch : raw) {
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
            char hex[8];
            std::snprintf(hex, sizeof hex, "0x%02x", ch);
            return bad(std::string("control character ") + hex + " in line");
        }
    }
    auto s = trim(raw);
    if (pem) {
        if (pem->open) return pem_line(s);
        if (starts_with(s, kPemBegin)) {
            if (pem->kind == PemKind::key)
                return bad("a second PEM block after the Key of line " + std::to_string(pem->first) +
                           " (Key holds one private key)");
            return pem_begin(s);
        }
        pem.reset();
    }
    if (s.empty() || s[0] == '#' || s[0] == ';') return true;
    if (s[0] == '[') return parse_section(s);
    return parse_assignment(s);
}

bool Parser::parse_section(std::string_view s) {
    if (s.size() < 2 || s.back() != ']')
        return bad("bad section header " + quote(s) + " (expected [Network], [TLS], [Peer] or [Registry])");
    auto name = s.substr(1, s.size() - 2);
    Section sec = Section::none;
    constexpr Section kSections[] = {Section::network, Section::tls, Section::peer, Section::registry};
    for (Section cand : kSections) {
        if (name == section_name(cand)) sec = cand;
    }
    if (sec == Section::none) {
        std::string hint = " (expected [Network], [TLS], [Peer] or [Registry])";
        for (Section cand : kSections)
            if (equal_nocase(name, section_name(cand)))
                hint = std::string(" (did you mean [") + section_name(cand) + "]?)";
        return bad("unknown section [" + std::string(name.substr(0, kQuoteMax)) + "]" + hint);
    }
    section = sec;
    if (sec == Section::network || sec == Section::tls) {
        int &first = sec == Section::network ? network_line : tls_line;
        if (first)
            return bad(std::string("duplicate section [") + section_name(sec) + "] (first at line " +
                       std::to_string(first) + ")");
        first = line;
        return true;
    }
    if (sec == Section::registry) {
        if (c.registry)
            return bad("duplicate section [Registry] (first at line " + std::to_string(c.registry->line) + ")");
        c.registry.emplace();
        c.registry->line = line;
        role_uses.push_back({line, "[Registry] is", kServer});
        return true;
    }
    c.peers.emplace_back();
    peer().line = line;
    peer_info.emplace_back();
    peer_seen.clear();
    role_uses.push_back({line, "[Peer] sections are", kServer});
    return true;
}

std::string Parser::unknown_key(std::string_view k) const {
    std::string msg = "unknown key '" + std::string(k) + "' in [" + section_name(section) + "]";
    for (const auto &def : kKeys) {
        if (def.section == section && equal_nocase(k, def.name))
            return msg + " (did you mean '" + def.name + "'?)";
    }
    for (const auto &def : kKeys) {
        if (def.section != section && k == def.name)
            return msg + " (it belongs in [" + section_name(def.section) + "])";
    }
    return msg;
}

bool Parser::parse_assignment(std::string_view s) {
    auto eq = s.find('=');
    if (eq == std::string_view::npos)
        return bad("expected 'Key = Value', a [Section] header or a comment, got " + quote(s));
    auto k = trim(s.substr(0, eq));
    auto v = trim(s.substr(eq + 1));
    if (k.empty()) return bad("missing key name before '='");
    for (unsigned char ch : k)
        if (!is_alnum(ch)) return bad("bad key name " + quote(k));
    if (section == Section::none)
        return bad("key '" + std::string(k) + "' outside of any section (put it under [Network], [TLS] or [Peer])");
    const KeyDef *def = find_key(section, k);
    if (!def) return bad(unknown_key(k));
    if (v.empty()) return bad(std::string("empty value for ") + def->name);
    if (v.find_first_of("#;") != std::string_view::npos)
        return bad(std::string("'#' or ';' in the value of ") + def->name +
                   ": comments must be on a line of their own");
    auto &first = section == Section::peer ? peer_seen : seen;
    auto [it, fresh] = first.emplace(def, line);
    if (!fresh && !def->repeatable)
        return bad(std::string("duplicate key '") + def->name + "' in [" + section_name(section) +
                   "] (first at line " + std::to_string(it->second) + ")");
    if (def->roles != kAnyRole && section != Section::peer && section != Section::registry)
        role_uses.push_back({line, std::string(def->name) + " is", def->roles});
    key = def;
    return def->handle(*this, v);
}

// ---- Whole-file checks -----------------------------------------------------

bool Parser::validate() {
    if (!line_of("Role")) return fail_at(network_line, "[Network] Role is required");
    if (!validate_roles() || !validate_required()) return false;
    if (c.role == Role::server && !validate_server()) return false;
    if (int at = std::max(line_of("RekeyGrace"), line_of("RekeyAfterTime"));
        at && c.rekey_grace >= c.rekey_after_time)
        return fail_at(at, "RekeyGrace (" + std::to_string(c.rekey_grace) +
                               " s) must be shorter than RekeyAfterTime (" + std::to_string(c.rekey_after_time) +
                               " s)");
    apply_defaults();
    return true;
}

bool Parser::validate_roles() {
    for (const auto &u : role_uses) {
        if (!(u.roles & role_bit(c.role)))
            return fail_at(u.line, u.what + " only valid for Role = " +
                                       (u.roles == kServer ? "server" : "client"));
    }
    return true;
}

bool Parser::validate_required() {
    int role_line = line_of("Role");
    if (c.role == Role::server && !c.pool) return fail_at(role_line, "Pool is required for Role = server");
    if (c.role == Role::client && c.servers.empty()) return fail_at(role_line, "Server is required for Role = client");
    if (c.role == Role::client && c.server_name.empty())
        return fail_at(role_line, "ServerName is required for Role = client");
    const std::pair<const char *, const std::string *> tls[] = {
        {"CA", &c.ca}, {"Certificate", &c.certificate}, {"Key", &c.key}};
    for (const auto &[name, value] : tls) {
        if (value->empty()) return fail_at(tls_line, std::string("[TLS] ") + name + " is required");
    }
    return true;
}

bool Parser::validate_server() {
    int lo = kMinPoolLen, hi = max_pool_len(c.topology);
    if (c.pool->len < lo || c.pool->len > hi)
        return fail_at(line_of("Pool"), "Pool prefix length /" + std::to_string(c.pool->len) +
                                             " out of range for Topology = " + to_string(c.topology) + " (/" +
                                             std::to_string(lo) + "../" + std::to_string(hi) + ")");
    if (c.pool6 && c.topology != Topology::subnet)
        return fail_at(line_of("Pool6"), std::string("Pool6 requires Topology = subnet, not ") +
                                             to_string(c.topology));
    if (c.pool6 && c.mtu != 0 && c.mtu < 1280)
        return fail_at(line_of("MTU"),
                       "MTU " + std::to_string(c.mtu) + " is below 1280, the IPv6 minimum (Pool6 is set)");
    // Every route a client is given travels in one CONFIG message, which
    // carries at most kMaxPushedRoutes of them besides the topology's own.
    size_t pushed = c.routes.size();
    for (auto &pc : c.peers) pushed += pc.networks.size();
    if (pushed > kMaxPushedRoutes)
        return fail_at(line_of("Route"), "too many routes: Route and [Peer] Network add up to " +
                                             std::to_string(pushed) + ", at most " +
                                             std::to_string(kMaxPushedRoutes));
    for (size_t i = 0; i < c.peers.size(); i++) {
        if (!peer_info[i].name) return fail_at(c.peers[i].line, "[Peer] without Name");
        if (c.peers[i].address && !validate_peer_address(i)) return false;
    }
    if (c.registry && !validate_registry()) return false;
    return validate_networks();
}

bool Parser::validate_registry() {
    const RegistryConfig &r = *c.registry;
    if (r.endpoints.empty()) return fail_at(r.line, "[Registry] needs at least one Endpoint (etcd's client URL)");
    bool https = std::any_of(r.endpoints.begin(), r.endpoints.end(), [](const HttpUrl &u) { return u.tls; });
    if (https && r.ca.empty())
        return fail_at(r.line, "[Registry] CA is required for an https:// Endpoint (the CA of etcd's certificates)");
    if (!https && (!r.ca.empty() || !r.certificate.empty()))
        return fail_at(r.line, "[Registry] CA and Certificate are for https:// endpoints; every Endpoint is http://");
    if (r.certificate.empty() != r.key.empty())
        return fail_at(r.line, "[Registry] Certificate and Key go together (etcd's client certificate)");
    if (r.peer_address.is_set() && r.peer_port == c.control_port)
        return fail_at(r.line, "[Registry] PeerPort " + std::to_string(r.peer_port) +
                                   " is the ControlPort: the server-to-server channel needs a port of its own");
    return true;
}

// Which pool addresses a client may own depends on the topology; see
// TOPOLOGIES in lanmesh.conf(5).
bool Parser::validate_peer_address(size_t i) {
    const IpAddr &a = *c.peers[i].address;
    int at = peer_info[i].address;
    const Prefix &pool = *c.pool;
    if (!pool.contains(a)) return fail_at(at, "peer Address " + a.str() + " is outside Pool " + pool.str());
    uint32_t off = a.v4_host() - pool.addr.v4_host();
    uint32_t last = (1u << (32 - pool.len)) - 1;  // Pool is /8../30
    if (off == 0 || off == last)
        return fail_at(at,
                       "peer Address " + a.str() + " is the network or broadcast address of Pool " + pool.str());
    if (off == 1) return fail_at(at, "peer Address " + a.str() + " is the server's own address");
    if (c.topology == Topology::p2p && off == 2)
        return fail_at(at, "peer Address " + a.str() + " is the server's peer address (Topology = p2p)");
    if (c.topology == Topology::net30 && (off % 4 != 2 || off < 4))
        return fail_at(at, "peer Address " + a.str() +
                               " is not a client address for Topology = net30 (the third address of a /30 "
                               "block, not the first block: .6, .10, .14, ...)");
    // The authority on which addresses clients get is the allocator's plan.
    TopologyPlan plan(c.topology, pool, c.pool6);
    if (!plan.index_of(a))
        return fail_at(at, "peer Address " + a.str() + " is not a client address of Pool " + pool.str() +
                               " with Topology = " + to_string(c.topology) + " (first " +
                               plan.nth_client_addr4(0).str() + ", last " +
                               plan.nth_client_addr4(plan.capacity() - 1).str() + ")");
    return true;
}

// Networks behind clients must not overlap each other or the pools: the
// server routes them to exactly one client.  Sorted by address, any overlap
// shows up between neighbours (an enclosing prefix sorts just before what it
// contains).
bool Parser::validate_networks() {
    struct Entry {
        Prefix pf;
        int line;
        std::string what;
    };
    std::vector<Entry> all;
    all.push_back({*c.pool, line_of("Pool"), "Pool " + c.pool->str()});
    if (c.pool6) all.push_back({*c.pool6, line_of("Pool6"), "Pool6 " + c.pool6->str()});
    for (size_t i = 0; i < c.peers.size(); i++)
        for (size_t j = 0; j < c.peers[i].networks.size(); j++)
            all.push_back({c.peers[i].networks[j], peer_info[i].networks[j],
                           "Network " + c.peers[i].networks[j].str() + " of peer '" + c.peers[i].name + "'"});
    std::stable_sort(all.begin(), all.end(), [](const Entry &x, const Entry &y) {
        if (!(x.pf.addr == y.pf.addr)) return x.pf.addr < y.pf.addr;
        return x.pf.len < y.pf.len;
    });
    for (size_t i = 1; i < all.size(); i++) {
        const Entry &x = all[i - 1], &y = all[i];
        if (x.pf.addr.family != y.pf.addr.family || !overlaps(x.pf, y.pf)) continue;
        const Entry &later = x.line > y.line ? x : y, &earlier = x.line > y.line ? y : x;
        return fail_at(later.line,
                       later.what + " overlaps " + earlier.what + " (line " + std::to_string(earlier.line) + ")");
    }
    return true;
}

void Parser::apply_defaults() {
    if (c.device.empty()) c.device = ("lm-" + c.net).substr(0, kMaxDevice);
    if (c.state_directory.empty()) c.state_directory = "/var/lib/lanmesh/" + c.net;
    if (c.runtime_directory.empty()) c.runtime_directory = "/run/lanmesh";
    for (size_t i = 0; i < c.servers.size(); i++)
        if (!server_port_given[i]) c.servers[i].port = c.control_port;
    if (!c.servers.empty()) c.server = c.servers.front();
    if (c.registry && c.registry->prefix.empty()) c.registry->prefix = "/lanmesh/" + c.net + "/";
}

}  // namespace

std::optional<Config> parse_config(const std::string &text, const std::string &path, ConfigError *err) {
    Parser p(path, err);
    return p.run(text);
}

std::optional<Config> load_config(const std::string &path, ConfigError *err) {
    auto fail = [&](const std::string &what, int e) -> std::optional<Config> {
        if (err) err->message = path + ": " + what + (e ? std::string(": ") + std::strerror(e) : "");
        return std::nullopt;
    };
    might_block(BlockingCall::file, "configuration file");
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return fail("cannot open", errno);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        ::close(fd);
        return fail("cannot stat", e);
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        return fail("not a regular file", 0);
    }
    std::string text;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int e = errno;
            ::close(fd);
            return fail("read error", e);
        }
        if (n == 0) break;
        text.append(buf, size_t(n));
        if (text.size() > kMaxFileBytes) {
            ::close(fd);
            return fail("file too large (limit " + std::to_string(kMaxFileBytes) + " bytes)", 0);
        }
    }
    ::close(fd);
    return parse_config(text, path, err);
}

std::vector<std::string> config_known_keys() {
    std::vector<std::string> out;
    for (const auto &k : kKeys) out.push_back(std::string(section_name(k.section)) + "." + k.name);
    return out;
}

std::vector<ConfigKeyInfo> config_key_info() {
    std::vector<ConfigKeyInfo> out;
    for (const auto &k : kKeys)
        out.push_back({std::string(section_name(k.section)) + "." + k.name, k.reload,
                       k.value.differ != nullptr && k.value.take != nullptr});
    return out;
}

std::vector<std::string> config_changed_keys(const Config &a, const Config &b) {
    std::vector<std::string> out;
    for (const auto &k : kKeys)
        if (k.reload != OnReload::role && k.value.differ(a, b)) out.push_back(k.name);
    return out;
}

std::vector<std::string> config_restart_changes(const Config &running, const Config &next) {
    std::vector<std::string> out;
    for (const auto &k : kKeys)
        if (k.reload == OnReload::restart && k.value.differ(running, next)) out.push_back(k.name);
    return out;
}

void config_take_live(Config &running, const Config &next) {
    for (const auto &k : kKeys)
        if (k.reload == OnReload::live) k.value.take(running, next);
}

}  // namespace lm
