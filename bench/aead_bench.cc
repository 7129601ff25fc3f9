// SPDX-License-Identifier: MIT
// Micro benchmark of lm::Aead, the ESP data plane's per-packet AEAD: seal and
// open of 1400- and 64-byte packets with both ciphers.  It measures and
// prints; it asserts nothing about speed.  It does refuse to report numbers
// for a build whose open() rejects what its seal() produced, or accepts a
// wrong tag.
//
// The "bulk" rows are not an AEAD: one EVP_EncryptUpdate per packet on a
// context that is never re-nonced or finalised.  They are the ceiling for the
// cipher itself, so that seal/open minus bulk is what the per-packet nonce,
// AAD, tag and EVP calls cost.
//
// Build and run: see bench/README.md (make -C bench; make -C bench before).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <openssl/evp.h>
#include <time.h>

#include "crypto/aead.h"

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kRing = 16;  // distinct packets in flight, as a burst would be

struct Case {
    lm::Cipher cipher;
    const char *cipher_name;
    const char *op;  // seal, open, bulk
    size_t len;
};

// The ESP header (SPI, sequence number) is the AAD in RFC 4106/7634.
constexpr size_t kAadLen = 8;

struct Packet {
    uint8_t iv[lm::kEspIvLen];
    uint8_t aad[kAadLen];
    std::vector<uint8_t> data;  // plaintext for seal, ciphertext for open
    uint8_t tag[lm::kAeadTagLen];
};

void put_be64(uint8_t *p, uint64_t v) {
    for (int i = 7; i >= 0; i--, v >>= 8) p[i] = uint8_t(v);
}

lm::KeyMaterial key_material() {
    lm::KeyMaterial km;
    for (size_t i = 0; i < sizeof km.key; i++) km.key[i] = uint8_t(0x40 + i);
    for (size_t i = 0; i < sizeof km.salt; i++) km.salt[i] = uint8_t(0xa0 + i);
    return km;
}

double thread_cpu_seconds() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

// One timed round: as many packets as fit in `seconds` of wall time, checking
// the clock every `batch` packets.  The rate is taken over the thread's CPU
// time, so time spent preempted by other work on the host does not count.
template <typename F>
double one_round(F &&one, double seconds) {
    const size_t batch = 1024;
    size_t n = 0;
    const Clock::time_point deadline =
        Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    const double c0 = thread_cpu_seconds();
    do {
        for (size_t i = 0; i < batch; i++) one(n + i);
        n += batch;
    } while (Clock::now() < deadline);
    return double(n) / (thread_cpu_seconds() - c0);
}

struct Result {
    double pps, pps_min, pps_max;  // median and spread over the rounds
};

// Settings of a run.  With `count` set there is no timing at all: each case
// runs exactly that many packets, for valgrind --tool=callgrind or perf.
struct Options {
    double seconds = 0.5;
    int rounds = 5;
    size_t count = 0;
};

template <typename F>
Result measure(F &&one, const Options &o) {
    if (o.count) {
        for (size_t i = 0; i < o.count; i++) one(i);
        return {0, 0, 0};
    }
    one_round(one, std::min(0.2, o.seconds));  // warm caches, predictors, clocks
    std::vector<double> pps;
    for (int i = 0; i < o.rounds; i++) pps.push_back(one_round(one, o.seconds));
    std::sort(pps.begin(), pps.end());
    return {pps[pps.size() / 2], pps.front(), pps.back()};
}

bool run(const Case &c, const Options &o, Result *res) {
    const lm::KeyMaterial km = key_material();
    lm::Aead enc, dec;
    if (!enc.init(c.cipher, km, true) || !dec.init(c.cipher, km, false)) return false;

    std::vector<Packet> ring(kRing);
    for (size_t i = 0; i < kRing; i++) {
        Packet &p = ring[i];
        put_be64(p.iv, i + 1);
        put_be64(p.aad, (uint64_t(0x1000) << 32) | (i + 1));  // SPI || seq
        p.data.resize(c.len);
        for (size_t j = 0; j < c.len; j++) p.data[j] = uint8_t(i * 31 + j);
    }
    std::vector<uint8_t> out(c.len + 16);
    uint8_t tag[lm::kAeadTagLen];

    if (std::strcmp(c.op, "seal") == 0) {
        uint64_t seq = 0;
        *res = measure(
            [&](size_t n) {
                Packet &p = ring[n % kRing];
                put_be64(p.iv, ++seq);  // a fresh nonce per packet, as ESP does
                if (!enc.seal(p.iv, p.aad, kAadLen, p.data.data(), c.len, out.data(), tag)) std::abort();
            },
            o);
        return true;
    }

    // Seal the ring once; open then sees valid packets only, the common case.
    for (Packet &p : ring) {
        if (!enc.seal(p.iv, p.aad, kAadLen, p.data.data(), c.len, p.data.data(), p.tag)) return false;
        if (!dec.open(p.iv, p.aad, kAadLen, p.data.data(), c.len, out.data(), p.tag)) {
            std::fprintf(stderr, "aead_bench: %s open() refuses what seal() made\n", c.cipher_name);
            return false;
        }
        if (c.len > 0) {
            uint8_t t[lm::kAeadTagLen];
            std::memcpy(t, p.tag, sizeof t);
            t[0] ^= 1;
            if (dec.open(p.iv, p.aad, kAadLen, p.data.data(), c.len, out.data(), t)) {
                std::fprintf(stderr, "aead_bench: %s open() accepts a wrong tag\n", c.cipher_name);
                return false;
            }
        }
    }
    if (std::strcmp(c.op, "open") == 0) {
        *res = measure(
            [&](size_t n) {
                Packet &p = ring[n % kRing];
                if (!dec.open(p.iv, p.aad, kAadLen, p.data.data(), c.len, out.data(), p.tag)) std::abort();
            },
            o);
        return true;
    }

    // bulk: raw EVP, no per-packet nonce, AAD, final or tag.
    EVP_CIPHER *cipher = EVP_CIPHER_fetch(
        nullptr, c.cipher == lm::Cipher::aes256gcm ? "AES-256-GCM" : "ChaCha20-Poly1305", nullptr);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    uint8_t nonce[12] = {};
    if (!cipher || !ctx || EVP_EncryptInit_ex2(ctx, cipher, km.key, nonce, nullptr) != 1) return false;
    *res = measure(
        [&](size_t n) {
            int outl = 0;
            if (EVP_EncryptUpdate(ctx, out.data(), &outl, ring[n % kRing].data.data(), int(c.len)) != 1)
                std::abort();
        },
        o);
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(cipher);
    return true;
}

[[noreturn]] void usage() {
    std::fprintf(stderr,
                 "usage: aead_bench [-t SECONDS] [-r ROUNDS] [-n COUNT] [FILTER...]\n"
                 "  -t  length of one timed round (default 0.5)\n"
                 "  -r  rounds per case; the median is reported (default 5)\n"
                 "  -n  no timing: run exactly COUNT packets per case (for callgrind, perf)\n"
                 "  FILTER  run only cases whose \"cipher op bytes\" contains every word,\n"
                 "          e.g. aes seal 64\n");
    std::exit(2);
}

}  // namespace

int main(int argc, char **argv) {
    Options o;
    std::vector<std::string> filter;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (a == "-t" && i + 1 < argc) o.seconds = std::atof(argv[++i]);
        else if (a == "-r" && i + 1 < argc) o.rounds = std::atoi(argv[++i]);
        else if (a == "-n" && i + 1 < argc) o.count = size_t(std::atoll(argv[++i]));
        else if (!a.empty() && a[0] == '-') usage();
        else filter.push_back(a);
    }
    if (o.seconds <= 0 || o.rounds < 1) usage();

    std::vector<Case> cases;
    for (auto [c, name] : {std::pair{lm::Cipher::aes256gcm, "aes-256-gcm"},
                           std::pair{lm::Cipher::chacha20poly1305, "chacha20-poly1305"}})
        for (const char *op : {"seal", "open", "bulk"})
            for (size_t len : {size_t(1400), size_t(64)}) cases.push_back({c, name, op, len});

    // pkt/s and ns/pkt are per second of CPU time of the benchmark's thread.
    if (!o.count)
        std::printf("%-18s %-5s %5s %11s %7s %7s   %s\n", "cipher", "op", "bytes", "pkt/s", "Gbit/s", "ns/pkt",
                    "pkt/s min..max");
    int failed = 0;
    for (const Case &c : cases) {
        std::string label = std::string(c.cipher_name) + " " + c.op + " " + std::to_string(c.len);
        bool want = std::all_of(filter.begin(), filter.end(),
                                [&](const std::string &w) { return label.find(w) != std::string::npos; });
        if (!want) continue;
        Result r;
        if (!run(c, o, &r)) {
            std::printf("%-18s %-5s %5zu   FAILED\n", c.cipher_name, c.op, c.len);
            failed++;
        } else if (o.count) {
            std::printf("%-18s %-5s %5zu   %zu packets\n", c.cipher_name, c.op, c.len, o.count);
        } else {
            std::printf("%-18s %-5s %5zu %11.0f %7.2f %7.1f   %.0f..%.0f\n", c.cipher_name, c.op, c.len, r.pps,
                        r.pps * double(c.len) * 8 / 1e9, 1e9 / r.pps, r.pps_min, r.pps_max);
        }
        std::fflush(stdout);
    }
    return failed ? 1 : 0;
}
