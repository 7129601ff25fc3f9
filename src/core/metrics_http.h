// SPDX-License-Identifier: MIT
// The opt-in metrics listener (MetricsListen in lanmesh.conf(5)): a minimal
// HTTP/1.0 server on the control thread's loop that answers GET /metrics with
// the Prometheus text format and closes.  It is read-only by construction:
// the only thing it can do is render the node's counters.
//
// Bounded like every input: at most kMaxConns connections, a request head of
// at most kMaxRequest bytes, kTimeoutMs to send it and to read the answer.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/addr.h"
#include "core/loop.h"

namespace lm {

// The pure part: the whole HTTP answer to one request head.  `render` is
// called only for GET or HEAD of /metrics.
std::string metrics_http_answer(std::string_view head, const std::function<std::string()> &render);

class MetricsListener {
public:
    static constexpr size_t kMaxConns = 8, kMaxRequest = 4096;
    static constexpr int64_t kTimeoutMs = 2000;

    // Either a TCP endpoint or an absolute unix socket path.
    bool open(EventLoop &loop, const Endpoint *tcp, const std::string &unix_path,
              std::function<std::string()> render, std::string *err);
    void close();
    ~MetricsListener() { close(); }
    void tick(int64_t now_ms);
    bool is_open() const { return fd_ >= 0; }
    uint64_t refused() const { return refused_; }

private:
    struct Conn {
        std::string in, out;
        size_t sent = 0;
        int64_t deadline_ms = 0;
    };
    void on_accept();
    void on_event(int fd, uint32_t events);
    void drop(int fd);

    EventLoop *loop_ = nullptr;
    int fd_ = -1;
    std::string unix_path_;
    std::function<std::string()> render_;
    std::unordered_map<int, Conn> conns_;
    uint64_t refused_ = 0;
};

}  // namespace lm
