// SPDX-License-Identifier: MIT
#include "net/policy_rules.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <time.h>

#include <cstring>

#include "common/log.h"
#include "common/might_block.h"

namespace lm {

namespace {

const char *family_name(int family) { return family == AF_INET6 ? "-6 " : ""; }

// The rule as ip(8) would print it, for log lines and errors.
std::string describe(bool add, int family, bool suppress, uint32_t mark) {
    std::string s = std::string("ip ") + family_name(family) + (add ? "rule add " : "rule del ");
    if (suppress) return s + "pref " + std::to_string(kRulePrefSuppress) + " lookup main suppress_prefixlength 0";
    return s + "pref " + std::to_string(kRulePrefTable) + " not fwmark " + std::to_string(mark) + " lookup " +
           std::to_string(mark);
}

}  // namespace

PolicyRules::~PolicyRules() {
    if (nl_) mnl_socket_close(nl_);
}

bool PolicyRules::open(std::string *err) {
    if (nl_) return true;
    might_block(BlockingCall::netlink, "netlink open");
    nl_ = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
    if (!nl_ || mnl_socket_bind(nl_, 0, MNL_SOCKET_AUTOPID) < 0) {
        *err = std::string("netlink socket for rules: ") + strerror(errno);
        if (nl_) mnl_socket_close(nl_);
        nl_ = nullptr;
        return false;
    }
    seq_ = unsigned(time(nullptr));
    return true;
}

int PolicyRules::change(bool add, int family, bool suppress, uint32_t mark) {
    might_block(BlockingCall::netlink, "netlink rule change");
    alignas(nlmsghdr) char buf[512];
    nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = add ? RTM_NEWRULE : RTM_DELRULE;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0);
    nlh->nlmsg_seq = ++seq_;
    auto *h = static_cast<fib_rule_hdr *>(mnl_nlmsg_put_extra_header(nlh, sizeof(fib_rule_hdr)));
    h->family = uint8_t(family);
    h->action = FR_ACT_TO_TBL;
    if (suppress) {
        h->table = RT_TABLE_MAIN;
        mnl_attr_put_u32(nlh, FRA_PRIORITY, kRulePrefSuppress);
        mnl_attr_put_u32(nlh, FRA_TABLE, RT_TABLE_MAIN);
        mnl_attr_put_u32(nlh, FRA_SUPPRESS_PREFIXLEN, 0);
    } else {
        h->table = RT_TABLE_UNSPEC;   // the table number goes in FRA_TABLE
        h->flags = FIB_RULE_INVERT;
        mnl_attr_put_u32(nlh, FRA_PRIORITY, kRulePrefTable);
        mnl_attr_put_u32(nlh, FRA_TABLE, mark);
        mnl_attr_put_u32(nlh, FRA_FWMARK, mark);
        mnl_attr_put_u32(nlh, FRA_FWMASK, 0xffffffffu);
    }
    if (mnl_socket_sendto(nl_, nlh, nlh->nlmsg_len) < 0) return errno;
    char rbuf[MNL_SOCKET_BUFFER_SIZE];
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(nl_, rbuf, sizeof rbuf);
        if (n < 0) return errno;
        int r = mnl_cb_run(rbuf, size_t(n), nlh->nlmsg_seq, mnl_socket_get_portid(nl_), nullptr, nullptr);
        if (r == MNL_CB_ERROR) return errno;
        if (r == MNL_CB_STOP) return 0;
    }
}

bool PolicyRules::install(int family, uint32_t mark, std::string *err) {
    if (installed(family)) return true;
    if (!open(err)) return false;
    // The suppressing rule first: until the table's rule exists too, it
    // changes nothing (main is looked up anyway).
    for (bool suppress : {true, false}) {
        int e = change(true, family, suppress, mark);
        if (e == EEXIST) {
            LM_DEBUG("%s: exists already, taken over", describe(true, family, suppress, mark).c_str());
        } else if (e) {
            *err = describe(true, family, suppress, mark) + ": " + strerror(e);
            if (!suppress) change(false, family, true, mark);
            return false;
        } else {
            LM_INFO("%s", describe(true, family, suppress, mark).c_str());
        }
    }
    (family == AF_INET6 ? have6_ : have4_) = true;
    (family == AF_INET6 ? mark6_ : mark4_) = mark;
    return true;
}

void PolicyRules::remove() {
    for (int family : {AF_INET, AF_INET6}) {
        if (!installed(family)) continue;
        uint32_t mark = family == AF_INET6 ? mark6_ : mark4_;
        for (bool suppress : {false, true}) {
            int e = change(false, family, suppress, mark);
            std::string what = describe(false, family, suppress, mark);
            if (e == 0)
                LM_INFO("%s", what.c_str());
            else if (e != ENOENT)
                LM_WARN("%s: %s", what.c_str(), strerror(e));
        }
        (family == AF_INET6 ? have6_ : have4_) = false;
    }
}

}  // namespace lm
