// SPDX-License-Identifier: MIT
// The TOPOLOGIES section of lanmesh.conf(5) against the topology code: every
// line of its `ip address` / `ip route` examples, and each "A /24 holds N
// clients", must be what TopologyPlan computes for the first client of
// Pool = 198.18.0.0/24 (Pool6 = 2001:db8:1::/64 for subnet), so the page
// cannot drift from the code again.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "server/leases.h"
#include "config/topology.h"

namespace lm {
namespace {

struct ManExamples {
    std::map<std::string, std::set<std::string>> server, client;   // topology -> lines
    std::map<std::string, int> capacity;                              // "holds N clients"
};

std::string unescape(std::string s) {
    for (size_t i; (i = s.find("\\-")) != std::string::npos;) s.replace(i, 2, "-");
    return s;
}

std::string trim(const std::string &s) {
    size_t a = s.find_first_not_of(' '), b = s.find_last_not_of(' ');
    return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

ManExamples read_topologies_section() {
    ManExamples m;
    std::ifstream f("man/lanmesh.conf.5");
    EXPECT_TRUE(f) << "run from the top of the source tree";
    std::string line, topo, role;
    bool in_section = false, in_example = false, after_tp = false;
    const std::regex holds(R"(A /24 holds (\d+) clients)");
    while (std::getline(f, line)) {
        if (line.rfind(".SH", 0) == 0) {
            in_section = line == ".SH TOPOLOGIES";
            continue;
        }
        if (!in_section) continue;
        if (line == ".TP") {
            after_tp = true;
            continue;
        }
        if (after_tp && line.rfind(".B ", 0) == 0) topo = line.substr(3);
        after_tp = false;
        if (line == ".EX") {
            in_example = true;
            role.clear();
            continue;
        }
        if (line == ".EE") {
            in_example = false;
            continue;
        }
        std::smatch sm;
        if (!in_example) {
            if (std::regex_search(line, sm, holds)) m.capacity[topo] = std::stoi(sm[1]);
            continue;
        }
        line = unescape(line);
        for (const char *r : {"server:", "client:"})
            if (line.rfind(r, 0) == 0) {
                role = r;
                line = line.substr(std::string(r).size());
            }
        EXPECT_FALSE(role.empty()) << "example line without server: or client: " << line;
        (role == "server:" ? m.server : m.client)[topo].insert(trim(line));
    }
    return m;
}

// The lines `ip address show` and `ip route` print for a layout.
std::set<std::string> lines_of(const IfaceLayout &l) {
    std::set<std::string> out;
    std::string v4 = "inet " + l.local4.str();
    if (l.peer4.is_set()) v4 += " peer " + l.peer4.str();
    out.insert(v4 + "/" + std::to_string(l.prefix4));
    if (l.local6.is_set()) out.insert("inet6 " + l.local6.str() + "/" + std::to_string(l.prefix6));
    for (const auto &[dst, gw] : l.routes)
        out.insert(dst.str() + (gw.is_set() ? " via " + gw.str() : "") + " dev lm-office");
    return out;
}

TEST(TopologyManPage, ExamplesMatchTheCode) {
    ManExamples m = read_topologies_section();
    const std::pair<const char *, Topology> topologies[] = {
        {"net30", Topology::net30}, {"p2p", Topology::p2p}, {"subnet", Topology::subnet}};
    for (auto [name, t] : topologies) {
        SCOPED_TRACE(name);
        std::optional<Prefix> pool6;
        if (t == Topology::subnet) pool6 = Prefix::parse("2001:db8:1::/64");
        TopologyPlan plan(t, *Prefix::parse("198.18.0.0/24"), pool6);
        LeaseStore leases(plan, "");
        std::string err;
        auto first = leases.acquire("first", nullptr, &err);
        ASSERT_TRUE(first) << err;
        EXPECT_EQ(m.server[name], lines_of(plan.server_layout()));
        EXPECT_EQ(m.client[name], lines_of(plan.client_layout(*first, true, {})));
        ASSERT_TRUE(m.capacity.count(name)) << "no \"A /24 holds N clients\" for " << name;
        EXPECT_EQ(size_t(m.capacity[name]), plan.capacity());
    }
}

}  // namespace
}  // namespace lm
