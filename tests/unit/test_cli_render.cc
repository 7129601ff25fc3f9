// SPDX-License-Identifier: MIT
// Golden text for lanmesh(8)'s output (src/cli/render.h, src/cli/text.h):
// what an administrator reads must not change by accident.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "common/json_value.h"
#include "cli/render.h"
#include "cli/text.h"

namespace lm::cli {
namespace {

Json doc(const std::string &text) {
    Json v;
    std::string err;
    EXPECT_TRUE(parse_json(text, &v, &err)) << err;
    return v;
}

template <typename F>
std::string captured(F print) {
    char *buf = nullptr;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    print(f);
    std::fclose(f);
    std::string s(buf, len);
    std::free(buf);
    return s;
}

TEST(CliText, HumanUnits) {
    EXPECT_EQ(human_bytes(0), "0 B");
    EXPECT_EQ(human_bytes(1023), "1023 B");
    EXPECT_EQ(human_bytes(1239), "1.21 KiB");
    EXPECT_EQ(human_bytes(5ull << 30), "5.00 GiB");
    EXPECT_EQ(human_duration(0), "0 seconds");
    EXPECT_EQ(human_duration(1), "1 second");
    EXPECT_EQ(human_duration(3723), "1 hour, 2 minutes, 3 seconds");
    EXPECT_EQ(human_ago(0, 1000), "never");
    EXPECT_EQ(human_ago(1000, 1000), "now");
    EXPECT_EQ(human_ago(940, 1000), "1 minute ago");
    EXPECT_EQ(short_duration(3560), "59m20s");
    EXPECT_EQ(short_duration(3600), "1h");
    EXPECT_EQ(short_duration(0), "0s");
    EXPECT_EQ(word("certificate revoked"), "\"certificate revoked\"");
    EXPECT_EQ(word(""), "\"\"");
    EXPECT_EQ(word("alice"), "alice");
}

TEST(CliRender, MonitorLines) {
    EXPECT_EQ(event_text(doc(R"({"time":1,"event":"peer","peer":"alice","state":"up","address":"198.18.0.2",)"
                             R"("endpoint":"192.0.2.11:40112","encapsulation":"raw"})")),
              "peer alice up address 198.18.0.2 endpoint 192.0.2.11:40112 encapsulation raw");
    EXPECT_EQ(event_text(doc(R"({"time":1,"event":"peer","peer":"alice","state":"down","reason":"keepalive timeout"})")),
              "peer alice down reason \"keepalive timeout\"");
    EXPECT_EQ(event_text(doc(R"({"time":1,"event":"rekey","peer":"bob","epoch":4,"initiator":"local"})")),
              "rekey bob epoch 4 initiator local");
    EXPECT_EQ(event_text(doc(R"({"time":1,"event":"refused","from":"192.0.2.66:5","reason":"handshake timeout"})")),
              "refused from 192.0.2.66:5 reason \"handshake timeout\"");
    EXPECT_EQ(event_text(doc(R"({"time":1,"event":"path","peer":"bob","path":"direct","endpoint":"198.51.100.2:4500",)"
                             R"("new_field":[1,2]})")),
              "path bob direct endpoint 198.51.100.2:4500 new-field [1,2]");
}

TEST(CliRender, Peers) {
    Json peers = doc(R"([{"name":"alice","state":"up","path":"direct","address":"198.18.0.2",)"
                     R"("address6":"2001:db8:1::2","networks":["198.19.5.0/24"],"endpoint":"192.0.2.11",)"
                     R"("encapsulation":"raw","control_endpoint":"192.0.2.11:40112","rtt_us":1234,"epoch":3,)"
                     R"("last_handshake":988,"rx_bytes":1239,"rx_packets":12,"tx_bytes":3482,"tx_packets":14,)"
                     R"("last_rx":999,"last_tx":999,"drops":{"src_not_allowed":3}},)"
                     R"({"name":"server","state":"connecting","path":"direct","networks":[],"endpoint":"",)"
                     R"("encapsulation":"udp","epoch":0,"last_handshake":0,"rx_bytes":0,"rx_packets":0,)"
                     R"("tx_bytes":0,"tx_packets":0,"last_rx":0,"last_tx":0}])");
    EXPECT_EQ(captured([&](FILE *f) { print_peers(f, peers, 1, 1000); }),
              "peer: alice\n"
              "  path: direct\n"
              "  address: 198.18.0.2, 2001:db8:1::2\n"
              "  networks: 198.19.5.0/24\n"
              "  endpoint: 192.0.2.11 (raw ESP)\n"
              "  control: 192.0.2.11:40112, rtt 1.23 ms\n"
              "  latest handshake: 12 seconds ago (epoch 3)\n"
              "  transfer: 1.21 KiB received (12 packets), 3.40 KiB sent (14 packets)\n"
              "  last received: 1 second ago, last sent: 1 second ago\n"
              "  drops: src-not-allowed 3\n"
              "\n"
              "peer: server\n"
              "  state: connecting\n"
              "  path: direct\n"
              "  latest handshake: never (epoch 0)\n"
              "  transfer: 0 B received (0 packets), 0 B sent (0 packets)\n"
              "  last received: never, last sent: never\n");
}

TEST(CliRender, PeersBrief) {
    Json peers = doc(R"([{"name":"alice","state":"up","path":"direct","address":"198.18.0.2",)"
                     R"("address6":"2001:db8:1::2","endpoint":"192.0.2.11","last_rx":988},)"
                     R"({"name":"branch","state":"down","path":"-","address":"198.18.0.10","endpoint":"",)"
                     R"("last_rx":0}])");
    EXPECT_EQ(captured([&](FILE *f) { print_peers_brief(f, peers, 1000); }),
              "alice            up      direct     198.18.0.2 2001:db8:1::2         192.0.2.11               12s ago\n"
              "branch           down    -          198.18.0.10                      -                        never\n");
}

TEST(CliRender, SasRoutesLeasesReload) {
    Json sas = doc(R"([{"peer":"alice","direction":"in","state":"current","spi":439109371,"algorithm":"aes-256-gcm",)"
                   R"("epoch":3,"seq":1234,"packets":1234,"bytes":98765,"age":40,"expires":3560,"key":"0xab"}])");
    EXPECT_EQ(captured([&](FILE *f) { print_sas(f, sas, 0); }),
              "sa 0x1a2c46fb in current peer alice\n"
              "    aes-256-gcm  epoch 3  seq 1234  age 40s  expires 59m20s\n"
              "    bytes 96.45 KiB  packets 1234\n"
              "    key 0xab\n");
    Json routes = doc(R"([{"prefix":"198.19.5.0/24","via":"bob","dev":"lm-office","origin":"config","active":true},)"
                      R"({"prefix":"198.19.7.0/24","via":"server","gateway":"198.18.0.1","dev":"lm-alice",)"
                      R"("origin":"server","active":false}])");
    EXPECT_EQ(captured([&](FILE *f) { print_routes(f, routes); }),
              "198.19.5.0/24 via bob dev lm-office origin config active\n"
              "198.19.7.0/24 via server gateway 198.18.0.1 dev lm-alice origin server inactive\n");
    Json leases = doc(R"([{"name":"alice","address":"198.18.0.2","address6":"2001:db8:1::2","fixed":false,)"
                      R"("active":true},{"name":"bob","address":"198.18.0.3","fixed":true,"active":false}])");
    EXPECT_EQ(captured([&](FILE *f) { print_leases(f, leases); }),
              "alice 198.18.0.2 2001:db8:1::2 active\nbob 198.18.0.3 fixed inactive\n");
    Json quiet = doc(R"({"reloaded":"/etc/lanmesh/office.conf","cut":[],"restart_needed":[],"routes_added":[],)"
                     R"("routes_removed":[]})");
    EXPECT_EQ(captured([&](FILE *f) { print_reload(f, quiet); }), "");
    Json busy = doc(R"({"reloaded":"x","cut":[{"peer":"carol","reason":"certificate revoked"}],)"
                    R"("restart_needed":["Pool","MTU"],"routes_added":["198.19.6.0/24 via bob"],"routes_removed":[]})");
    EXPECT_EQ(captured([&](FILE *f) { print_reload(f, busy); }),
              "cut carol: certificate revoked\nroute added 198.19.6.0/24 via bob\nrestart needed for: Pool, MTU\n");
}

TEST(CliRender, LinkWithStatistics) {
    Json link = doc(R"({"network":"office","device":"lm-office","role":"server","state":"up","topology":"subnet",)"
                    R"("client_to_client":"relay","mtu":1400,"address":"198.18.0.1","pool":"198.18.0.0/24",)"
                    R"("listen":[{"proto":"tcp","address":"[::]:4500"},{"proto":"udp","address":"0.0.0.0:4500"}],)"
                    R"("peer_count":2,"pending_handshakes":0,"ciphers":["aes-256-gcm"],"encapsulation":"auto",)"
                    R"("user":"lanmesh","uid":999,"uptime":63,"debug_keys":false,)"
                    R"("counters":{"udp_rx":10,"relayed":2},"drops":{"replay":1,"bad_icv":0,"no_route":4}})");
    std::string one = captured([&](FILE *f) { print_link(f, link, 1, 0); });
    EXPECT_EQ(one,
              "lm-office: server, state up\n"
              "    network office\n"
              "    topology subnet  client-to-client relay  mtu 1400\n"
              "    address 198.18.0.1  pool 198.18.0.0/24\n"
              "    ciphers aes-256-gcm  encapsulation auto  debug-keys no\n"
              "    listen tcp [::]:4500  udp 0.0.0.0:4500\n"
              "    peers 2  pending-handshakes 0  user lanmesh  uptime 1 minute, 3 seconds\n"
              "    udp-rx  relayed\n"
              "    10      2\n"
              "    dropped 5:\n"
              "        replay  no-route\n"
              "        1       4\n");
    std::string two = one.substr(0, one.find("        replay")) +   // -s -s: the zeros too
                      "        replay  bad-icv  no-route\n"
                      "        1       0        4\n";
    EXPECT_EQ(captured([&](FILE *f) { print_link(f, link, 2, 0); }), two);
}

// Pending handshakes and abuse of the control channel, without -s; the
// protocol errors list their non-zero reasons, all of them at -s -s.
TEST(CliRender, LinkControlAbuse) {
    Json link = doc(R"({"device":"lm-office","role":"server","state":"up","uptime":5,)"
                    R"("handshakes":{"pending":32,"per_source_limit":32,"limit":1024,"evicted_per_source":1068,)"
                    R"("evicted_total":0,"evicted_no_fds":0,"refused_no_fds":0},)"
                    R"("protocol_errors":{"bad_version":1,"bad_length":0,"tls_error":2},"output_full_cuts":3})");
    std::string out = captured([&](FILE *f) { print_link(f, link, 0, 0); });
    EXPECT_NE(out.find("    handshakes: pending 32  limit 1024  per-source-limit 32  evicted-per-source 1068  "
                       "evicted-total 0  evicted-no-fds 0  refused-no-fds 0\n"),
              std::string::npos)
        << out;
    EXPECT_NE(out.find("    protocol-errors 3 (bad-version 1  tls-error 2)  output-full-cuts 3\n"), std::string::npos)
        << out;
    out = captured([&](FILE *f) { print_link(f, link, 2, 0); });
    EXPECT_NE(out.find("protocol-errors 3 (bad-version 1  bad-length 0  tls-error 2)"), std::string::npos) << out;
    link = doc(R"({"device":"lm-office","role":"server","state":"up","uptime":5,"output_full_cuts":0,)"
               R"("protocol_errors":{"bad_version":0}})");
    EXPECT_NE(captured([&](FILE *f) { print_link(f, link, 0, 0); }).find("    protocol-errors 0  output-full-cuts 0\n"),
              std::string::npos);
}

TEST(CliRender, LinkOneLinePerWorker) {
    Json link = doc(R"({"device":"lm-office","role":"client","state":"up","uptime":5,)"
                      R"("workers":[{"tun_rx":7,"tun_tx":1,"udp_rx":2,"udp_tx":7,"raw_rx":0,"raw_tx":0,"drops":0},)"
                      R"({"tun_rx":9,"tun_tx":0,"udp_rx":0,"udp_tx":9,"raw_rx":0,"raw_tx":0,"drops":1}]})");
    std::string out = captured([&](FILE *f) { print_link(f, link, 1, 0); });
    EXPECT_NE(out.find("    worker 0  tun-rx 7  tun-tx 1  udp-rx 2  udp-tx 7  raw-rx 0  raw-tx 0  drops 0\n"),
              std::string::npos)
        << out;
    EXPECT_NE(out.find("    worker 1  tun-rx 9  tun-tx 0  udp-rx 0  udp-tx 9  raw-rx 0  raw-tx 0  drops 1\n"),
              std::string::npos)
        << out;
    // Without -s there are no counters at all.
    EXPECT_EQ(captured([&](FILE *f) { print_link(f, link, 0, 0); }).find("worker"), std::string::npos);
}

}  // namespace
}  // namespace lm::cli

namespace lm::cli {
namespace {

// A client's data path (client/path_ladder.h) in `link show` and `peer show`.
TEST(CliRender, DataPath) {
    Json link = doc(R"({"network":"office","device":"lm-office","role":"client","state":"up",)"
                    R"("data_path":"udp","data_path_state":"carrying",)"
                    R"("data_path_reason":"no authenticated ESP came back by raw ESP for 4 s","uptime":5})");
    std::string out = captured([&](FILE *f) { print_link(f, link, 0, 0); });
    EXPECT_NE(out.find("    data-path udp carrying  (no authenticated ESP came back by raw ESP for 4 s)\n"),
              std::string::npos)
        << out;
    Json peers = doc(R"([{"name":"server","state":"up","path":"direct","networks":[],"endpoint":"192.0.2.1",)"
                     R"("encapsulation":"tls","data_path":"carrying","data_path_reason":"no authenticated ESP came )"
                     R"(back by ESP in UDP for 4 s","epoch":0,"last_handshake":0,"rx_bytes":0,"rx_packets":0,)"
                     R"("tx_bytes":0,"tx_packets":0,"last_rx":0,"last_tx":0}])");
    out = captured([&](FILE *f) { print_peers(f, peers, 0, 1000); });
    EXPECT_NE(out.find("  endpoint: 192.0.2.1 (ESP in TLS)\n"
                       "  data path: ESP in TLS, carrying (no authenticated ESP came back by ESP in UDP for 4 s)\n"),
              std::string::npos)
        << out;
    EXPECT_EQ(event_text(doc(R"({"time":1,"event":"path","peer":"server","state":"dead","encapsulation":"raw",)"
                             R"("reason":"no answer"})")),
              "path server dead encapsulation raw reason \"no answer\"");
}

}  // namespace
}  // namespace lm::cli
