// SPDX-License-Identifier: MIT
#include "core/privdrop.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "common/log.h"
#include "common/might_block.h"
#include "core/node.h"

namespace lm {

namespace {

const cap_value_t kKeep[] = {CAP_NET_ADMIN, CAP_NET_RAW};
constexpr int kKeepCount = 2;

std::string sys_error(const char *what) { return std::string(what) + ": " + strerror(errno); }

int thread_count() {
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int n = 0;
    while (const dirent *e = readdir(d))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

// A directory shared with others ("/", "/var") must never change hands, even
// when the configuration names it by mistake.
bool private_enough(const std::string &dir) {
    int parts = 0;
    for (size_t i = 0; i < dir.size(); i++)
        if (dir[i] != '/' && (i == 0 || dir[i - 1] == '/')) parts++;
    return parts >= 2;
}

// The directory and the regular files directly in it (the lease file, a
// temporary file left by a crash).  Symbolic links are never followed.
void hand_over(const std::string &dir, uid_t u, gid_t g) {
    if (!private_enough(dir)) {
        LM_WARN("not handing %s to the daemon's user: not a private directory", dir.c_str());
        return;
    }
    int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) {
        if (errno != ENOENT) LM_WARN("cannot open %s: %s", dir.c_str(), strerror(errno));
        return;
    }
    if (fchown(dfd, u, g) < 0) LM_WARN("cannot hand %s to uid %u: %s", dir.c_str(), unsigned(u), strerror(errno));
    int lfd = dup(dfd);
    DIR *d = lfd >= 0 ? fdopendir(lfd) : nullptr;
    while (d) {
        const dirent *e = readdir(d);
        if (!e) break;
        struct stat st;
        if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
            fchownat(dfd, e->d_name, u, g, AT_SYMLINK_NOFOLLOW) < 0)
            LM_WARN("cannot hand %s/%s to uid %u: %s", dir.c_str(), e->d_name, unsigned(u), strerror(errno));
    }
    if (d) closedir(d);
    close(dfd);
}

// Needs CAP_SETPCAP, so it runs while still root.  Dropping a capability from
// the bounding set does not touch the current sets.
bool cut_bounding_set(std::string *err) {
    for (cap_value_t v = 0; v < cap_value_t(cap_max_bits()); v++) {
        if (v == CAP_NET_ADMIN || v == CAP_NET_RAW) continue;
        if (prctl(PR_CAPBSET_DROP, v, 0, 0, 0) < 0 && errno != EINVAL) {
            *err = sys_error("PR_CAPBSET_DROP");
            return false;
        }
    }
    return true;
}

// Permitted and effective := `keep` (a subset of kKeep); nothing inheritable.
bool set_caps(const cap_value_t *keep, int n, std::string *err) {
    cap_t c = cap_init();
    if (!c) {
        *err = sys_error("cap_init");
        return false;
    }
    bool ok = (n == 0 || (cap_set_flag(c, CAP_PERMITTED, n, keep, CAP_SET) == 0 &&
                          cap_set_flag(c, CAP_EFFECTIVE, n, keep, CAP_SET) == 0)) &&
              cap_set_proc(c) == 0;
    if (!ok) *err = sys_error("cap_set_proc");
    cap_free(c);
    return ok;
}

bool seal(std::string *err) {
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) {
        *err = sys_error("PR_CAP_AMBIENT_CLEAR_ALL");
        return false;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        *err = sys_error("PR_SET_NO_NEW_PRIVS");
        return false;
    }
    return true;
}

}  // namespace

std::string user_name(uid_t uid) {
    might_block(BlockingCall::user_db, "getpwuid");
    const passwd *pw = getpwuid(uid);
    return pw ? pw->pw_name : std::to_string(uid);
}

std::string unusable_user(const std::string &user) {
    might_block(BlockingCall::user_db, "getpwnam");
    const passwd *pw = getpwnam(user.c_str());
    if (!pw)
        return "User '" + user + "' does not exist: create it (useradd --system --no-create-home --shell " +
               "/usr/sbin/nologin " + user + ") or set User in [Network] to an existing one";
    if (pw->pw_uid == 0) return "User '" + user + "' is root: name an unprivileged user";
    return "";
}

bool drop_to_user(const std::string &user, const std::vector<std::string> &dirs, std::string *err) {
    if (int n = thread_count(); n != 1) {
        *err = "internal error: " + std::to_string(n) + " threads exist before the privilege drop";
        return false;
    }
    if (std::string why = unusable_user(user); !why.empty()) {
        *err = why;
        return false;
    }
    const passwd *pw = getpwnam(user.c_str());
    uid_t u = pw->pw_uid;
    gid_t g = pw->pw_gid;
    for (const auto &d : dirs) hand_over(d, u, g);

    auto fail = [&](const char *step) {
        *err = sys_error(step);
        return false;
    };
    // docs/PROTOCOLS.md §8, in the order that keeps each step possible.
    if (!cut_bounding_set(err)) return false;
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) return fail("PR_SET_KEEPCAPS");
    if (setgroups(0, nullptr) < 0) return fail("setgroups");
    if (setresgid(g, g, g) < 0) return fail("setresgid");
    if (setresuid(u, u, u) < 0) return fail("setresuid");
    // setresuid cleared the effective set; raise exactly the two again.
    if (!set_caps(kKeep, kKeepCount, err)) return false;
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) return fail("PR_SET_KEEPCAPS");
    if (!seal(err)) return false;
    if (setuid(0) == 0) {   // must be impossible now
        *err = "could become root again after the privilege drop";
        return false;
    }
    return true;
}

bool keep_only_net_caps(std::vector<std::string> *missing, std::string *err) {
    cap_t cur = cap_get_proc();
    if (!cur) {
        *err = sys_error("cap_get_proc");
        return false;
    }
    cap_value_t have[kKeepCount];
    int n = 0;
    for (cap_value_t v : kKeep) {
        cap_flag_value_t perm = CAP_CLEAR;
        cap_get_flag(cur, v, CAP_PERMITTED, &perm);
        if (perm == CAP_SET) {
            have[n++] = v;
        } else {
            char *name = cap_to_name(v);
            missing->push_back(name ? name : std::to_string(v));
            cap_free(name);
        }
    }
    cap_free(cur);
    return set_caps(have, n, err) && seal(err);
}

std::string current_caps_text() {
    cap_t cur = cap_get_proc();
    if (!cur) return "?";
    char *t = cap_to_text(cur, nullptr);
    std::string s = t ? t : "?";
    cap_free(t);
    cap_free(cur);
    return s.empty() || s == "=" ? "no capabilities" : s;
}

bool Node::least_privilege(std::string *err) {
    if (getuid() == 0 || geteuid() == 0) {
        std::vector<std::string> dirs{cfg_.state_directory};
        if (own_rundir_) {
            // As systemd/lanmesh.tmpfiles makes it: the daemon's user may
            // remove its socket at exit, group lanmesh may find and use the
            // sockets, nobody else may look.
            dirs.push_back(cfg_.runtime_directory);
            if (chmod(cfg_.runtime_directory.c_str(), 02750) < 0)
                LM_WARN("cannot chmod %s: %s", cfg_.runtime_directory.c_str(), strerror(errno));
        }
        if (!drop_to_user(cfg_.user, dirs, err)) return false;
        LM_INFO("running as user %s (uid %u) with %s", cfg_.user.c_str(), unsigned(getuid()),
                current_caps_text().c_str());
        return true;
    }
    std::vector<std::string> missing;
    if (!keep_only_net_caps(&missing, err)) return false;
    std::string m;
    for (const auto &x : missing) m += (m.empty() ? "" : " and ") + x;
    if (missing.empty())
        LM_INFO("not started as root (uid %u): User is not used; running with %s", unsigned(getuid()),
                current_caps_text().c_str());
    else
        LM_WARN("not started as root (uid %u) and without %s: routes cannot be changed or raw ESP opened",
                unsigned(getuid()), m.c_str());
    return true;
}

}  // namespace lm
