// SPDX-License-Identifier: MIT
#include "cli/ctl_client.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "cli/match.h"

namespace lm::cli {

namespace {

// Connected socket or -1 with errno set.
int connect_to(const std::string &path) {
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (path.size() >= sizeof sa.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (connect(fd, reinterpret_cast<sockaddr *>(&sa), sizeof sa) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

std::string connect_error(const std::string &path, int e) {
    std::string s = "cannot connect to " + path + ": " + strerror(e);
    if (e == EACCES) s += " (root and the daemon's group only)";
    if (e == ECONNREFUSED) s += " (lanmeshd is not running?)";
    return s;
}

int open_or_explain(const std::string &path, std::string *err) {
    int fd = connect_to(path);
    if (fd < 0) *err = connect_error(path, errno);
    return fd;
}

bool send_all(int fd, const std::string &s, std::string *err) {
    size_t off = 0;
    while (off < s.size()) {
        ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            *err = std::string("cannot send the request: ") + strerror(errno);
            return false;
        }
        off += size_t(n);
    }
    return true;
}

// Reads into *buf; 0 at end of file, -1 on error or timeout (*err set).
ssize_t read_some(int fd, std::string *buf, int timeout_ms, std::string *err) {
    pollfd p{fd, POLLIN, 0};
    int r;
    while ((r = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR) {
    }
    if (r == 0) {
        *err = "lanmeshd did not answer in time";
        return -1;
    }
    char tmp[65536];
    ssize_t n;
    while ((n = read(fd, tmp, sizeof tmp)) < 0 && errno == EINTR) {
    }
    if (n < 0) {
        *err = std::string("cannot read the answer: ") + strerror(errno);
        return -1;
    }
    buf->append(tmp, size_t(n));
    return n;
}

}  // namespace

bool find_socket(const Options &o, std::string *path, std::string *err) {
    if (!o.net.empty()) {
        *path = o.rundir + "/" + o.net + ".sock";
        if (access(path->c_str(), F_OK) != 0 && errno == ENOENT) {
            *err = "network \"" + o.net + "\" is not running (no " + *path + ")";
            return false;
        }
        return true;
    }
    DIR *d = opendir(o.rundir.c_str());
    if (!d && errno == EACCES) {
        *err = "cannot list " + o.rundir + ": " + strerror(errno) + " (root and the daemon's group only)";
        return false;
    }
    if (!d) {
        *err = "no network is running (" + o.rundir + ": " + strerror(errno) + ")";
        return false;
    }
    std::vector<std::string> live;
    while (const dirent *e = readdir(d)) {
        std::string name = e->d_name;
        if (name.size() <= 5 || name.compare(name.size() - 5, 5, ".sock") != 0) continue;
        std::string p = o.rundir + "/" + name;
        struct stat st;
        if (stat(p.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
        // A socket nobody answers on is left over from a crash; one we may
        // not use still belongs to a running daemon (exchange() says why).
        int fd = connect_to(p);
        if (fd >= 0) close(fd);
        else if (errno != EACCES) continue;
        live.push_back(name.substr(0, name.size() - 5));
    }
    closedir(d);
    if (live.empty()) {
        *err = "no network is running (no NET.sock in " + o.rundir + ")";
        return false;
    }
    if (live.size() > 1) {
        *err = "several networks are running (" + join_names(live) + "): choose one with -n NET";
        return false;
    }
    *path = o.rundir + "/" + live[0] + ".sock";
    return true;
}

bool exchange(const std::string &path, const std::string &request, std::string *answer, std::string *err) {
    int fd = open_or_explain(path, err);
    if (fd < 0) return false;
    // A daemon that is busy answers and closes at once, perhaps before the
    // request is out: its answer still says why.
    std::string send_err;
    bool sent = send_all(fd, request + "\n", &send_err);
    bool ok = true;
    std::string buf;
    while (ok && buf.find('\n') == std::string::npos) {
        ssize_t n = read_some(fd, &buf, kAnswerTimeoutMs, err);
        if (n < 0) {
            ok = false;
        } else if (n == 0) {
            break;
        } else if (buf.size() > kMaxAnswer) {
            *err = "the answer is too long";
            ok = false;
        }
    }
    close(fd);
    size_t nl = buf.find('\n');
    if (!sent && nl == std::string::npos) {
        *err = send_err;
        return false;
    }
    if (!ok) return false;
    if (nl == std::string::npos) {
        *err = buf.empty() ? "lanmeshd closed the connection without an answer" : "the answer was cut short";
        return false;
    }
    *answer = buf.substr(0, nl);
    return true;
}

bool stream(const std::string &path, const std::string &request,
            const std::function<bool(const std::string &)> &on_line, std::string *err) {
    int fd = open_or_explain(path, err);
    if (fd < 0) return false;
    bool ok = send_all(fd, request + "\n", err);
    std::string buf;
    while (ok) {
        ssize_t n = read_some(fd, &buf, -1, err);
        if (n < 0) {
            ok = false;
            break;
        }
        size_t nl;
        while ((nl = buf.find('\n')) != std::string::npos) {
            std::string line = buf.substr(0, nl);
            buf.erase(0, nl + 1);
            if (!on_line(line)) {
                close(fd);
                return true;
            }
        }
        if (n == 0) {
            *err = "lanmeshd closed the connection";
            ok = false;
        } else if (buf.size() > kMaxAnswer) {
            *err = "an event line is too long";
            ok = false;
        }
    }
    close(fd);
    return false;
}

}  // namespace lm::cli
