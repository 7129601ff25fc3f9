// SPDX-License-Identifier: MIT
// The contract between the daemon's JSON and lanmesh(8)'s text: a peer as
// the daemon writes it (core/ctl_commands.cc, the code behind `lanmesh -j
// peer show`) goes into the CLI's renderer (cli/show_peer.cc), and every
// field the daemon sends must show in the text: changing the field's value
// must change what `lanmesh -s peer show` prints.  A field added to the
// daemon and forgotten in the CLI fails here; so does a renamed one.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <set>
#include <string>

#include "common/json_value.h"
#include "cli/render.h"
#include "common/json.h"
#include "core/ctl_view.h"
#include "data/tunnel.h"

namespace lm {
namespace {

// Fields the text leaves out on purpose, each with its reason.
const std::set<std::string> kNotInText = {
};

std::string render(const Json &peers, time_t now) {
    char *buf = nullptr;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cli::print_peers(f, peers, 1, now);
    std::fclose(f);
    std::string s(buf, len);
    std::free(buf);
    return s;
}

// Every scalar inside `j`, by path ("drops.replay", "networks[0]").
void each_scalar(Json &j, const std::string &path, const std::function<void(Json &, const std::string &)> &f) {
    if (j.is_object()) {
        for (auto &[k, v] : j.members) each_scalar(v, path.empty() ? k : path + "." + k, f);
    } else if (j.is_array()) {
        for (size_t i = 0; i < j.items.size(); i++) each_scalar(j.items[i], path + "[" + std::to_string(i) + "]", f);
    } else {
        f(j, path);
    }
}

TEST(CliContract, EveryPeerFieldShowsInText) {
    Tunnel t;
    t.name = "alice";
    t.encap = Encapsulation::udp;
    t.udp_peer = *Endpoint::parse("203.0.113.5:4500");
    PeerView v;
    v.tunnel = &t;
    v.state = "up";
    v.path = "direct";
    v.rtt_us = 1234;
    v.address = *IpAddr::parse("198.18.0.2");
    v.address6 = *IpAddr::parse("2001:db8:1::1000");
    v.networks = {*Prefix::parse("198.51.100.0/24")};
    v.control_endpoint = "203.0.113.5:40000";
    v.epoch = 3;
    v.pair = true;   // a mesh pair: every optional field is there
    v.time_to_direct_ms = 850;
    v.punch_rounds = 2;
    v.probes_sent = 9;
    JsonWriter j;
    j.begin_array();
    peer_view_json(j, v, 1);
    j.end_array();

    Json peers;
    std::string err;
    ASSERT_TRUE(parse_json(j.str(), &peers, &err)) << err << "\n" << j.str();
    ASSERT_EQ(peers.items.size(), 1u);
    const time_t now = 1'800'000'000;
    const std::string base = render(peers, now);
    size_t fields = 0;
    each_scalar(peers.items[0], "", [&](Json &field, const std::string &path) {
        fields++;
        Json saved = field;
        if (field.type == Json::Type::number) {
            field.s = std::to_string(std::strtoll(field.s.c_str(), nullptr, 10) + 7777);
        } else if (field.type == Json::Type::string) {
            // A keyword the CLI translates must change to another keyword.
            field.s = path == "encapsulation" ? (field.s == "raw" ? "udp" : "raw") : field.s + "-zz";
        } else if (field.type == Json::Type::boolean) {
            field.b = !field.b;
        }
        bool shown = render(peers, now) != base;
        field = saved;
        std::string key = path.substr(0, path.find('['));
        if (kNotInText.count(key)) {
            EXPECT_FALSE(shown) << key << " is listed as not shown, but the text shows it";
        } else {
            EXPECT_TRUE(shown) << "peer field " << path << " (from the daemon) does not show in lanmesh -s peer show";
        }
    });
    EXPECT_GT(fields, 20u);
}

}  // namespace
}  // namespace lm
