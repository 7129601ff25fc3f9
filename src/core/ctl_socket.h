// SPDX-License-Identifier: MIT
// The control socket RUNDIR/NET.sock that lanmesh(8) talks to.
//
// Wire protocol (version 1), a stream socket, text in both directions:
//
//   request   one line, at most kMaxCtlRequest bytes with its '\n', of
//             printable ASCII words separated by spaces: the command line of
//             lanmesh(8) in canonical form, without prefixes, preceded by one
//             "-s" per statistics level:
//                 link show              -s -s peer show alice
//                 sa show peer alice     route add 198.19.5.0/24 via bob
//                 monitor rekey refused  reload
//   response  one JSON value on one line, then the daemon closes the
//             connection: an object ("link show", changes) or an array
//             ("peer show", "sa show", "route show", "lease show"), or
//             {"error":"one line"} when the request failed.  A result object
//             never has an "error" member.
//   status    the whole state in one object: a debugging dump for tests
//             and for humans with socat; lanmesh(8) never sends it.
//   monitor   the answer is {"monitor":[KINDS]} and the connection stays
//             open: one JSON object per line per event (core/events.h) until
//             the client closes it.  A monitor that does not read is cut
//             once kMaxCtlBacklog bytes are waiting for it.
//
// Who may do what: the socket is mode 0660, owned by root and the primary
// group of the daemon's User (lanmesh.conf(5)), so the file system decides
// who may connect.  The handler gets the caller's uid from SO_PEERCRED and
// allows changes to uid 0 only.  Bad input costs one short error line, never
// the daemon.
//
// Busy: at most kMaxCtlConnections at once, of which kCtlRootSlots only for
// uid 0, so idle callers of the group cannot lock root out.  A caller has
// kCtlRequestTimeoutMs to send its whole request line.  A connection over
// the limit gets {"error":"daemon busy, try again"} and is closed.
//
// Control path only; lives on the daemon's event loop.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>

#include "core/loop.h"

namespace lm {

constexpr size_t kMaxCtlRequest = 4096;
constexpr size_t kMaxCtlBacklog = 1 << 20;
constexpr int64_t kCtlRequestTimeoutMs = 1000;   // to send the request line
constexpr size_t kMaxCtlConnections = 64, kCtlRootSlots = 4, kMaxCtlMonitors = 16;
constexpr const char *kCtlBusy = "daemon busy, try again";

struct CtlReply {
    std::string body;        // newline-terminated JSON line
    unsigned subscribe = 0;  // event kinds to stream afterwards (core/events.h)
};

class CtlSocket {
public:
    using Handler = std::function<CtlReply(const std::string &request, uid_t uid)>;

    // Creates the socket, mode 0660, and hands it to `group` unless that is
    // gid_t(-1).  A socket file left by a crash is replaced; one that a
    // daemon still answers on is not touched, and open() fails.
    bool open(EventLoop &loop, const std::string &path, gid_t group, Handler h, std::string *err);
    void close();
    ~CtlSocket() { close(); }
    const std::string &path() const { return path_; }

    // Closes connections that have not sent their request in time.
    void tick(int64_t now_ms);
    // Event delivery to monitors whose subscription intersects `kinds`.
    bool has_subscribers(unsigned kinds) const;
    void publish(unsigned kinds, const std::string &line);

private:
    struct Conn {
        std::string in, out;
        uid_t uid = uid_t(-1);
        int64_t deadline_ms = 0;
        bool answered = false;
        unsigned subscribed = 0;
    };

    void on_accept();
    void refuse_busy(int fd);
    void on_event(int fd, uint32_t events);
    bool read_request(int fd, Conn &c);
    void answer(int fd, Conn &c, bool bad);
    bool flush(int fd, Conn &c);
    void drop(int fd);

    EventLoop *loop_ = nullptr;
    int fd_ = -1;
    std::string path_;
    Handler handler_;
    std::unordered_map<int, Conn> conns_;
};

}  // namespace lm
