// SPDX-License-Identifier: MIT
// The control loop's guard (core/loop.h): the workers are held around each
// handler and the tick, never across a whole round, never while a handler
// runs unguarded work (a handshake step, reading files), and deferred work
// runs with them free (docs/DESIGN.md §7).
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "control/tls_conn.h"
#include "core/loop.h"

namespace lm {
namespace {

struct Guarded {
    EventLoop loop;
    std::vector<std::string> log;
    bool held = false;
    Guarded() {
        loop.set_guard([this] { EXPECT_FALSE(held); held = true; log.push_back("enter"); },
                       [this] { EXPECT_TRUE(held); held = false; log.push_back("leave"); });
    }
};

int ready_fd() {
    int fd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
    EXPECT_GE(fd, 0);
    return fd;
}

TEST(EventLoop, HoldsTheWorkersPerHandlerNotPerRound) {
    Guarded g;
    int a = ready_fd(), b = ready_fd();
    int seen = 0;
    auto handler = [&](const char *name, int fd) {
        return [&, name, fd](uint32_t) {
            EXPECT_TRUE(g.held) << name << " ran without the guard";
            g.log.push_back(name);
            uint64_t v;
            (void)!read(fd, &v, sizeof v);
            if (++seen == 2) g.loop.stop();
        };
    };
    g.loop.add(a, EPOLLIN, handler("a", a));
    g.loop.add(b, EPOLLIN, handler("b", b));
    g.loop.run();
    // Both fds were ready in one round: each handler has its own hold.
    ASSERT_EQ(g.log.size(), 6u);
    EXPECT_EQ(g.log[0], "enter");
    EXPECT_EQ(g.log[2], "leave");
    EXPECT_EQ(g.log[3], "enter");
    EXPECT_EQ(g.log[5], "leave");
    EXPECT_FALSE(g.held);
    close(a);
    close(b);
}

TEST(EventLoop, UnguardedWorkRunsWithTheWorkersFree) {
    Guarded g;
    int fd = ready_fd();
    g.loop.add(fd, EPOLLIN, [&](uint32_t) {
        g.log.push_back("before");
        g.loop.unguarded([&] {
            EXPECT_FALSE(g.held);
            g.log.push_back("work");
        });
        EXPECT_TRUE(g.held) << "the handler continues under the guard";
        g.log.push_back("after");
        g.loop.stop();
    });
    g.loop.run();
    EXPECT_EQ(g.log, (std::vector<std::string>{"enter", "before", "leave", "work", "enter", "after", "leave"}));
    close(fd);
}

TEST(EventLoop, DeferredWorkRunsAfterTheRoundOutsideTheGuard) {
    Guarded g;
    int fd = ready_fd();
    g.loop.add(fd, EPOLLIN, [&](uint32_t) {
        g.loop.defer([&] {
            EXPECT_FALSE(g.held);
            g.log.push_back("deferred");
        });
        g.log.push_back("handler");
        g.loop.stop();
    });
    g.loop.run();
    EXPECT_EQ(g.log, (std::vector<std::string>{"enter", "handler", "leave", "deferred"}));
    close(fd);
}

TEST(EventLoop, TheTickHasItsOwnHold) {
    Guarded g;
    g.loop.set_tick(1, [&] {
        EXPECT_TRUE(g.held);
        g.log.push_back("tick");
        g.loop.stop();
    });
    g.loop.run();
    EXPECT_EQ(g.log, (std::vector<std::string>{"enter", "tick", "leave"}));
}

// The node's enter hook delivers the workers' mail, and what the mail's
// hooks run may ask for unguarded work (a netlink call): that runs in place,
// inside the hold being taken, never by leaving a guard only half entered.
TEST(EventLoop, UnguardedWorkAskedWhileTheGuardIsTakenRunsInPlace) {
    EventLoop loop;
    int depth = 0, enters = 0, depth_in_mail = -1;
    loop.set_guard(
        [&] {
            depth++;
            // The second enter is the handler taking the guard back after
            // its own unguarded work: the mail delivered then wants some too.
            if (++enters == 2) loop.unguarded([&] { depth_in_mail = depth; });
        },
        [&] { depth--; });
    int fd = ready_fd();
    loop.add(fd, EPOLLIN, [&](uint32_t) {
        loop.unguarded([&] { EXPECT_EQ(depth, 0); });
        EXPECT_EQ(depth, 1);
        loop.stop();
    });
    loop.run();
    EXPECT_EQ(depth_in_mail, 1) << "the mail's unguarded work left a guard that was being taken";
    EXPECT_EQ(depth, 0);
    EXPECT_EQ(enters, 2);
    close(fd);
}

// A handler registered with Guard::on_demand (accepting, a session's TLS
// handshake) runs free until it asks for the guard, holds it from there to
// its end, and takes it once however often it asks.
TEST(EventLoop, OnDemandHandlersHoldOnlyFromTheirFirstNeed) {
    Guarded g;
    int fd = ready_fd();
    g.loop.add(
        fd, EPOLLIN,
        [&](uint32_t) {
            EXPECT_FALSE(g.held);
            g.loop.unguarded([&] { g.log.push_back("handshake step"); });
            g.loop.take_guard();
            g.log.push_back("record");
            g.loop.take_guard();
            g.loop.unguarded([&] { g.log.push_back("netlink"); });
            EXPECT_TRUE(g.held);
            g.loop.stop();
        },
        EventLoop::Guard::on_demand);
    g.loop.run();
    EXPECT_EQ(g.log, (std::vector<std::string>{"handshake step", "enter", "record", "leave", "netlink", "enter",
                                               "leave"}));
    EXPECT_FALSE(g.held);
    // Outside a handler there is nothing to take.
    g.loop.take_guard();
    EXPECT_FALSE(g.held);
    close(fd);
}

TEST(EventLoop, AHandlerThatThrowsStillReleasesTheWorkers) {
    for (auto how : {EventLoop::Guard::whole, EventLoop::Guard::on_demand}) {
        Guarded g;
        int fd = ready_fd();
        g.loop.add(
            fd, EPOLLIN,
            [&](uint32_t) {
                g.loop.take_guard();
                throw std::runtime_error("fatal");
            },
            how);
        EXPECT_THROW(g.loop.run(), std::runtime_error);
        EXPECT_FALSE(g.held) << "the workers stayed held after the exception";
        EXPECT_EQ(g.log, (std::vector<std::string>{"enter", "leave"}));
        close(fd);
    }
}

TEST(EventLoop, UnguardedOutsideAHandlerJustRuns) {
    Guarded g;
    bool ran = false;
    g.loop.unguarded([&] { ran = true; });
    EXPECT_TRUE(ran);
    EXPECT_TRUE(g.log.empty());
}

// A TLS connection runs its handshake steps through the runner it was given
// (the node's: EventLoop::unguarded), not through process-wide hooks.
TEST(EventLoop, TlsHandshakeStepsGoThroughTheConnectionsRunner) {
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    ASSERT_NE(ctx, nullptr);
    int steps = 0;
    {
        TlsConn c(ctx, sv[0], false, [&](const std::function<void()> &step) {
            steps++;
            step();
        });
        c.on_io([](MsgType, const std::vector<uint8_t> &) { return true; });
        EXPECT_EQ(steps, 1);   // the ClientHello went out in a step of its own
    }   // closes sv[0]
    SSL_CTX_free(ctx);
    close(sv[1]);
}

}  // namespace
}  // namespace lm
