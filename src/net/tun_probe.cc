// SPDX-License-Identifier: MIT
#include "net/tun_probe.h"

#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>

#include <cerrno>
#include <cstring>

#include "net/mnl_request.h"

namespace lm {

namespace {

// What the kernel says about one link.
struct LinkFacts {
    bool found = false;
    std::string kind;        // IFLA_INFO_KIND, "" for a device without one
    bool tun = false;        // IFLA_TUN_TYPE is IFF_TUN (not TAP)
    bool persistent = false;
    uint32_t queues = 0, disabled = 0;
};

int tun_attr(const nlattr *a, void *data) {
    auto *f = static_cast<LinkFacts *>(data);
    switch (mnl_attr_get_type(a)) {
    case IFLA_TUN_TYPE:
        if (mnl_attr_validate(a, MNL_TYPE_U8) == 0) f->tun = mnl_attr_get_u8(a) == IFF_TUN;
        break;
    case IFLA_TUN_PERSIST:
        if (mnl_attr_validate(a, MNL_TYPE_U8) == 0) f->persistent = mnl_attr_get_u8(a) != 0;
        break;
    case IFLA_TUN_NUM_QUEUES:
        if (mnl_attr_validate(a, MNL_TYPE_U32) == 0) f->queues = mnl_attr_get_u32(a);
        break;
    case IFLA_TUN_NUM_DISABLED_QUEUES:
        if (mnl_attr_validate(a, MNL_TYPE_U32) == 0) f->disabled = mnl_attr_get_u32(a);
        break;
    }
    return MNL_CB_OK;
}

int linkinfo_attr(const nlattr *a, void *data) {
    auto *f = static_cast<LinkFacts *>(data);
    if (mnl_attr_get_type(a) == IFLA_INFO_KIND && mnl_attr_validate(a, MNL_TYPE_STRING) == 0)
        f->kind = mnl_attr_get_str(a);
    else if (mnl_attr_get_type(a) == IFLA_INFO_DATA)
        mnl_attr_parse_nested(a, tun_attr, data);
    return MNL_CB_OK;
}

int link_attr(const nlattr *a, void *data) {
    if (mnl_attr_get_type(a) == IFLA_LINKINFO) mnl_attr_parse_nested(a, linkinfo_attr, data);
    return MNL_CB_OK;
}

int on_link(const nlmsghdr *nlh, void *data) {
    static_cast<LinkFacts *>(data)->found = true;
    mnl_attr_parse(nlh, sizeof(ifinfomsg), link_attr, data);
    return MNL_CB_OK;
}

// False with *err when the kernel could not be asked.
bool ask_kernel(const std::string &name, LinkFacts *f, std::string *err) {
    char buf[MNL_SOCKET_BUFFER_SIZE];
    nlmsghdr *nlh = mnl_request_start(buf, RTM_GETLINK);
    auto *ifi = static_cast<ifinfomsg *>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
    ifi->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
    int rc = mnl_route_request(nlh, on_link, f, err);
    if (rc <= 0) return rc == 0;
    if (rc == ENODEV) return true;  // no such device: not found
    *err = std::string("netlink: ") + strerror(rc);
    return false;
}

}  // namespace

std::string tun_device_unusable(const std::string &name) {
    if (name.empty()) return "";   // the kernel picks a new name
    LinkFacts f;
    std::string err;
    if (!ask_kernel(name, &f, &err)) return "cannot check whether device " + name + " exists: " + err;
    if (!f.found) return "";
    if (f.kind != "tun" || !f.tun)
        return "device " + name + " exists and is not a TUN device; choose another Device";
    if (!f.persistent || f.queues + f.disabled > 0)
        return "device " + name + " is in use (" + std::to_string(f.queues + f.disabled) +
               " queue(s) attached): another lanmeshd or program runs on it; only a persistent device "
               "nobody has open (ip tuntap add) may be reused";
    return "";
}

}  // namespace lm
