// The control socket RUNDIR/NET.sock: one request line in, one response out,
// then the connection closes.  Requests are bounded and parsed by the owner.
#pragma once
#include <sys/types.h>

#include <functional>
#include <string>
#include <unordered_map>

#include "core/loop.h"

namespace lm {

class CtlSocket {
public:
    // uid of the caller is passed so changes can be refused to non-root.
    using Handler = std::function<std::string(const std::string &request, uid_t uid)>;

    bool open(EventLoop &loop, const std::string &path, Handler h, std::string *err);
    void close();
    ~CtlSocket() { close(); }
    const std::string &path() const { return path_; }

private:
    void on_accept();
    void on_client(int fd);

    EventLoop *loop_ = nullptr;
    int fd_ = -1;
    std::string path_;
    Handler handler_;
    std::unordered_map<int, std::string> pending_;   // fd -> partial request
};

}  // namespace lm
