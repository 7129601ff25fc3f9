// SPDX-License-Identifier: MIT
// A small epoll loop with one periodic tick.  Handlers are looked up by fd at
// dispatch time, so a handler may remove any fd (its own included) safely.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>

namespace lm {

class EventLoop {
public:
    using Handler = std::function<void(uint32_t events)>;

    EventLoop();
    ~EventLoop();
    void add(int fd, uint32_t events, Handler h);
    void modify(int fd, uint32_t events);
    void remove(int fd);
    void set_tick(int ms, std::function<void()> tick);
    // Called around each round of handlers and the tick (not around the
    // wait): the node pauses the data-plane workers there.
    void set_guard(std::function<void()> enter, std::function<void()> leave) {
        enter_ = std::move(enter);
        leave_ = std::move(leave);
    }
    void run();                 // until stop()
    void stop() { running_ = false; }
    static int64_t now_ms();    // CLOCK_MONOTONIC
    static int64_t now_us();

private:
    int ep_ = -1;
    bool running_ = false;
    int tick_ms_ = 1000;
    int64_t next_tick_ = 0;
    std::function<void()> tick_, enter_, leave_;
    std::unordered_map<int, std::shared_ptr<Handler>> handlers_;
};

}  // namespace lm
