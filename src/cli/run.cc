// SPDX-License-Identifier: MIT
#include <cstdio>
#include <ctime>

#include "cli/cli.h"
#include "cli/ctl_client.h"
#include "cli/grammar.h"
#include "common/json_value.h"
#include "cli/render.h"
#include "common/version.h"

namespace lm::cli {

namespace {

int fail(const std::string &msg) {
    std::fprintf(stderr, "lanmesh: %s\n", msg.c_str());
    return kExitError;
}

// The daemon's answer: a value, or {"error": ...} which becomes our error.
bool decode_answer(const std::string &line, Json *v, std::string *err) {
    if (!parse_json(line, v, err)) {
        *err = "lanmeshd sent something that is not JSON (" + *err + ")";
        return false;
    }
    if (v->is_object() && v->get("error")) {
        *err = v->get("error")->text();
        return false;
    }
    return true;
}

void render(const Invocation &inv, const Json &v) {
    time_t now = time(nullptr);
    bool show = inv.verb == Verb::show;
    switch (inv.object) {
    case Object::link: print_link(stdout, v, inv.opt.stats, now); break;
    case Object::peer:
        if (show && inv.opt.brief) print_peers_brief(stdout, v, now);
        else if (show) print_peers(stdout, v, inv.opt.stats, now);
        break;
    case Object::sa: print_sas(stdout, v, inv.opt.stats); break;
    case Object::route: if (show) print_routes(stdout, v); break;
    case Object::lease: print_leases(stdout, v); break;
    case Object::reload: print_reload(stdout, v); break;
    case Object::monitor: break;
    }
}

int monitor(const Invocation &inv, const std::string &path) {
    bool first = true;
    std::string err;
    // A monitor runs until it is interrupted; whichever way stream() ends
    // (the daemon went away, or we stopped on a bad line), it is an error.
    stream(path, inv.request(), [&](const std::string &line) {
        Json v;
        if (first) {   // {"monitor": [...]} or {"error": ...}
            first = false;
            return decode_answer(line, &v, &err);
        }
        if (!parse_json(line, &v, &err)) {
            err = "lanmeshd sent an event that is not JSON (" + err + ")";
            return false;
        }
        std::string out = inv.opt.json ? dump_json(v, inv.opt.pretty) : event_text(v);
        std::fprintf(stdout, "%s\n", out.c_str());
        std::fflush(stdout);   // one event, one line, now: for pipes too
        return true;
    }, &err);
    return fail(err);
}

}  // namespace

int run(int argc, char **argv) {
    Invocation inv;
    std::string err;
    int rc = parse_command_line(std::vector<std::string>(argv + 1, argv + argc), &inv, &err);
    if (rc != kExitOk) {
        std::fprintf(stderr, "lanmesh: %s\n", err.c_str());
        return rc;
    }
    if (inv.action == Invocation::Action::help) {
        std::fputs(inv.help.c_str(), stdout);
        return kExitOk;
    }
    if (inv.action == Invocation::Action::version) {
        std::printf("%s\n", version_line("lanmesh").c_str());
        return kExitOk;
    }
    std::string path;
    if (!find_socket(inv.opt, &path, &err)) return fail(err);
    if (inv.object == Object::monitor) return monitor(inv, path);
    std::string line;
    Json v;
    if (!exchange(path, inv.request(), &line, &err) || !decode_answer(line, &v, &err)) return fail(err);
    if (inv.opt.json)
        std::printf("%s\n", dump_json(v, inv.opt.pretty).c_str());
    else
        render(inv, v);
    if (std::fflush(stdout) != 0) return fail("cannot write the output");
    return kExitOk;
}

}  // namespace lm::cli
