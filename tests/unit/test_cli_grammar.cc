// SPDX-License-Identifier: MIT
// lanmesh(8)'s command line (src/cli/grammar.h, src/cli/match.h): unique
// prefixes, ambiguity, help at every level, usage errors and their exit
// status, and the canonical request each command line becomes.
#include <gtest/gtest.h>

#include <sstream>

#include "cli/grammar.h"
#include "cli/match.h"

namespace lm::cli {
namespace {

std::vector<std::string> words(const std::string &line) {
    std::istringstream in(line);
    std::vector<std::string> w;
    for (std::string s; in >> s;) w.push_back(s);
    return w;
}

// The request a command line sends; fails the test on a usage error.
std::string request(const std::string &line) {
    Invocation inv;
    std::string err;
    EXPECT_EQ(parse_command_line(words(line), &inv, &err), kExitOk) << line << ": " << err;
    EXPECT_EQ(inv.action, Invocation::Action::run) << line;
    return inv.request();
}

// The one-line usage error of a command line; fails the test if it parses.
std::string usage_error(const std::string &line) {
    Invocation inv;
    std::string err;
    EXPECT_EQ(parse_command_line(words(line), &inv, &err), kExitUsage) << line << " parsed";
    EXPECT_EQ(err.find('\n'), std::string::npos) << err;
    return err;
}

std::string help_of(const std::string &line) {
    Invocation inv;
    std::string err;
    EXPECT_EQ(parse_command_line(words(line), &inv, &err), kExitOk) << line << ": " << err;
    EXPECT_EQ(inv.action, Invocation::Action::help) << line;
    return inv.help;
}

TEST(CliMatch, ExactNameWinsOverLongerNames) {
    const Word w[] = {{"sa", 1}, {"sat", 2}, {"show", 3}};
    EXPECT_EQ(match_word("sa", w).id, 1);
    EXPECT_EQ(match_word("sat", w).id, 2);
    EXPECT_EQ(match_word("sh", w).id, 3);
    Match m = match_word("s", w);
    EXPECT_EQ(m.status, Match::ambiguous);
    EXPECT_EQ(m.id, -1);
    EXPECT_EQ(join_names(m.candidates), "sa, sat, show");
}

TEST(CliMatch, AliasesOfOneThingAreNotAmbiguous) {
    const Word w[] = {{"del", 1}, {"delete", 1}, {"dump", 2}};
    EXPECT_EQ(match_word("de", w).status, Match::found);
    EXPECT_EQ(match_word("de", w).id, 1);
    EXPECT_EQ(match_word("d", w).status, Match::ambiguous);
    EXPECT_EQ(match_word("x", w).status, Match::none);
    EXPECT_EQ(match_word("", w).status, Match::none);
    EXPECT_EQ(match_word("deletex", w).status, Match::none);
}

TEST(CliGrammar, FullWords) {
    EXPECT_EQ(request("link show"), "link show");
    EXPECT_EQ(request("peer show"), "peer show");
    EXPECT_EQ(request("peer show alice"), "peer show alice");
    EXPECT_EQ(request("peer del alice"), "peer del alice");
    EXPECT_EQ(request("sa show"), "sa show");
    EXPECT_EQ(request("sa show peer alice"), "sa show peer alice");
    EXPECT_EQ(request("route show"), "route show");
    EXPECT_EQ(request("route add 198.19.5.0/24 via bob"), "route add 198.19.5.0/24 via bob");
    EXPECT_EQ(request("route del 2001:db8:5::/48"), "route del 2001:db8:5::/48");
    EXPECT_EQ(request("lease show"), "lease show");
    EXPECT_EQ(request("monitor"), "monitor");
    EXPECT_EQ(request("monitor rekey refused"), "monitor rekey refused");
    EXPECT_EQ(request("reload"), "reload");
}

TEST(CliGrammar, UniquePrefixes) {
    EXPECT_EQ(request("p s"), "peer show");
    EXPECT_EQ(request("pe sh alice"), "peer show alice");
    EXPECT_EQ(request("p d alice"), "peer del alice");   // del and delete are one command
    EXPECT_EQ(request("s s p alice"), "sa show peer alice");
    EXPECT_EQ(request("ro a 198.19.5.0/24 v bob"), "route add 198.19.5.0/24 via bob");
    EXPECT_EQ(request("ro d 198.19.5.0/24"), "route del 198.19.5.0/24");
    EXPECT_EQ(request("li"), "link show");
    EXPECT_EQ(request("lea s"), "lease show");
    EXPECT_EQ(request("m rek ref pa pe"), "monitor rekey refused path peer");
    EXPECT_EQ(request("rel"), "reload");
    EXPECT_EQ(request("re"), "reload");   // "route" starts with "ro"
}

TEST(CliGrammar, IproutesSpellingsAndDefaults) {
    EXPECT_EQ(request("peer"), "peer show");   // an object alone is shown
    EXPECT_EQ(request("link"), "link show");
    EXPECT_EQ(request("peer list"), "peer show");
    EXPECT_EQ(request("peer delete bob"), "peer del bob");
    EXPECT_EQ(request("route delete 198.19.5.0/24"), "route del 198.19.5.0/24");
    EXPECT_EQ(request("monitor all"), "monitor");
    EXPECT_EQ(request("monitor peer all"), "monitor");
}

TEST(CliGrammar, AmbiguousPrefixesAreUsageErrors) {
    EXPECT_EQ(usage_error("l"), "Object \"l\" is ambiguous (link, lease), try \"lanmesh help\"");
    EXPECT_EQ(usage_error("r"), "Object \"r\" is ambiguous (route, reload), try \"lanmesh help\"");
    EXPECT_EQ(usage_error("monitor p"),
              "Event \"p\" is ambiguous (peer, path), try \"lanmesh monitor help\"");
    EXPECT_EQ(usage_error("monitor re"),
              "Event \"re\" is ambiguous (rekey, refused), try \"lanmesh monitor help\"");
    // "d" is del or delete, one command: not ambiguous, just incomplete.
    EXPECT_EQ(usage_error("route d"), "route del: missing PREFIX, try \"lanmesh route help\"");
}

TEST(CliGrammar, HelpAtEveryLevel) {
    std::string full = usage_text();
    EXPECT_EQ(help_of("help"), full);
    EXPECT_EQ(help_of("h"), full);
    EXPECT_EQ(help_of("-h"), full);
    EXPECT_EQ(help_of("-help"), full);
    EXPECT_EQ(help_of("--help"), full);
    EXPECT_EQ(help_of("-j -h"), full);
    EXPECT_EQ(help_of("help peer"), object_usage(Object::peer));
    EXPECT_EQ(help_of("peer help"), object_usage(Object::peer));
    EXPECT_EQ(help_of("peer h"), object_usage(Object::peer));
    EXPECT_EQ(help_of("peer show alice help"), object_usage(Object::peer));
    EXPECT_EQ(help_of("link show help"), object_usage(Object::link));
    EXPECT_EQ(help_of("sa show help"), object_usage(Object::sa));
    EXPECT_EQ(help_of("route add help"), object_usage(Object::route));
    EXPECT_EQ(help_of("route add 198.19.5.0/24 help"), object_usage(Object::route));
    EXPECT_EQ(help_of("route del help"), object_usage(Object::route));
    EXPECT_EQ(help_of("monitor help"), object_usage(Object::monitor));
    EXPECT_EQ(help_of("reload help"), object_usage(Object::reload));
    EXPECT_EQ(object_usage(Object::peer), "Usage: lanmesh peer show [ NAME ]\n       lanmesh peer del NAME\n");
    for (const char *production : {"lanmesh [ OPTIONS ] OBJECT { COMMAND | help }",
                                    "OBJECT := { link | peer | sa | route | lease | monitor | reload }",
                                    "-j[son] | -p[retty] | -s[tatistics] | -n[etwork] NET |",
                                    "-R[undir] DIR | -f[orce] | -h[elp] | -V[ersion] }", "lanmesh link show",
                                    "lanmesh sa show [ peer NAME ]", "lanmesh route add PREFIX via NAME [ -force ]",
                                    "lanmesh monitor [ all | peer | path | rekey | refused | server ]..."})
        EXPECT_NE(full.find(production), std::string::npos) << production;
}

// A client may be called "help": where a NAME goes, the word is the name,
// so that peer can be shown, deleted and routed to like any other.
TEST(CliGrammar, HelpIsANameWhereANameGoes) {
    EXPECT_EQ(request("peer del help"), "peer del help");
    EXPECT_EQ(request("peer show help"), "peer show help");
    EXPECT_EQ(request("sa show peer help"), "sa show peer help");
    EXPECT_EQ(request("route add 198.19.5.0/24 via help"), "route add 198.19.5.0/24 via help");
    EXPECT_EQ(request("p d help"), "peer del help");
    // Where a command or keyword goes, it still asks for help.
    EXPECT_EQ(help_of("peer help"), object_usage(Object::peer));
    EXPECT_EQ(help_of("peer del help help"), object_usage(Object::peer));
    EXPECT_EQ(help_of("route add 198.19.5.0/24 via help help"), object_usage(Object::route));
}

// Routing to a peer the daemon does not know needs -force, before the
// object as every option, or after the arguments of route add.
TEST(CliGrammar, Force) {
    EXPECT_EQ(request("-force route add 198.19.5.0/24 via bob"), "route add 198.19.5.0/24 via bob force");
    EXPECT_EQ(request("-f route add 198.19.5.0/24 via bob"), "route add 198.19.5.0/24 via bob force");
    EXPECT_EQ(request("route add 198.19.5.0/24 via bob --force"), "route add 198.19.5.0/24 via bob force");
    EXPECT_EQ(request("route add 198.19.5.0/24 via bob -f"), "route add 198.19.5.0/24 via bob force");
    EXPECT_EQ(request("route add 198.19.5.0/24 via bob"), "route add 198.19.5.0/24 via bob");
    EXPECT_EQ(usage_error("-force peer del bob"), "-force applies to \"route add\" only, try \"lanmesh peer help\"");
    EXPECT_EQ(usage_error("-f route del 198.19.5.0/24"),
              "-force applies to \"route add\" only, try \"lanmesh route help\"");
    EXPECT_EQ(usage_error("route add 198.19.5.0/24 via bob force"),
              "unexpected argument \"force\", try \"lanmesh route help\"");
}

TEST(CliGrammar, UsageErrors) {
    EXPECT_EQ(usage_error(""), "missing OBJECT, try \"lanmesh help\"");
    EXPECT_EQ(usage_error("frob"), "Object \"frob\" is unknown, try \"lanmesh help\"");
    EXPECT_EQ(usage_error("peer frob"), "Command \"frob\" is unknown, try \"lanmesh peer help\"");
    EXPECT_EQ(usage_error("link add"), "Command \"add\" is unknown, try \"lanmesh link help\"");
    EXPECT_EQ(usage_error("link show extra"), "unexpected argument \"extra\", try \"lanmesh link help\"");
    EXPECT_EQ(usage_error("peer show alice bob"), "unexpected argument \"bob\", try \"lanmesh peer help\"");
    EXPECT_EQ(usage_error("peer del"), "peer del: missing NAME, try \"lanmesh peer help\"");
    EXPECT_EQ(usage_error("peer show a/b"),
              "invalid peer name \"a/b\" (1-64 characters of A-Z a-z 0-9 _ . @ -), try \"lanmesh peer help\"");
    EXPECT_EQ(usage_error("sa show alice"), "expected \"peer\" instead of \"alice\", try \"lanmesh sa help\"");
    EXPECT_EQ(usage_error("sa show peer"), "sa show: missing NAME, try \"lanmesh sa help\"");
    EXPECT_EQ(usage_error("route add 198.19.5.1/24 via bob"),
              "invalid prefix \"198.19.5.1/24\" (ADDRESS/LENGTH without host bits), try \"lanmesh route help\"");
    EXPECT_EQ(usage_error("route add 198.19.5.0/24 bob"),
              "expected \"via\" instead of \"bob\", try \"lanmesh route help\"");
    EXPECT_EQ(usage_error("route add 198.19.5.0/24 via"), "route add: missing NAME, try \"lanmesh route help\"");
    EXPECT_EQ(usage_error("monitor frob"), "Event \"frob\" is unknown, try \"lanmesh monitor help\"");
    EXPECT_EQ(usage_error("reload now"), "unexpected argument \"now\", try \"lanmesh reload help\"");
}

TEST(CliGrammar, Options) {
    Invocation inv;
    std::string err;
    ASSERT_EQ(parse_command_line(words("-j -p -s -s -n office -R /tmp/run peer show"), &inv, &err), kExitOk);
    EXPECT_TRUE(inv.opt.json);
    EXPECT_TRUE(inv.opt.pretty);
    EXPECT_EQ(inv.opt.stats, 2);
    EXPECT_EQ(inv.opt.net, "office");
    EXPECT_EQ(inv.opt.rundir, "/tmp/run");
    EXPECT_EQ(inv.request(), "-s -s peer show");

    ASSERT_EQ(parse_command_line(words("-pretty -stat --network office l"), &inv, &err), kExitUsage);
    ASSERT_EQ(parse_command_line(words("-pretty -stat --network office li"), &inv, &err), kExitOk) << err;
    EXPECT_TRUE(inv.opt.json);   // -p implies -j
    EXPECT_EQ(inv.opt.stats, 1);
    EXPECT_EQ(inv.opt.rundir, kDefaultRunDir);
    EXPECT_EQ(inv.request(), "-s link show");

    ASSERT_EQ(parse_command_line(words("-rundir /run/x -Rundir /run/y li"), &inv, &err), kExitOk) << err;
    EXPECT_EQ(inv.opt.rundir, "/run/y");

    ASSERT_EQ(parse_command_line(words("-stats -json -- reload"), &inv, &err), kExitOk) << err;
    EXPECT_EQ(inv.request(), "-s reload");
    ASSERT_EQ(parse_command_line(words("-V"), &inv, &err), kExitOk);
    EXPECT_EQ(inv.action, Invocation::Action::version);
    ASSERT_EQ(parse_command_line(words("-Version peer"), &inv, &err), kExitOk);
    EXPECT_EQ(inv.action, Invocation::Action::version);
    ASSERT_EQ(parse_command_line(words("-br peer show"), &inv, &err), kExitOk) << err;
    EXPECT_TRUE(inv.opt.brief);
    ASSERT_EQ(parse_command_line(words("--version"), &inv, &err), kExitOk) << err;
    EXPECT_EQ(inv.action, Invocation::Action::version);
}

TEST(CliGrammar, OptionErrors) {
    EXPECT_EQ(usage_error("-x link"), "Option \"-x\" is unknown, try \"lanmesh -help\"");
    EXPECT_EQ(usage_error("-v link"), "Option \"-v\" is unknown, try \"lanmesh -help\"");   // -V, as ip(8)
    EXPECT_EQ(usage_error("-n"), "option \"-n\" needs an argument (NET)");
    EXPECT_EQ(usage_error("-R"), "option \"-R\" needs an argument (DIR)");
    EXPECT_EQ(usage_error("-n ../etc link"), "invalid network name \"../etc\"");
    EXPECT_EQ(usage_error("-n .hidden link"), "invalid network name \".hidden\"");
    EXPECT_EQ(usage_error("-j"), "missing OBJECT, try \"lanmesh help\"");
    EXPECT_EQ(usage_error("link -j"), "Command \"-j\" is unknown, try \"lanmesh link help\"");   // options first
}

}  // namespace
}  // namespace lm::cli
