// SPDX-License-Identifier: MIT
// lanmeshd: the lanmesh daemon, one process per network instance.
//   lanmeshd [--config FILE] [--check-config] NET
#include <getopt.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "client/client.h"
#include "common/log.h"
#include "common/printable.h"
#include "common/version.h"
#include "config/config.h"
#include "control/crl_watch.h"
#include "registry/registry_probe.h"
#include "control/tls.h"
#include "core/privdrop.h"
#include "server/server.h"

using namespace lm;

static void usage(FILE *f) {
    std::fprintf(f,
                 "Usage: lanmeshd [OPTIONS] NET\n"
                 "  -c, --config FILE    read FILE instead of /etc/lanmesh/NET.conf\n"
                 "      --check-config   check the configuration and certificates, then exit\n"
                 "  -V, --version        print the version and exit\n"
                 "  -h, --help           show this help\n");
}

// --check-config: everything the daemon would refuse at start is an error
// (exit 1) -- the file, the user, the TLS files, our certificate's purpose
// and key type, a CRL that refuses every peer now; what it would only warn
// about is a warning on stderr (exit 0).
static int check_config(const Config &cfg, const std::string &path) {
    auto fail = [&](const std::string &why) {
        std::fprintf(stderr, "lanmeshd: %s: %s\n", path.c_str(), printable(why).c_str());
        return 1;
    };
    if (std::string why = unusable_user(cfg.user); !why.empty()) return fail(why);
    // The certificates are part of the configuration: load them too.
    std::string err;
    TlsFiles f{cfg.ca, cfg.certificate, cfg.key, cfg.crl, cfg.remote_cert_tls};
    SSL_CTX *ctx = cfg.role == Role::server ? tls_server_ctx(f, &err) : tls_client_ctx(f, &err);
    if (!ctx) return fail(err);
    CrlWatch crl;
    crl.set(cfg.crl, tls_crl_times(ctx));
    SSL_CTX_free(ctx);
    time_t now = time(nullptr);
    if (crl.unusable(now)) {
        std::string all;
        for (const auto &w : crl.standing(now)) all += (all.empty() ? "" : "; ") + w;
        return fail(all);
    }
    std::vector<std::string> warnings = crl.standing(now);
    // [Registry]: etcd must answer as etcd, with our certificate accepted,
    // on at least one endpoint; the others are warnings.
    if (cfg.role == Role::server && cfg.registry) {
        SSL_CTX *tls = registry_tls_ctx(*cfg.registry, &err);
        if (!tls && !err.empty()) return fail(err);
        RegistryProbe p = probe_registry(*cfg.registry, tls, 2000);
        if (tls) SSL_CTX_free(tls);
        std::vector<std::string> problems;
        for (const auto &x : p.wrong) problems.push_back(x + " (a wrong CA, certificate or endpoint?)");
        for (const auto &x : p.unreachable) problems.push_back(x + " (no answer)");
        std::string all;
        for (const auto &x : problems) all += (all.empty() ? "" : "; ") + x;
        if (!p.answered) return fail("[Registry] no etcd endpoint usable: " + all);
        for (const auto &x : problems) warnings.push_back("[Registry] " + x);
    }
    if (std::string w = tls_key_mode_warning(cfg.key); !w.empty()) warnings.push_back(w);
    for (const auto &w : warnings) std::fprintf(stderr, "lanmeshd: %s: warning: %s\n", path.c_str(), printable(w).c_str());
    std::printf("%s: configuration OK (%s)\n", path.c_str(), to_string(cfg.role));
    return 0;
}

int main(int argc, char **argv) {
    static const option opts[] = {{"config", required_argument, nullptr, 'c'},
                                  {"check-config", no_argument, nullptr, 'C'},
                                  {"help", no_argument, nullptr, 'h'},
                                  {"version", no_argument, nullptr, 'V'},
                                  {nullptr, 0, nullptr, 0}};
    std::string path;
    bool check = false;
    int o;
    while ((o = getopt_long(argc, argv, "c:hV", opts, nullptr)) != -1) {
        switch (o) {
        case 'c': path = optarg; break;
        case 'C': check = true; break;
        case 'h': usage(stdout); return 0;
        case 'V': std::printf("%s\n", version_line("lanmeshd").c_str()); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    std::string net = argv[optind];
    if (net.empty() || net.find('/') != std::string::npos || net[0] == '.') {
        std::fprintf(stderr, "lanmeshd: bad network name '%s'\n", net.c_str());
        return 2;
    }
    if (path.empty()) path = "/etc/lanmesh/" + net + ".conf";
    log_set_prefix(("lanmeshd[" + net + "]").c_str());
    log_detect_journal();

    ConfigError cerr;
    auto cfg = load_config(path, &cerr);
    if (!cfg) {
        std::fprintf(stderr, "lanmeshd: %s\n", cerr.message.c_str());
        return 1;
    }
    cfg->net = net;
    if (cfg->log_level == "debug") log_set_level(LogLevel::debug);
    else if (cfg->log_level == "warning") log_set_level(LogLevel::warn);
    else if (cfg->log_level == "error") log_set_level(LogLevel::err);

    if (check) return check_config(*cfg, path);

    LM_INFO("%s starting", version_line("lanmeshd").c_str());
    std::unique_ptr<Node> node;
    if (cfg->role == Role::server)
        node = std::make_unique<Server>(*cfg);
    else
        node = std::make_unique<Client>(*cfg);
    std::string err;
    int rc = 0;
    try {
        if (!node->start(&err)) {
            LM_ERR("%s", err.c_str());
            rc = 1;
        } else {
            node->run();
        }
    } catch (const std::exception &e) {
        LM_ERR("fatal: %s", e.what());
        rc = 1;
    }
    node->shutdown();
    LM_INFO("stopped");
    return rc;
}
