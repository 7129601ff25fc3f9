// SPDX-License-Identifier: MIT
// Security associations as the data plane sees them, and the table that finds
// an inbound SA by SPI.  The control plane creates and retires SAs; the data
// plane only reads them and writes its own worker's slot (data/per_worker.h).
//
// Every worker has its own cipher context per SA (OpenSSL contexts are not
// shared between threads), made on the worker's first packet for the SA from
// the key kept here, and its own counters.  Outbound sequence numbers are
// handed out in blocks per worker: one atomic add per block, not per packet.
#pragma once
#include <atomic>
#include <cstdint>
#include <ctime>
#include <memory>
#include <unordered_map>

#include "config/config.h"
#include "crypto/aead.h"
#include "data/per_worker.h"
#include "esp/replay.h"

namespace lm {

struct Tunnel;

// Key and per-worker cipher contexts of one SA in one direction.
class SaKeys {
public:
    SaKeys() = default;
    ~SaKeys() { km_.wipe(); }
    SaKeys(const SaKeys &) = delete;
    SaKeys &operator=(const SaKeys &) = delete;

    // Control path: keeps a copy of the key (wiped with the SA) and sets up
    // the first worker's context, so a bad key fails here and not later.
    bool set(Cipher c, const KeyMaterial &km, bool encrypt);
    // Data path: this worker's context, set up on its first use (an
    // allocation once per SA and worker).  Null if OpenSSL failed.
    Aead *get(int slot) {
        Aead &a = ctx_[slot].aead;
        if (ctx_[slot].ready) return &a;
        return ctx_[slot].failed ? nullptr : make(slot);
    }

private:
    struct Ctx {
        Aead aead;
        bool ready = false;
        bool failed = false;   // OpenSSL refused once (logged once): not retried per packet
    };
    Aead *make(int slot);

    Cipher cipher_ = Cipher::aes256gcm;
    bool encrypt_ = false;
    KeyMaterial km_{};
    PerWorker<Ctx> ctx_;
};

struct InboundSa {
    uint32_t spi = 0;
    // Control thread only: the sequence number of the packet whose outer
    // address the peer's endpoint was last set from.  Workers report new
    // addresses in no particular order; only a newer number may move the
    // endpoint again (RFC 3948 §3.5).
    uint32_t endpoint_seq = 0;
    uint32_t epoch = 0;
    Cipher cipher = Cipher::aes256gcm;
    SaKeys keys;
    ReplayWindow replay;           // shared by all workers, lock-free
    Tunnel *tunnel = nullptr;      // the peer this SA belongs to
    time_t created = 0;

    struct Stats {
        uint64_t packets = 0, bytes = 0;
    };
    PerWorker<Stats> stats;
    uint64_t packets() const;
    uint64_t bytes() const;
};

struct OutboundSa {
    // A worker takes this many numbers at a time.  A block left unused
    // while others moved on more than kSeqStale is abandoned, so no worker
    // sends a number far behind the rest.  By design the spread is at most
    // kSeqStale + kSeqBlock + kTxSlots (1,536); the receiver's window
    // (ReplayWindow::kWindow, 16,352) also holds what a sender paused between
    // sealing and sending lets the others send meanwhile.
    static constexpr uint64_t kSeqBlock = 256, kSeqStale = 1024;

    uint32_t spi = 0;              // the peer's inbound SPI
    uint32_t epoch = 0;
    Cipher cipher = Cipher::aes256gcm;
    SaKeys keys;
    time_t created = 0;

    // Once a sequence number this high is taken, the SA is due for a rekey
    // (RekeyAfterPackets; numbers taken are never fewer than packets sent).
    // Set by the control plane while the workers are paused.
    uint64_t rekey_at = UINT64_MAX;

    // Next sequence number for worker `slot`; false once the SA's 2^32 - 1
    // numbers are used up (no ESN: never wraps, RFC 4303 §3.3.3).
    // `fresh`: a single number above every one handed out so far, for a
    // sender that sends rarely (the control thread's dummies and
    // keepalives): a number from an old block would not be the newest the
    // peer has seen, and the peer learns a new address only from the newest
    // (RFC 3948 §3.5, docs/PROTOCOLS.md §3).
    // *rekey_due becomes true for the first number at or above rekey_at this
    // slot takes: the caller tells the control plane at once.
    bool take_seq(int slot, uint32_t *seq, bool fresh = false, bool *rekey_due = nullptr);
    // Whether any sender has taken a number at or above rekey_at.
    bool rekey_due() const { return rekey_due_.load(std::memory_order_relaxed); }

    struct Stats {
        uint64_t next = 0, end = 0;    // this worker's block [next, end)
        uint64_t packets = 0, bytes = 0;
        uint32_t last_seq = 0;
        bool rekey_told = false;       // this slot has reported rekey_at
    };
    PerWorker<Stats> stats;
    uint64_t packets() const;
    uint64_t bytes() const;
    uint32_t last_seq() const;     // highest number sent by any worker

private:
    alignas(64) std::atomic<uint64_t> handed_out_{0};   // last number of the last block taken
    std::atomic<bool> rekey_due_{false};
};

// SPI -> inbound SA.  SPIs are random, at least 256, unique among this host's
// inbound SAs, and not reused while a recently retired one could still be in
// flight (RFC 4303 §2.1).
class SaTable {
public:
    uint32_t allocate_spi();
    void insert(InboundSa *sa) { by_spi_[sa->spi] = sa; }
    void erase(uint32_t spi);
    InboundSa *find(uint32_t spi) const {
        auto it = by_spi_.find(spi);
        return it == by_spi_.end() ? nullptr : it->second;
    }
    size_t size() const { return by_spi_.size(); }

private:
    std::unordered_map<uint32_t, InboundSa *> by_spi_;
    std::unordered_map<uint32_t, time_t> retired_;   // spi -> when it was retired
};

}  // namespace lm
