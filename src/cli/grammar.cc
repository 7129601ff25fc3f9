// SPDX-License-Identifier: MIT
#include "cli/grammar.h"

#include <cctype>
#include <string_view>

#include "cli/match.h"
#include "common/addr.h"
#include "common/names.h"

namespace lm::cli {

namespace {

constexpr int kHelpId = 100;   // "help" in any word table

// Matched after the leading "-" or "--".  -R is capital as in the grammar;
// "-rundir" is accepted too, the way lanmesh(8) spells the long form.
enum OptionId { kJson, kPretty, kStats, kNet, kRunDir, kHelp, kVersion, kBrief, kForce };
const Word kOptions[] = {{"json", kJson},        {"pretty", kPretty},  {"statistics", kStats},
                         {"stats", kStats},      {"network", kNet},    {"Rundir", kRunDir},
                         {"rundir", kRunDir},    {"help", kHelp},      {"Version", kVersion},
                         {"brief", kBrief},      {"force", kForce}};

// "-f", "-force", "--force": also accepted after the arguments of
// `route add`, where people type it.
bool is_force_option(const std::string &w) {
    if (w.size() < 2 || w[0] != '-') return false;
    std::string_view name = std::string_view(w).substr(w.size() > 2 && w[1] == '-' ? 2 : 1);
    Match m = match_word(name, kOptions);
    return m.status == Match::found && m.id == kForce;
}

const Word kObjects[] = {{"link", int(Object::link)},   {"peer", int(Object::peer)},
                         {"sa", int(Object::sa)},       {"route", int(Object::route)},
                         {"lease", int(Object::lease)}, {"monitor", int(Object::monitor)},
                         {"reload", int(Object::reload)}, {"help", kHelpId}};

// "list" and "delete" are the iproute2 spellings, kept as aliases.
const Word kShowVerbs[] = {{"show", int(Verb::show)}, {"list", int(Verb::show)}, {"help", kHelpId}};
const Word kPeerVerbs[] = {{"show", int(Verb::show)}, {"list", int(Verb::show)}, {"del", int(Verb::del)},
                           {"delete", int(Verb::del)}, {"help", kHelpId}};
const Word kRouteVerbs[] = {{"show", int(Verb::show)}, {"list", int(Verb::show)}, {"add", int(Verb::add)},
                            {"del", int(Verb::del)},   {"delete", int(Verb::del)}, {"help", kHelpId}};
const char *const kEvents[] = {"all", "peer", "path", "rekey", "refused", "server"};
const Word kEventWords[] = {{"all", 0},     {"peer", 1},   {"path", 2},        {"rekey", 3},
                            {"refused", 4}, {"server", 5}, {"help", kHelpId}};
const Word kPeerKeyword[] = {{"peer", 0}};
const Word kViaKeyword[] = {{"via", 0}};

struct Production {
    Object object;
    const char *text;
};
const Production kProductions[] = {
    {Object::link, "link show"},
    {Object::peer, "peer show [ NAME ]"},
    {Object::peer, "peer del NAME"},
    {Object::sa, "sa show [ peer NAME ]"},
    {Object::route, "route show"},
    {Object::route, "route add PREFIX via NAME [ -force ]"},
    {Object::route, "route del PREFIX"},
    {Object::lease, "lease show"},
    {Object::monitor, "monitor [ all | peer | path | rekey | refused | server ]..."},
    {Object::reload, "reload"},
};


// Parses what follows OBJECT.  Every error is a usage error.
class ObjectParser {
public:
    ObjectParser(Object o, std::vector<std::string> words, Invocation *inv, std::string *err)
        : o_(o), w_(std::move(words)), inv_(inv), err_(err) {}
    bool run();
    bool force_allowed();

private:
    bool fail(const std::string &msg) {
        *err_ = msg + ", try \"lanmesh " + object_name(o_) + " help\"";
        return false;
    }
    bool verb(std::span<const Word> table);
    bool help() {
        inv_->action = Invocation::Action::help;
        inv_->help = object_usage(o_);
        return true;
    }
    bool helped() const { return inv_->action == Invocation::Action::help; }
    bool keyword(std::span<const Word> table, const char *name);
    bool name_arg(const char *what);
    bool no_more();
    bool prefix_arg();
    bool monitor();

    Object o_;
    std::vector<std::string> w_;
    size_t i_ = 0;
    Invocation *inv_;
    std::string *err_;
};

bool ObjectParser::verb(std::span<const Word> table) {
    inv_->verb = Verb::show;   // an object alone is shown
    if (i_ == w_.size()) return true;
    Match m = match_word(w_[i_], table);
    if (m.status == Match::none) return fail("Command \"" + w_[i_] + "\" is unknown");
    if (m.status == Match::ambiguous)
        return fail("Command \"" + w_[i_] + "\" is ambiguous (" + join_names(m.candidates) + ")");
    i_++;
    if (m.id == kHelpId) return help();
    inv_->verb = Verb(m.id);
    return true;
}

bool ObjectParser::keyword(std::span<const Word> table, const char *name) {
    if (i_ < w_.size() && match_word(w_[i_], table).status == Match::found) {
        i_++;
        return true;
    }
    if (i_ < w_.size() && w_[i_] == "help") return help();
    return fail(std::string("expected \"") + name + "\"" + (i_ < w_.size() ? " instead of \"" + w_[i_] + "\"" : ""));
}

bool ObjectParser::name_arg(const char *what) {
    if (i_ == w_.size()) return fail(inv_->what() + ": missing " + what);
    const std::string &n = w_[i_++];
    if (!valid_peer_name(n)) return fail("invalid peer name \"" + n + "\" (" + kPeerNameRule + ")");
    inv_->args.push_back(n);
    return true;
}

bool ObjectParser::prefix_arg() {
    if (i_ == w_.size()) return fail(inv_->what() + ": missing PREFIX");
    const std::string &p = w_[i_++];
    if (p == "help") return help();
    auto pf = Prefix::parse(p);
    if (!pf) return fail("invalid prefix \"" + p + "\" (ADDRESS/LENGTH without host bits)");
    inv_->args.push_back(pf->str());
    return true;
}

bool ObjectParser::no_more() {
    if (i_ == w_.size()) return true;
    if (w_[i_] == "help") return help();
    return fail("unexpected argument \"" + w_[i_] + "\"");
}

bool ObjectParser::monitor() {
    bool all = false;
    std::vector<std::string> kinds;
    for (; i_ < w_.size(); i_++) {
        Match m = match_word(w_[i_], kEventWords);
        if (m.status == Match::none) return fail("Event \"" + w_[i_] + "\" is unknown");
        if (m.status == Match::ambiguous)
            return fail("Event \"" + w_[i_] + "\" is ambiguous (" + join_names(m.candidates) + ")");
        if (m.id == kHelpId) return help();
        if (m.id == 0) all = true;
        else kinds.push_back(kEvents[m.id]);
    }
    if (!all) inv_->args = kinds;
    return true;
}

bool ObjectParser::run() {
    // "help" asks for the object's grammar where a command, a keyword or
    // nothing more is expected; where a NAME is expected it is a name (a
    // client may be called "help"), and it can never be a PREFIX.
    switch (o_) {
    case Object::link:
    case Object::lease:
        return verb(kShowVerbs) && (helped() || no_more());
    case Object::peer:
        if (!verb(kPeerVerbs)) return false;
        if (helped()) return true;
        if (inv_->verb == Verb::del) return name_arg("NAME") && (helped() || no_more());
        return (i_ == w_.size() || name_arg("NAME")) && (helped() || no_more());
    case Object::sa:
        if (!verb(kShowVerbs)) return false;
        if (helped()) return true;
        if (i_ < w_.size() && !(keyword(kPeerKeyword, "peer") && (helped() || name_arg("NAME")))) return false;
        if (helped()) return true;
        if (!inv_->args.empty()) inv_->args.insert(inv_->args.begin(), "peer");
        return no_more();
    case Object::route:
        if (!verb(kRouteVerbs)) return false;
        if (helped()) return true;
        if (inv_->verb == Verb::add) {
            if (!prefix_arg()) return false;
            if (helped()) return true;
            if (!keyword(kViaKeyword, "via")) return false;
            if (helped()) return true;
            if (!name_arg("NAME")) return false;
            inv_->args.insert(inv_->args.begin() + 1, "via");
            if (i_ < w_.size() && is_force_option(w_[i_])) {
                inv_->opt.force = true;
                i_++;
            }
            if (inv_->opt.force) inv_->args.push_back("force");
        } else if (inv_->verb == Verb::del) {
            if (!prefix_arg()) return false;
            if (helped()) return true;
        }
        return no_more();
    case Object::monitor:
        return monitor();
    case Object::reload:
        return no_more();
    }
    return false;
}

// -force is for `route add` alone; anywhere else it is a mistake.
bool ObjectParser::force_allowed() {
    if (!inv_->opt.force || helped() || (o_ == Object::route && inv_->verb == Verb::add)) return true;
    return fail("-force applies to \"route add\" only");
}

// Options come before OBJECT, as in ip(8).  Advances *i past them; returns
// kExitOk (with inv->action set for -h and -V) or kExitUsage.
int parse_options(const std::vector<std::string> &argv, size_t *i, Invocation *inv, std::string *err) {
    Options &o = inv->opt;
    for (; *i < argv.size(); ++*i) {
        const std::string &a = argv[*i];
        if (a.empty() || a[0] != '-') break;
        if (a == "--") {
            ++*i;
            break;
        }
        std::string_view name = std::string_view(a).substr(a.size() > 2 && a[1] == '-' ? 2 : 1);
        // iproute2 spells it -Version; "--version" is what everyone types,
        // taken whole so that "-v" stays unknown as in ip(8).
        Match m = name == "version" ? Match{Match::found, kVersion, {}} : match_word(name, kOptions);
        if (m.status == Match::ambiguous) {
            *err = "Option \"" + a + "\" is ambiguous (" + join_names(m.candidates) + "), try \"lanmesh -help\"";
            return kExitUsage;
        }
        if (m.status == Match::none) {
            *err = "Option \"" + a + "\" is unknown, try \"lanmesh -help\"";
            return kExitUsage;
        }
        if ((m.id == kNet || m.id == kRunDir) && *i + 1 == argv.size()) {
            *err = "option \"" + a + "\" needs an argument (" + (m.id == kNet ? "NET" : "DIR") + ")";
            return kExitUsage;
        }
        switch (m.id) {
        case kJson: o.json = true; break;
        case kPretty: o.json = o.pretty = true; break;
        case kStats: o.stats++; break;
        case kBrief: o.brief = true; break;
        case kNet:
            o.net = argv[++*i];
            if (!valid_net_name(o.net)) {
                *err = "invalid network name \"" + o.net + "\"";
                return kExitUsage;
            }
            break;
        case kRunDir:
            o.rundir = argv[++*i];
            if (o.rundir.empty()) {
                *err = "option \"" + a + "\" needs a directory";
                return kExitUsage;
            }
            break;
        case kHelp:
            inv->action = Invocation::Action::help;
            inv->help = usage_text();
            return kExitOk;
        case kVersion:
            inv->action = Invocation::Action::version;
            return kExitOk;
        case kForce: o.force = true; break;
        }
    }
    return kExitOk;
}

}  // namespace

const char *object_name(Object o) {
    for (const Word &w : kObjects)
        if (w.id == int(o)) return w.name;
    return "?";
}

std::string usage_text() {
    std::string s =
        "Usage: lanmesh [ OPTIONS ] OBJECT { COMMAND | help }\n"
        "where  OBJECT := { link | peer | sa | route | lease | monitor | reload }\n"
        "       OPTIONS := { -j[son] | -p[retty] | -s[tatistics] | -n[etwork] NET |\n"
        "                    -R[undir] DIR | -f[orce] | -h[elp] | -V[ersion] }\n\n";
    for (const auto &p : kProductions) s += std::string("       lanmesh ") + p.text + "\n";
    return s;
}

std::string object_usage(Object o) {
    std::string s;
    for (const auto &p : kProductions)
        if (p.object == o) s += std::string(s.empty() ? "Usage: " : "       ") + "lanmesh " + p.text + "\n";
    return s;
}

std::string Invocation::what() const {
    std::string s = object_name(object);
    if (verb == Verb::show) s += " show";
    if (verb == Verb::add) s += " add";
    if (verb == Verb::del) s += " del";
    return s;
}

std::string Invocation::request() const {
    std::string s;
    for (int i = 0; i < opt.stats; i++) s += "-s ";
    s += what();
    for (const auto &a : args) s += " " + a;
    return s;
}

int parse_command_line(const std::vector<std::string> &argv, Invocation *inv, std::string *err) {
    *inv = Invocation{};
    size_t i = 0;
    if (int rc = parse_options(argv, &i, inv, err); rc != kExitOk || inv->action != Invocation::Action::run)
        return rc;
    if (i == argv.size()) {
        *err = "missing OBJECT, try \"lanmesh help\"";
        return kExitUsage;
    }
    Match m = match_word(argv[i], kObjects);
    if (m.status != Match::found) {
        *err = "Object \"" + argv[i] + "\" is " +
               (m.status == Match::ambiguous ? "ambiguous (" + join_names(m.candidates) + ")" : "unknown") +
               ", try \"lanmesh help\"";
        return kExitUsage;
    }
    if (m.id == kHelpId) {   // "lanmesh help [OBJECT]"
        inv->action = Invocation::Action::help;
        Match o = i + 1 < argv.size() ? match_word(argv[i + 1], kObjects) : Match{};
        inv->help = o.status == Match::found && o.id != kHelpId ? object_usage(Object(o.id)) : usage_text();
        return kExitOk;
    }
    inv->object = Object(m.id);
    ObjectParser p(inv->object, std::vector<std::string>(argv.begin() + long(i) + 1, argv.end()), inv, err);
    return p.run() && p.force_allowed() ? kExitOk : kExitUsage;
}

}  // namespace lm::cli
