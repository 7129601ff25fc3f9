// SPDX-License-Identifier: MIT
// TUN creation and Netlink against the real kernel, each test in a throwaway
// network namespace (a forked child that calls unshare(CLONE_NEWNET)), with
// `ip -j` as the independent oracle.  Skipped without the privilege to
// create namespaces.  Addresses only from 198.18.0.0/15 and 2001:db8::/32.
#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>

#include <gtest/gtest.h>

#include "net/netlink.h"
#include "net/tun.h"

namespace lm {
namespace {

// Failures inside the child are collected as text and shipped to the parent
// through a pipe, since gtest assertions in a forked child are invisible.
struct Checker {
    std::string failures;
    void fail(int line, const std::string &what) {
        failures += "line " + std::to_string(line) + ": " + what + "\n";
    }
};
#define CHECK(cond) \
    do { if (!(cond)) c.fail(__LINE__, #cond); } while (0)
#define CHECK_MSG(cond, msg) \
    do { if (!(cond)) c.fail(__LINE__, std::string(#cond) + ": " + (msg)); } while (0)

// Runs `body` in a child in a new network namespace.  Returns the collected
// failures, "" on success, or "SKIP: ..." if no namespace could be made.
std::string in_netns(const std::function<void(Checker &)> &body) {
    int p[2];
    if (pipe(p) < 0) return std::string("pipe: ") + std::strerror(errno);
    fflush(nullptr);  // no duplicated stdio buffers in the child
    pid_t pid = fork();
    if (pid < 0) return std::string("fork: ") + std::strerror(errno);
    if (pid == 0) {
        close(p[0]);
        Checker c;
        if (unshare(CLONE_NEWNET) < 0)
            c.failures = std::string("SKIP: unshare(CLONE_NEWNET): ") + std::strerror(errno);
        else
            body(c);
        ssize_t n = write(p[1], c.failures.data(), c.failures.size());
        (void)n;
        _exit(0);
    }
    close(p[1]);
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = read(p[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0) out.append(buf, size_t(n));
    close(p[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        out += "child died (status " + std::to_string(status) + ")\n";
    return out;
}

// Variadic because the lambda body contains commas.
#define RUN_IN_NETNS(...)                                         \
    do {                                                          \
        if (geteuid() != 0) GTEST_SKIP() << "needs root";         \
        std::string r = in_netns(__VA_ARGS__);                    \
        if (r.rfind("SKIP", 0) == 0) GTEST_SKIP() << r;           \
        EXPECT_EQ(r, "");                                         \
    } while (0)

std::string sh(const std::string &cmd) {
    std::string out;
    FILE *f = popen(cmd.c_str(), "r");
    if (!f) return out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    pclose(f);
    return out;
}

bool has(const std::string &hay, const std::string &needle) {
    return hay.find(needle) != std::string::npos;
}

IpAddr A(const char *s) { return *IpAddr::parse(s); }
Prefix P(const char *s) { return *Prefix::parse(s); }

TEST(Netlink, TunOpenFlagsAndName) {
    RUN_IN_NETNS([](Checker &c) {
        std::string name, err;
        int fd = tun_open("lmtest0", false, &name, &err);
        CHECK_MSG(fd >= 0, err);
        if (fd < 0) return;
        CHECK(name == "lmtest0");
        CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
        CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        std::string link = sh("ip -j -d link show dev lmtest0");
        CHECK_MSG(has(link, "\"type\":\"tun\"") && has(link, "\"pi\":false"), link);

        // The kernel fills in a template name.
        std::string tmpl;
        int fd2 = tun_open("lmtest%d", false, &tmpl, &err);
        CHECK_MSG(fd2 >= 0, err);
        CHECK_MSG(tmpl == "lmtest1", tmpl);

        // A name that does not fit IFNAMSIZ is refused, not truncated.
        CHECK(tun_open("lm-0123456789abc", false, &tmpl, &err) == -1);
        CHECK_MSG(has(err, "TUNSETIFF lm-0123456789abc: "), err);
        close(fd2);
        close(fd);
    });
}

TEST(Netlink, TunMultiQueue) {
    RUN_IN_NETNS([](Checker &c) {
        std::string name, err;
        int q0 = tun_open("lmtest-mq", true, &name, &err);
        CHECK_MSG(q0 >= 0, err);
        int q1 = tun_open("lmtest-mq", true, &name, &err);
        CHECK_MSG(q1 >= 0, err);
        std::string link = sh("ip -j -d link show dev lmtest-mq");
        CHECK_MSG(has(link, "\"multi_queue\":true"), link);
        // A single-queue open of a multi-queue device is refused.
        CHECK(tun_open("lmtest-mq", false, &name, &err) == -1);
        CHECK_MSG(has(err, "TUNSETIFF lmtest-mq: Invalid argument"), err);
        close(q1);
        close(q0);
    });
}

TEST(Netlink, AddressesRoutesAndCleanup) {
    RUN_IN_NETNS([](Checker &c) {
        std::string dev, err;
        int fd = tun_open("lmtest0", false, &dev, &err);
        CHECK_MSG(fd >= 0, err);
        if (fd < 0) return;
        Netlink nl;
        CHECK_MSG(nl.open(&err), err);
        CHECK_MSG(nl.link_up(dev, 1400, &err), err);
        std::string link = sh("ip -j link show dev lmtest0");
        CHECK_MSG(has(link, "\"mtu\":1400") && has(link, "\"UP\""), link);

        // net30/p2p style, subnet style, IPv6.
        IpAddr peer = A("198.18.0.2");
        CHECK_MSG(nl.addr_add(dev, A("198.18.0.1"), 32, &peer, &err), err);
        CHECK_MSG(nl.addr_add(dev, A("198.18.1.1"), 24, nullptr, &err), err);
        CHECK_MSG(nl.addr_add(dev, A("2001:db8:1::1"), 64, nullptr, &err), err);
        std::string addrs = sh("ip -j addr show dev lmtest0");
        CHECK_MSG(has(addrs, "\"local\":\"198.18.0.1\",\"address\":\"198.18.0.2\",\"prefixlen\":32"),
                  addrs);
        CHECK_MSG(has(addrs, "\"local\":\"198.18.1.1\",\"prefixlen\":24,"
                             "\"broadcast\":\"198.18.1.255\""),
                  addrs);
        CHECK_MSG(has(addrs, "\"local\":\"2001:db8:1::1\",\"prefixlen\":64"), addrs);

        // Routes with and without gateway, both families.
        IpAddr gw6 = A("2001:db8:1::2");
        CHECK_MSG(nl.route_add(dev, P("198.18.5.0/24"), &peer, &err), err);
        CHECK_MSG(nl.route_add(dev, P("198.18.6.0/24"), nullptr, &err), err);
        CHECK_MSG(nl.route_add(dev, P("2001:db8:5::/64"), &gw6, &err), err);
        CHECK_MSG(nl.route_add(dev, P("2001:db8:6::/64"), nullptr, &err), err);
        std::string r4 = sh("ip -j route show proto 250");
        CHECK_MSG(has(r4, "{\"dst\":\"198.18.5.0/24\",\"gateway\":\"198.18.0.2\",\"dev\":\"lmtest0\""),
                  r4);
        CHECK_MSG(has(r4, "{\"dst\":\"198.18.6.0/24\",\"dev\":\"lmtest0\",\"scope\":\"link\""), r4);
        std::string r6 = sh("ip -j -6 route show proto 250");
        CHECK_MSG(has(r6, "{\"dst\":\"2001:db8:5::/64\",\"gateway\":\"2001:db8:1::2\""), r6);
        CHECK_MSG(has(r6, "{\"dst\":\"2001:db8:6::/64\",\"dev\":\"lmtest0\""), r6);

        // A route that already exists is an error the caller sees, and is
        // not ours to remove later.
        // (An address of its own keeps the kernel from flushing the foreign
        // route when our last IPv4 address goes.)
        CHECK_MSG(!sh("ip addr add 198.18.3.1/24 dev lmtest0 2>&1").size(), "ip addr add");
        CHECK_MSG(!sh("ip route add 198.18.7.0/24 dev lmtest0 2>&1").size(), "ip route add");
        CHECK(!nl.addr_add(dev, A("198.18.3.1"), 24, nullptr, &err));
        CHECK(!nl.route_add(dev, P("198.18.5.0/24"), &peer, &err));
        CHECK_MSG(err == "route add 198.18.5.0/24 via 198.18.0.2 dev lmtest0 proto 250: File exists",
                  err);
        CHECK(!nl.route_add(dev, P("198.18.7.0/24"), nullptr, &err));
        CHECK_MSG(has(err, ": File exists"), err);
        CHECK(!nl.addr_add(dev, A("198.18.1.1"), 24, nullptr, &err));
        CHECK_MSG(has(err, ": File exists"), err);

        // The kernel's own errno comes through, not libnl's summary.
        IpAddr far = A("198.18.99.1");
        CHECK(!nl.route_add(dev, P("198.18.8.0/24"), &far, &err));
        CHECK_MSG(has(err, ": Network is unreachable"), err);
        CHECK(!nl.route_add("lmtest-none", P("198.18.8.0/24"), nullptr, &err));
        CHECK_MSG(has(err, "lmtest-none: No such device"), err);
        IpAddr peer6 = A("2001:db8:1::2");
        CHECK(!nl.addr_add(dev, A("2001:db8:1::3"), 128, &peer6, &err));

        // route_del removes one route and forgets it.
        CHECK_MSG(nl.route_del(dev, P("198.18.6.0/24"), nullptr, &err), err);
        CHECK(!has(sh("ip -j route show proto 250"), "198.18.6.0/24"));
        CHECK(!nl.route_del(dev, P("198.18.6.0/24"), nullptr, &err));
        CHECK_MSG(has(err, ": No such process"), err);

        // Something removed by hand behind our back is skipped quietly.
        sh("ip route del 2001:db8:6::/64 dev lmtest0");

        nl.cleanup();
        addrs = sh("ip -j addr show dev lmtest0");
        CHECK_MSG(!has(addrs, "198.18.0.1") && !has(addrs, "198.18.1.1") &&
                      !has(addrs, "2001:db8:1::1"),
                  addrs);
        r4 = sh("ip -j route show proto 250");
        r6 = sh("ip -j -6 route show proto 250");
        CHECK_MSG(r4 == "[]\n" || r4 == "[ ]\n", r4);
        CHECK_MSG(r6 == "[]\n" || r6 == "[ ]\n", r6);
        // What someone else added is still there.
        CHECK(has(sh("ip -j route show dev lmtest0"), "198.18.7.0/24"));
        CHECK(has(addrs, "\"local\":\"198.18.3.1\""));
        nl.cleanup();  // nothing left to do; must be harmless
        close(fd);
    });
}

TEST(Netlink, CleanupAfterDeviceIsGone) {
    RUN_IN_NETNS([](Checker &c) {
        std::string dev, err;
        int fd = tun_open("lmtest0", false, &dev, &err);
        CHECK_MSG(fd >= 0, err);
        if (fd < 0) return;
        Netlink nl;
        CHECK_MSG(nl.open(&err), err);
        CHECK_MSG(nl.link_up(dev, 0, &err), err);
        CHECK_MSG(nl.addr_add(dev, A("198.18.2.1"), 24, nullptr, &err), err);
        CHECK_MSG(nl.route_add(dev, P("198.18.9.0/24"), nullptr, &err), err);
        close(fd);  // a non-persistent TUN disappears with its last fd
        CHECK(!has(sh("ip -j link show"), "lmtest0"));
        nl.cleanup();  // everything already gone: no crash, nothing to do
        CHECK(!nl.link_up(dev, 1400, &err));
        CHECK_MSG(has(err, "No such device"), err);
    });
}

TEST(Netlink, NotOpen) {
    Netlink nl;
    std::string err;
    EXPECT_FALSE(nl.link_up("lmtest0", 1400, &err));
    EXPECT_EQ(err, "netlink: not open");
    EXPECT_FALSE(nl.route_add("lmtest0", P("198.18.9.0/24"), nullptr, &err));
    nl.cleanup();
}

}  // namespace
}  // namespace lm
