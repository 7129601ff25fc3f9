// SPDX-License-Identifier: MIT
// Control-plane load generator for `make bench`: the `load` subcommand of
// bench/cp_load.py in C++, because the Python one (asyncio + ssl) could not
// keep the server busy.  Same options, same wire protocol, same result JSON;
// bench/run.sh compiles it once and falls back to the Python if that fails.
//
//   cp-load [load] --ca FILE --certs DIR -n N --result FILE [--host H]
//       [--port P] [--server-name S] [--concurrency C] [--timeout S]
//       [--deadline S] [--hold S] [--release FILE] [--go-file FILE]
//       [--churn RATE --duration S] [--first K]
//
// Opens N TLS 1.3 sessions to a lanmesh server's control port, at most C of
// them between connect and CONFIG at once, sends a HELLO on each and waits for
// the CONFIG frame that proves admission.  Admitted sessions are held open
// (pings are answered) until the --release file appears or --hold seconds
// pass, so that the caller can read the server's memory with every client
// connected.  Client i (K..K+N-1, K = --first, default 1) presents
// certificate DIR/bench%05d.crt (the
// server keys sessions by its common name) with the key DIR/client.key that
// `cp_load.py mint` shares between them all.
//
// --churn RATE turns it into churn for `make bench`'s data-path-under-churn
// rows: for --duration seconds it starts RATE sessions a second (client
// i mod N each time), and each one says BYE and closes as soon as its CONFIG
// arrives, so the server admits and drops RATE clients a second while the
// bench measures a tunnel through it.  The result has the same fields
// (n is then the number of sessions started); nothing is held.
//
// One thread, one epoll set, non-blocking sockets and OpenSSL: on the bench's
// two cores the server has one and this the other.  Every certificate is read
// before the clock starts, so what is timed is connects and handshakes.
//
// Wire format (src/control/frame.h, src/control/messages.h):
//   frame   = version u8 (1) | type u8 | length u16 BE | payload
//   payload = TLV fields: tag u8 | length u16 BE | value
//   HELLO   = 1 ciphers (u16 list) | 2 encap u8 | 3 spi_s2c u32 | 5 data_port u16
//
// Build: g++ -O2 -std=c++20 bench/cp_load.cc -lssl -lcrypto -o cp-load
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <string>
#include <vector>

namespace {

constexpr uint8_t kProtoVersion = 1;
constexpr uint8_t T_HELLO = 1, T_CONFIG = 2, T_PING = 5, T_PONG = 6, T_BYE = 7;
constexpr uint8_t BYE_REASON = 1;
constexpr uint16_t CIPHER_AES256GCM = 1;
constexpr uint8_t ENCAP_UDP = 1;
constexpr size_t kReasonMax = 160;   // as the Python cuts failure reasons

struct Args {
    std::string host = "127.0.0.1", server_name = "server", ca, certs, result, release, go_file;
    int port = 4500, n = -1, concurrency = 128, first = 1;
    double timeout = 30, deadline = 120, hold = 60;
    double churn = 0, duration = 10;   // sessions per second (0: plain load), seconds
};

double now_s() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

[[noreturn]] void die(const std::string &why) {
    fprintf(stderr, "cp-load: %s\n", why.c_str());
    exit(1);
}

// printf into a std::string.
template <class... A>
std::string fmt(const char *f, A... a) {
    char buf[512];
    snprintf(buf, sizeof buf, f, a...);
    return buf;
}

// The oldest queued OpenSSL error as text; clears the queue.
std::string ssl_reason() {
    unsigned long e = ERR_get_error();
    ERR_clear_error();
    if (!e) return "unknown error";
    const char *r = ERR_reason_error_string(e);
    return r ? r : fmt("error %lu", e);
}

// ---- frames ---------------------------------------------------------------------

void put16(std::string *o, uint16_t v) { o->push_back(char(v >> 8)); o->push_back(char(v)); }

void put_tlv(std::string *o, uint8_t tag, const std::string &v) {
    o->push_back(char(tag));
    put16(o, uint16_t(v.size()));
    *o += v;
}

void put_frame(std::string *o, uint8_t type, const std::string &payload) {
    o->push_back(char(kProtoVersion));
    o->push_back(char(type));
    put16(o, uint16_t(payload.size()));
    *o += payload;
}

std::string hello(uint32_t spi, uint16_t data_port = 4500) {
    std::string ciphers, encap(1, char(ENCAP_UDP)), s, port, body, f;
    put16(&ciphers, CIPHER_AES256GCM);
    for (int sh = 24; sh >= 0; sh -= 8) s.push_back(char(spi >> sh));
    put16(&port, data_port);
    put_tlv(&body, 1, ciphers);
    put_tlv(&body, 2, encap);
    put_tlv(&body, 3, s);
    put_tlv(&body, 5, port);
    put_frame(&f, T_HELLO, body);
    return f;
}

// The reason field (tag 1) of a BYE body, best effort; non-printable bytes as '?'.
std::string bye_reason(const std::string &p) {
    if (p.size() >= 3 && uint8_t(p[0]) == 1) {
        size_t n = size_t(uint8_t(p[1])) << 8 | uint8_t(p[2]);
        std::string r = p.substr(3, n);
        for (char &c : r)
            if (c < 0x20 || c > 0x7e) c = '?';
        return r;
    }
    return "(no reason)";
}

// ---- clients ----------------------------------------------------------------------

struct Stats {
    int admitted = 0, failed = 0, lost_after = 0;
    std::map<std::string, int> reasons, lost_reasons;
    std::vector<double> latencies;
    void fail(std::string why) {
        if (why.size() > kReasonMax) why.resize(kReasonMax);
        failed++;
        reasons[why]++;
    }
};

struct Client {
    enum State : uint8_t { idle, connecting, handshake, waiting, held, done };
    State st = idle;
    int fd = -1;
    SSL *ssl = nullptr;
    double t0 = 0;
    std::string in, out;   // frame bytes not yet parsed / not yet written
};

struct Load {
    Args a;
    SSL_CTX *ctx = nullptr;
    EVP_PKEY *key = nullptr;
    std::vector<X509 *> certs;   // certs[i] is client i+1's
    sockaddr_storage addr{};
    socklen_t addr_len = 0;
    int ep = -1;
    std::vector<Client> cl;
    Stats stats;
    int next = 0;       // index of the next client to start
    int inflight = 0;   // between connect and CONFIG (or failure)
    int finished = 0;   // admitted or failed
    bool stopped = false;

    void close_client(Client &c, bool shutdown) {
        if (c.ssl) {
            if (shutdown) SSL_shutdown(c.ssl);   // close_notify, best effort
            SSL_free(c.ssl);
            c.ssl = nullptr;
        }
        if (c.fd >= 0) close(c.fd);   // also leaves the epoll set
        c.fd = -1;
        std::string().swap(c.in);
        std::string().swap(c.out);
    }

    // Ends a session that has not reached CONFIG.
    void fail(Client &c, const std::string &why) {
        stats.fail(why);
        close_client(c, false);
        c.st = Client::done;
        inflight--;
        finished++;
    }

    // An admitted session ended by the server (or the network) while held.
    void lost(Client &c, const std::string &why) {
        close_client(c, false);
        c.st = Client::done;
        if (stopped) return;
        stats.lost_after++;
        stats.lost_reasons[why]++;
    }

    void start(int i) {
        Client &c = cl[i];
        c.t0 = now_s();
        inflight++;
        c.fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c.fd < 0) return fail(c, fmt("socket: %s", strerror(errno)));
        // asyncio sets TCP_NODELAY too: every frame here is a small one.
        int one = 1;
        setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c.ssl = SSL_new(ctx);
        if (!c.ssl || SSL_set_fd(c.ssl, c.fd) != 1 ||
            SSL_set_tlsext_host_name(c.ssl, a.server_name.c_str()) != 1 ||
            SSL_use_cert_and_key(c.ssl, certs[i], key, nullptr, 1) != 1)
            return fail(c, "TLS setup: " + ssl_reason());
        SSL_set_connect_state(c.ssl);
        // Edge-triggered, registered once: each event drives the session until
        // OpenSSL or the socket would block, so no epoll_ctl per state.
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
        ev.data.u32 = uint32_t(i);
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev) < 0)
            return fail(c, fmt("epoll_ctl: %s", strerror(errno)));
        if (connect(c.fd, reinterpret_cast<sockaddr *>(&addr), addr_len) == 0) {
            c.st = Client::handshake;
            drive(i);
        } else if (errno == EINPROGRESS) {
            c.st = Client::connecting;
        } else {
            fail(c, fmt("connect: %s", strerror(errno)));
        }
    }

    // Why an SSL call returned r: "" when it only has to wait for the socket.
    std::string io_error(Client &c, int r, const char *what) {
        int e = SSL_get_error(c.ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return "";
        if (e == SSL_ERROR_ZERO_RETURN) return std::string(what) + ": closed by the server";
        if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
            return std::string(what) + ": " + (errno && r < 0 ? strerror(errno) : "connection closed by the server");
        std::string why = std::string(what) + ": " + ssl_reason();
        long v = SSL_get_verify_result(c.ssl);
        if (v != X509_V_OK) why += std::string(": ") + X509_verify_cert_error_string(v);
        return why;
    }

    // Writes what is queued; false (and the reason) if the session broke.
    bool flush(Client &c, std::string *why) {
        while (!c.out.empty()) {
            ERR_clear_error();
            errno = 0;
            int r = SSL_write(c.ssl, c.out.data(), int(c.out.size()));
            if (r > 0) {
                c.out.erase(0, size_t(r));
                continue;
            }
            *why = io_error(c, r, "write");
            return why->empty();
        }
        return true;
    }

    // Pops the complete frames read so far; false (and the reason) on a bad one.
    bool frames(int i, std::string *why) {
        Client &c = cl[i];
        size_t pos = 0;
        while (c.in.size() - pos >= 4) {
            const uint8_t *h = reinterpret_cast<const uint8_t *>(c.in.data() + pos);
            if (h[0] != kProtoVersion) {
                *why = fmt("frame version %d", h[0]);
                return false;
            }
            size_t len = size_t(h[2]) << 8 | h[3];
            if (c.in.size() - pos < 4 + len) break;
            uint8_t type = h[1];
            std::string payload = c.in.substr(pos + 4, len);
            pos += 4 + len;
            if (type == T_PING) {
                put_frame(&c.out, T_PONG, payload);
            } else if (type == T_BYE) {
                *why = (c.st == Client::waiting ? "refused: " : "bye: ") + bye_reason(payload);
                return false;
            } else if (type == T_CONFIG && c.st == Client::waiting) {
                stats.admitted++;
                stats.latencies.push_back(now_s() - c.t0);
                c.st = Client::held;
                inflight--;
                finished++;
            }
        }
        c.in.erase(0, pos);
        return true;
    }

    // Advances session i as far as it goes without blocking.
    void drive(int i) {
        Client &c = cl[i];
        if (c.st == Client::connecting) {
            int err = 0;
            socklen_t l = sizeof err;
            getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &l);
            if (err) return fail(c, fmt("connect: %s", strerror(err)));
            c.st = Client::handshake;
        }
        if (c.st == Client::handshake) {
            ERR_clear_error();
            errno = 0;
            int r = SSL_connect(c.ssl);
            if (r != 1) {
                std::string why = io_error(c, r, "TLS handshake");
                if (!why.empty()) fail(c, why);
                return;
            }
            c.out = hello(256 + uint32_t(i + 1));
            c.st = Client::waiting;
        }
        if (c.st != Client::waiting && c.st != Client::held) return;
        std::string why;
        char buf[16384];
        for (;;) {
            if (!flush(c, &why)) break;
            ERR_clear_error();
            errno = 0;
            int r = SSL_read(c.ssl, buf, sizeof buf);
            if (r <= 0) {
                why = io_error(c, r, "read");
                break;
            }
            c.in.append(buf, size_t(r));
            if (!frames(i, &why)) break;
            if (a.churn > 0 && c.st == Client::held) return leave(c);
        }
        if (why.empty()) return;
        if (c.st == Client::waiting)
            fail(c, why);
        else
            lost(c, why);
    }

    // Churn: an admitted session says BYE at once and closes.  The BYE is
    // written best effort: a session whose socket is full just closes.
    void leave(Client &c) {
        std::string body, why;
        put_tlv(&body, BYE_REASON, "bench churn");
        put_frame(&c.out, T_BYE, body);
        flush(c, &why);
        close_client(c, true);
        c.st = Client::done;
    }

    // Starts clients while fewer than --concurrency are between connect and CONFIG.
    void refill() {
        while (inflight < a.concurrency && next < a.n) start(next++);
    }

    // Churn: starts the sessions due by now, RATE a second, each on client
    // slot next mod N; a slot still busy from its last round is skipped (and
    // counted), a schedule more than a second behind is forgotten rather than
    // caught up in a burst.
    double next_start = 0;
    int started = 0, slot_busy = 0, behind = 0;
    void churn_refill(double now) {
        if (now - next_start > 1.0) {
            behind++;
            next_start = now;
        }
        while (next_start <= now && inflight < a.concurrency) {
            next_start += 1.0 / a.churn;
            int i = next++ % a.n;
            if (cl[i].st != Client::idle && cl[i].st != Client::done) {
                slot_busy++;
                continue;
            }
            started++;
            start(i);
        }
    }

    // Churn: every slot can be mid-handshake, in any order.
    void churn_expire(double now) {
        for (Client &c : cl)
            if ((c.st == Client::connecting || c.st == Client::handshake || c.st == Client::waiting) &&
                now - c.t0 >= a.timeout)
                fail(c, fmt("timeout after %g s", a.timeout));
    }

    // One round of the event loop, waiting at most ms.
    void poll(int ms) {
        epoll_event evs[256];
        int k = epoll_wait(ep, evs, 256, ms);
        for (int j = 0; j < k; j++) {
            Client &c = cl[evs[j].data.u32];
            if (c.st != Client::idle && c.st != Client::done) drive(int(evs[j].data.u32));
        }
    }

    // Fails the sessions past --timeout before CONFIG.  Clients start in
    // order, so those before `oldest` are all admitted or failed already.
    int oldest = 0;
    void expire(double now) {
        for (int i = oldest; i < next; i++) {
            Client &c = cl[i];
            if (c.st == Client::done || c.st == Client::held) {
                if (i == oldest) oldest++;
            } else if (now - c.t0 >= a.timeout) {
                fail(c, fmt("timeout after %g s", a.timeout));
            }
        }
    }
};

// ---- the result ------------------------------------------------------------------

std::string json_str(const std::string &s) {
    std::string o = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            o += '\\';
            o += char(c);
        } else if (c < 0x20 || c > 0x7e) {
            o += fmt("\\u%04x", c);
        } else {
            o += char(c);
        }
    }
    return o + "\"";
}

// A float as Python prints round(v, nd): shortest form, at least one decimal.
std::string json_num(double v, int nd) {
    std::string s = fmt("%.*f", nd, v);
    if (s.find('.') == std::string::npos) return s + ".0";
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s += '0';
    return s;
}

std::string json_map(const std::map<std::string, int> &m) {
    std::string o = "{";
    for (const auto &[k, v] : m) o += (o.size() > 1 ? ", " : "") + json_str(k) + ": " + std::to_string(v);
    return o + "}";
}

// Writes FILE.tmp and renames it, so a reader never sees half a file.
void write_result(const std::string &path, const std::string &json) {
    std::string tmp = path + ".tmp";
    FILE *f = fopen(tmp.c_str(), "w");
    if (!f) die("cannot write " + tmp + ": " + strerror(errno));
    fputs(json.c_str(), f);
    if (fclose(f) != 0 || rename(tmp.c_str(), path.c_str()) != 0)
        die("cannot write " + path + ": " + strerror(errno));
}

// ---- setup ---------------------------------------------------------------------------

Args parse(int argc, char **argv) {
    Args a;
    int i = 1;
    if (i < argc && strcmp(argv[i], "load") == 0) i++;   // as in `cp_load.py load ...`
    for (; i < argc; i++) {
        std::string k = argv[i], v;
        size_t eq = k.find('=');
        if (k.rfind("--", 0) == 0 && eq != std::string::npos) {
            v = k.substr(eq + 1);
            k.resize(eq);
        } else if (k.rfind("-n", 0) == 0 && k.size() > 2 && k[1] != '-') {
            v = k.substr(k[2] == '=' ? 3 : 2);   // -n5 or -n=5, as argparse takes them
            k = "-n";
        } else if (i + 1 < argc) {
            v = argv[++i];
        } else {
            die("option " + k + " needs a value");
        }
        char *end = nullptr;
        auto num = [&](double lo) {
            errno = 0;
            double d = strtod(v.c_str(), &end);
            if (v.empty() || *end || errno || !std::isfinite(d) || d < lo)
                die("bad value for " + k + ": " + v);
            return d;
        };
        auto integer = [&](double lo) {
            double d = num(lo);
            if (d != std::floor(d) || d > 1e9) die("bad value for " + k + ": " + v);
            return int(d);
        };
        if (k == "--host") a.host = v;
        else if (k == "--port") a.port = integer(1);
        else if (k == "--server-name") a.server_name = v;
        else if (k == "--ca") a.ca = v;
        else if (k == "--certs") a.certs = v;
        else if (k == "-n") a.n = integer(0);
        else if (k == "--concurrency") a.concurrency = integer(1);
        else if (k == "--timeout") a.timeout = num(0);
        else if (k == "--deadline") a.deadline = num(0);
        else if (k == "--hold") a.hold = num(0);
        else if (k == "--result") a.result = v;
        else if (k == "--release") a.release = v;
        else if (k == "--go-file") a.go_file = v;
        else if (k == "--churn") a.churn = num(0);
        else if (k == "--duration") a.duration = num(0);
        else if (k == "--first") a.first = integer(1);
        else die("unknown option " + k);
    }
    if (a.ca.empty() || a.certs.empty() || a.n < 0 || a.result.empty())
        die("usage: cp-load [load] --ca FILE --certs DIR -n N --result FILE [--host H] [--port P] "
            "[--server-name S] [--concurrency C] [--timeout S] [--deadline S] [--hold S] "
            "[--release FILE] [--go-file FILE] [--churn RATE --duration S] [--first K]");
    if (a.churn > 0 && a.n == 0) die("--churn needs -n of at least 1 (the certificates to cycle through)");
    return a;
}

template <class T, class F>
T *read_pem(const std::string &path, F read) {
    FILE *f = fopen(path.c_str(), "r");
    if (!f) die("cannot open " + path + ": " + strerror(errno));
    T *x = read(f, nullptr, nullptr, nullptr);
    fclose(f);
    if (!x) die("cannot read " + path + ": " + ssl_reason());
    return x;
}

// One client context with the CA to check the server against; the client
// certificates and the shared key, each read once, are put on every SSL.
void prepare(Load &L) {
    const Args &a = L.a;
    L.ctx = SSL_CTX_new(TLS_client_method());
    if (!L.ctx || SSL_CTX_set_min_proto_version(L.ctx, TLS1_3_VERSION) != 1)
        die("cannot make a TLS 1.3 context: " + ssl_reason());
    // As the Python: the server's certificate must chain to the CA; its name
    // is not checked (lanmesh clients do that, the load does not need it).
    SSL_CTX_set_verify(L.ctx, SSL_VERIFY_PEER, nullptr);
    if (SSL_CTX_load_verify_locations(L.ctx, a.ca.c_str(), nullptr) != 1)
        die("cannot load CA " + a.ca + ": " + ssl_reason());
    // Held sessions are idle: no 34 KiB of TLS buffers each while they wait.
    // A write that would block is retried from Client::out, which may have
    // grown (and moved) by then.
    SSL_CTX_set_mode(L.ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                                SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    L.key = read_pem<EVP_PKEY>(a.certs + "/client.key", PEM_read_PrivateKey);
    L.certs.reserve(size_t(a.n));
    for (int i = a.first; i < a.first + a.n; i++)
        L.certs.push_back(read_pem<X509>(a.certs + fmt("/bench%05d.crt", i), PEM_read_X509));

    addrinfo hints{}, *res = nullptr;
    hints.ai_socktype = SOCK_STREAM;
    int e = getaddrinfo(a.host.c_str(), std::to_string(a.port).c_str(), &hints, &res);
    if (e != 0) die("cannot resolve " + a.host + ": " + gai_strerror(e));
    memcpy(&L.addr, res->ai_addr, res->ai_addrlen);
    L.addr_len = res->ai_addrlen;
    freeaddrinfo(res);
}

// The --churn run: RATE sessions a second for --duration seconds, then the
// sessions still in their handshake get --timeout to finish.
int churn_main(Load &L, double t0, double prep) {
    const Args &a = L.a;
    L.next_start = t0;
    double next_expire = t0, end = t0 + a.duration;
    for (;;) {
        double now = now_s();
        if (now >= end && (L.inflight == 0 || now >= end + a.timeout)) break;
        if (now < end) L.churn_refill(now);
        if (now >= next_expire) {
            L.churn_expire(now);
            next_expire = now + 0.05;
        }
        double until = std::min(now < end ? L.next_start : end + a.timeout, next_expire) - now;
        L.poll(std::max(1, int(std::ceil(until * 1000))));
    }
    double elapsed = std::min(now_s(), end) - t0;
    for (Client &c : L.cl)
        if (c.st != Client::done && c.st != Client::idle) L.fail(c, "still in its handshake at the end");
    Stats &s = L.stats;
    std::vector<double> lat = s.latencies;
    std::sort(lat.begin(), lat.end());
    auto pct = [&](double p) {
        if (lat.empty()) return std::string("null");
        return json_num(lat[std::min(lat.size() - 1, size_t(p * double(lat.size())))] * 1000, 1);
    };
    std::string json = "{\"n\": " + std::to_string(L.started) +
                       ", \"admitted\": " + std::to_string(s.admitted) +
                       ", \"failed\": " + std::to_string(s.failed) +
                       ", \"failure_reasons\": " + json_map(s.reasons) +
                       ", \"elapsed_s\": " + json_num(elapsed, 3) +
                       ", \"churn_rate\": " + json_num(a.churn, 1) +
                       ", \"admits_per_s\": " + (elapsed > 0 ? json_num(s.admitted / elapsed, 1) : "null") +
                       ", \"latency_ms_p50\": " + pct(0.5) +
                       ", \"latency_ms_p99\": " + pct(0.99) +
                       ", \"slot_busy\": " + std::to_string(L.slot_busy) +
                       ", \"schedule_reset\": " + std::to_string(L.behind) +
                       ", \"context_prep_s\": " + json_num(prep, 2) + "}";
    write_result(a.result, json);
    printf("%s\n", json.c_str());
    for (X509 *x : L.certs) X509_free(x);
    EVP_PKEY_free(L.key);
    SSL_CTX_free(L.ctx);
    close(L.ep);
    return 0;
}

}  // namespace

int main(int argc, char **argv) {
    // A session the server reset may still get a write (churn's BYE): an
    // error to count, not a signal that ends the generator.
    signal(SIGPIPE, SIG_IGN);
    Load L;
    L.a = parse(argc, argv);
    const Args &a = L.a;
    // One socket per client; the server's side is the server's process.
    rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rlim_t(a.n) + 64) {
        rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, rlim_t(a.n) + 1024);
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    double t_prep = now_s();
    prepare(L);
    double prep = now_s() - t_prep;
    L.cl.resize(size_t(a.n));
    L.ep = epoll_create1(EPOLL_CLOEXEC);
    if (L.ep < 0) die(std::string("epoll_create1: ") + strerror(errno));

    if (!a.go_file.empty()) {   // tells the caller the clock starts now
        FILE *f = fopen(a.go_file.c_str(), "w");
        if (f) fclose(f);
    }
    double t0 = now_s(), next_expire = t0;
    if (a.churn > 0) return churn_main(L, t0, prep);
    L.refill();
    while (L.finished < a.n) {
        double now = now_s();
        if (now - t0 >= a.deadline) break;
        // Per-session timeouts are checked every 50 ms, not on every wakeup.
        if (now >= next_expire) {
            L.expire(now);
            L.refill();
            next_expire = now + 0.05;
        }
        double until = std::min(t0 + a.deadline, next_expire) - now;
        L.poll(std::max(1, int(std::ceil(until * 1000))));
        L.refill();
    }
    double elapsed = now_s() - t0;
    int pending = a.n - L.finished;
    if (pending > 0) {
        for (int i = 0; i < L.next; i++) {
            Client &c = L.cl[i];
            if (c.st != Client::done && c.st != Client::held) {
                L.close_client(c, false);
                c.st = Client::done;
            }
        }
        L.stats.failed += pending;
        L.stats.reasons[fmt("not finished within the %g s deadline", a.deadline)] = pending;
    }

    Stats &s = L.stats;
    std::vector<double> lat = s.latencies;
    std::sort(lat.begin(), lat.end());
    auto pct = [&](double p) {
        if (lat.empty()) return std::string("null");
        size_t k = std::min(lat.size() - 1, size_t(p * double(lat.size())));
        return json_num(lat[k] * 1000, 1);
    };
    double mean = 0;
    for (double x : lat) mean += x;
    if (!lat.empty()) mean /= double(lat.size());
    // The fields and their order of cp_load.py's result.
    std::string json = "{\"n\": " + std::to_string(a.n) +
                       ", \"admitted\": " + std::to_string(s.admitted) +
                       ", \"failed\": " + std::to_string(s.failed) +
                       ", \"failure_reasons\": " + json_map(s.reasons) +
                       ", \"elapsed_s\": " + json_num(elapsed, 3) +
                       ", \"admits_per_s\": " + (elapsed > 0 ? json_num(s.admitted / elapsed, 1) : "null") +
                       ", \"latency_ms_p50\": " + pct(0.5) +
                       ", \"latency_ms_p99\": " + pct(0.99) +
                       ", \"latency_ms_mean\": " + (lat.empty() ? "null" : json_num(mean * 1000, 1)) +
                       ", \"concurrency\": " + std::to_string(a.concurrency) +
                       ", \"context_prep_s\": " + json_num(prep, 2);
    write_result(a.result, json + "}");

    // Hold every admitted session until released (or --hold runs out).
    double t_hold = now_s();
    while (now_s() - t_hold < a.hold) {
        struct stat st;
        if (!a.release.empty() && stat(a.release.c_str(), &st) == 0) break;
        L.poll(100);
    }
    json += ", \"lost_while_held\": " + std::to_string(s.lost_after) +
            ", \"lost_while_held_reasons\": " + json_map(s.lost_reasons) + "}";
    L.stopped = true;
    for (Client &c : L.cl)
        if (c.st == Client::held) L.close_client(c, true);
    write_result(a.result, json);
    printf("%s\n", json.c_str());
    for (X509 *x : L.certs) X509_free(x);   // so that a sanitizer build reports no leaks
    EVP_PKEY_free(L.key);
    SSL_CTX_free(L.ctx);
    close(L.ep);
    return 0;
}
