// What the server and the client have in common: the event loop, the TUN
// device and its netlink configuration, the data plane and its sockets, the
// control socket, signals and status output.  Role-specific work happens in
// Server and Client, which derive from this.
#pragma once
#include <ctime>
#include <memory>
#include <string>

#include "common/json.h"
#include "config/config.h"
#include "control/key_export.h"
#include "core/ctl_socket.h"
#include "core/loop.h"
#include "data/counters.h"
#include "data/dataplane.h"
#include "data/sa.h"
#include "net/netlink.h"

namespace lm {

struct ControlCounters {
    uint64_t tls_accepted = 0, tls_refused = 0, tls_timeouts = 0, protocol_errors = 0;
    uint64_t admitted = 0, disconnected = 0, rekeys = 0, connects = 0;
};

class Node {
public:
    explicit Node(const Config &cfg);
    virtual ~Node();
    // Sets everything up; on failure *err says what, and everything made so
    // far is undone by the destructor.
    bool start(std::string *err);
    void run();
    // Undo all kernel state we made (routes, addresses, the device).
    void shutdown();

protected:
    virtual bool start_role(std::string *err) = 0;
    virtual void tick_role(int64_t now_ms) = 0;
    virtual void stop_role() = 0;
    virtual void status_role(JsonWriter &j) = 0;

    bool open_tun(std::string *err);
    bool configure_link(int mtu, std::string *err);
    void watch_data_sockets();
    void tunnel_json(JsonWriter &j, const struct Tunnel &t) const;
    std::string handle_request(const std::string &req, uid_t uid);

    Config cfg_;
    EventLoop loop_;
    SaTable sas_;
    DataCounters counters_;
    ControlCounters ctl_counters_;
    Dataplane dp_;
    Netlink nl_;
    KeyExport keys_;
    CtlSocket ctl_;
    int tun_fd_ = -1;
    std::string dev_;
    int signal_fd_ = -1;
    time_t started_ = 0;
    bool link_configured_ = false;
};

}  // namespace lm
