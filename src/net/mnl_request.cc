// SPDX-License-Identifier: MIT
#include "net/mnl_request.h"

#include <linux/netlink.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "common/might_block.h"

namespace lm {

namespace {

struct MnlClose {
    void operator()(mnl_socket *s) const { mnl_socket_close(s); }
};

}  // namespace

nlmsghdr *mnl_request_start(char *buf, uint16_t type) {
    nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    nlh->nlmsg_seq = 1;
    return nlh;
}

int mnl_route_request(nlmsghdr *req, mnl_cb_t on_answer, void *data, std::string *err) {
    might_block(BlockingCall::netlink, "netlink request");
    std::unique_ptr<mnl_socket, MnlClose> nl(mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC));
    if (!nl || mnl_socket_bind(nl.get(), 0, MNL_SOCKET_AUTOPID) < 0 ||
        mnl_socket_sendto(nl.get(), req, req->nlmsg_len) < 0) {
        *err = std::string("netlink: ") + strerror(errno);
        return -1;
    }
    unsigned portid = mnl_socket_get_portid(nl.get());
    unsigned seq = req->nlmsg_seq;
    char buf[MNL_SOCKET_BUFFER_SIZE];
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(nl.get(), buf, sizeof buf);
        if (n < 0) {
            *err = std::string("netlink: ") + strerror(errno);
            return -1;
        }
        int rc = mnl_cb_run(buf, size_t(n), seq, portid, on_answer, data);
        if (rc == MNL_CB_STOP) return 0;   // the ACK: done
        if (rc < 0) return errno != 0 ? errno : EPROTO;   // never 0, which is the ACK
    }
}

}  // namespace lm
