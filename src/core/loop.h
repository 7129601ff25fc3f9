// SPDX-License-Identifier: MIT
// A small epoll loop with one periodic tick.  Handlers are looked up by fd at
// dispatch time, so a handler may remove any fd (its own included) safely.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

namespace lm {

class EventLoop {
public:
    using Handler = std::function<void(uint32_t events)>;
    // When a handler's guard is taken: before it runs (whole), or by the
    // handler itself at its first step that touches what the workers read
    // (on_demand, take_guard()), and then held until it returns.  For
    // handlers that mostly do not: accepting connections and the steps of
    // their TLS handshakes, which at 200 admissions a second would
    // otherwise hold the workers several times per client for nothing.
    enum class Guard : uint8_t { whole, on_demand };

    EventLoop();
    ~EventLoop();
    void add(int fd, uint32_t events, Handler h, Guard g = Guard::whole);
    void modify(int fd, uint32_t events);
    void remove(int fd);
    void set_tick(int ms, std::function<void()> tick);
    // Called around each handler and around the tick (not around the wait):
    // the node pauses the data-plane workers there.  Per handler, not per
    // round: the workers then wait for one handler at most, never for the
    // 64 a busy round can have (docs/DESIGN.md §7).
    void set_guard(std::function<void()> enter, std::function<void()> leave) {
        enter_ = std::move(enter);
        leave_ = std::move(leave);
    }
    // Runs f once after the current round, outside the guard (the workers
    // running again): for blocking work such as an fsync that touches
    // nothing the workers read (docs/DESIGN.md §7).  From a handler or the
    // tick; f may defer again (it then runs after the next round).
    void defer(std::function<void()> f) { deferred_.push_back(std::move(f)); }
    // Runs f at once with the guard left (workers running) and takes it
    // again after: for a long computation or blocking read in a handler that
    // touches nothing the workers read (a TLS handshake step, reading files
    // at reload).  Outside a handler, f just runs.
    void unguarded(const std::function<void()> &f);
    // In an on_demand handler: takes the guard now unless it is held (it
    // is left when the handler returns).  Elsewhere it is held already, or
    // there is nothing to guard (before run(), deferred work): no-op.
    void take_guard();
    void run();                 // until stop()
    void stop() { running_ = false; }
    static int64_t now_ms();    // CLOCK_MONOTONIC
    static int64_t now_us();

private:
    struct Release;
    void guard(const std::function<void()> &f);
    void release();   // leaves the guard if it is held
    int ep_ = -1;
    bool running_ = false;
    int tick_ms_ = 1000;
    int64_t next_tick_ = 0;
    std::function<void()> tick_, enter_, leave_;
    bool guarded_ = false;
    bool on_demand_ = false;   // an on_demand handler runs
    struct Entry {
        Handler h;
        Guard g;
    };
    std::unordered_map<int, std::shared_ptr<Entry>> handlers_;
    std::vector<std::function<void()>> deferred_, running_deferred_;
};

}  // namespace lm
