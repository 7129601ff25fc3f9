// lanmesh: talks to a running lanmeshd over its control socket.
// This is the first cut used by the tests; the full ip-style grammar is
// the operations issue's work.
#include <getopt.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

static void usage(FILE *f) {
    std::fprintf(f,
                 "Usage: lanmesh [-n NET] [-R RUNDIR] show\n"
                 "  prints the daemon's state as JSON\n");
}

int main(int argc, char **argv) {
    std::string net, rundir = "/run/lanmesh";
    int o;
    while ((o = getopt(argc, argv, "n:R:jh")) != -1) {
        switch (o) {
        case 'n': net = optarg; break;
        case 'R': rundir = optarg; break;
        case 'j': break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc - 1 || std::strcmp(argv[optind], "show") != 0 || net.empty()) {
        usage(stderr);
        return 2;
    }
    std::string path = rundir + "/" + net + ".sock";
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (path.size() >= sizeof sa.sun_path) {
        std::fprintf(stderr, "lanmesh: socket path too long\n");
        return 1;
    }
    std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
    if (connect(fd, reinterpret_cast<sockaddr *>(&sa), sizeof sa) < 0) {
        std::fprintf(stderr, "lanmesh: cannot reach %s: %s\n", path.c_str(), strerror(errno));
        return 1;
    }
    const char req[] = "show\n";
    if (write(fd, req, sizeof req - 1) < 0) return 1;
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) fwrite(buf, 1, size_t(n), stdout);
    close(fd);
    return 0;
}
