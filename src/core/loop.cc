// SPDX-License-Identifier: MIT
#include "core/loop.h"

#include <errno.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <string>

namespace lm {

EventLoop::EventLoop() {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) throw std::runtime_error(std::string("epoll_create1: ") + strerror(errno));
}

EventLoop::~EventLoop() { close(ep_); }

int64_t EventLoop::now_us() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

int64_t EventLoop::now_ms() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

void EventLoop::add(int fd, uint32_t events, Handler h, Guard g) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    if (epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) < 0)
        throw std::runtime_error(std::string("epoll_ctl add: ") + strerror(errno));
    handlers_[fd] = std::make_shared<Entry>(Entry{std::move(h), g});
}

void EventLoop::modify(int fd, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    epoll_ctl(ep_, EPOLL_CTL_MOD, fd, &ev);
}

void EventLoop::remove(int fd) {
    epoll_ctl(ep_, EPOLL_CTL_DEL, fd, nullptr);
    handlers_.erase(fd);
}

void EventLoop::set_tick(int ms, std::function<void()> tick) {
    tick_ms_ = ms;
    tick_ = std::move(tick);
    next_tick_ = now_ms() + ms;
}

// A handler that throws still lets the workers go (and the log lines of
// its hold out, common/log.h) before the exception leaves the loop: else
// the daemon's last words would be lost and stopping the workers would hang.
struct EventLoop::Release {
    EventLoop &loop;
    ~Release() { loop.release(); }
};

void EventLoop::release() {
    if (!guarded_) return;
    guarded_ = false;
    if (leave_) leave_();
}

// guarded_ is true only between a finished enter_ and the next leave_: what
// enter_ itself runs (the workers' mail, delivered by the node's pause)
// must not leave and re-enter a guard that is only half taken, so an
// unguarded() call from there runs in place.
void EventLoop::guard(const std::function<void()> &f) {
    if (enter_) enter_();
    guarded_ = true;
    Release r{*this};
    f();
}

void EventLoop::unguarded(const std::function<void()> &f) {
    if (!guarded_) return f();
    guarded_ = false;
    if (leave_) leave_();
    f();
    if (enter_) enter_();
    guarded_ = true;
}

void EventLoop::take_guard() {
    if (!on_demand_ || guarded_) return;
    if (enter_) enter_();
    guarded_ = true;
}

void EventLoop::run() {
    running_ = true;
    epoll_event evs[64];
    while (running_) {
        int timeout = -1;
        if (tick_) timeout = int(std::max<int64_t>(0, next_tick_ - now_ms()));
        int n = epoll_wait(ep_, evs, 64, timeout);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw std::runtime_error(std::string("epoll_wait: ") + strerror(errno));
        }
        for (int i = 0; i < n && running_; i++) {
            auto it = handlers_.find(evs[i].data.fd);
            if (it == handlers_.end()) continue;
            auto e = it->second;   // keep alive even if the handler removes itself
            if (e->g == Guard::whole) {
                guard([&] { e->h(evs[i].events); });
                continue;
            }
            on_demand_ = true;
            {
                Release r{*this};   // the guard, if the handler took it
                e->h(evs[i].events);
            }
            on_demand_ = false;
        }
        if (tick_ && now_ms() >= next_tick_) {
            next_tick_ = now_ms() + tick_ms_;
            guard(tick_);
        }
        running_deferred_.swap(deferred_);
        for (auto &f : running_deferred_) f();
        running_deferred_.clear();
    }
}

}  // namespace lm
