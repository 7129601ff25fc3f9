// SPDX-License-Identifier: MIT
// The random side's extra sockets (src/mesh/birthday_ports.h), on loopback:
// each is bound to its own port, sends its opener, and tells which port a
// datagram arrived on.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>

#include "mesh/birthday_ports.h"

namespace lm {
namespace {

struct Receiver {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    Endpoint ep;
    Receiver() {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a);
        sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        getsockname(fd, reinterpret_cast<sockaddr *>(&ss), &sl);
        ep = Endpoint::from_sockaddr(reinterpret_cast<sockaddr *>(&ss));
    }
    ~Receiver() { close(fd); }
};

TEST(BirthdayPorts, EachSocketOpensItsOwnPortAndReportsWhereADatagramLanded) {
    Receiver peer;
    BirthdayPorts ports;
    int prepared = 0;
    std::string err;
    ASSERT_EQ(ports.open(AF_INET, 8, [&](int) { prepared++; }, &err), 8) << err;
    EXPECT_EQ(prepared, 8);
    const uint8_t opener[] = {0, 0, 0, 0, 'x'};
    EXPECT_EQ(ports.send_all(peer.ep, opener, sizeof opener, 4), 8);
    std::set<uint16_t> from_ports;
    uint8_t buf[64];
    sockaddr_storage ss;
    for (int i = 0; i < 8; i++) {
        socklen_t sl = sizeof ss;
        ASSERT_EQ(recvfrom(peer.fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr *>(&ss), &sl), 5);
        from_ports.insert(Endpoint::from_sockaddr(reinterpret_cast<sockaddr *>(&ss)).port);
    }
    ASSERT_EQ(from_ports.size(), 8u) << "two sockets shared a port";
    // The peer answers one of them: poll says which.
    uint16_t target = *std::next(from_ports.begin(), 5);
    Endpoint to{*IpAddr::parse("127.0.0.1"), target};
    socklen_t tl = to.to_sockaddr(&ss);
    ASSERT_EQ(sendto(peer.fd, "hit", 3, 0, reinterpret_cast<sockaddr *>(&ss), tl), 3);
    usleep(10000);
    int calls = 0;
    ports.poll(64, [&](const uint8_t *p, size_t len, const Endpoint &from, uint16_t port) {
        calls++;
        EXPECT_EQ(std::string(reinterpret_cast<const char *>(p), len), "hit");
        EXPECT_EQ(from, peer.ep);
        EXPECT_EQ(port, target);
        ports.close_all();   // a hit closes them all, from inside the callback
    });
    EXPECT_EQ(calls, 1);
    EXPECT_FALSE(ports.is_open());
    // Closed: the port is free for the data plane to bind.
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(target);
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a), 0);
    close(fd);
}

}  // namespace
}  // namespace lm
