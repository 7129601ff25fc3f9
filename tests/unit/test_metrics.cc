// SPDX-License-Identifier: MIT
// The metrics listener's pure parts: the Prometheus text writer and the
// HTTP answer to a request head.
#include <gtest/gtest.h>

#include "common/prom.h"
#include "core/metrics_http.h"

using namespace lm;

TEST(Prom, FamiliesAndSamples) {
    PromWriter w;
    w.family("lanmesh_peers", "gauge", "Peers.").sample(uint64_t(2));
    w.family("lanmesh_dropped_packets_total", "counter", "Drops.\nby reason")
        .sample({{"reason", "replay"}}, uint64_t(7))
        .sample({{"reason", "bad_icv"}, {"peer", "a"}}, uint64_t(0));
    EXPECT_EQ(w.str(),
              "# HELP lanmesh_peers Peers.\n"
              "# TYPE lanmesh_peers gauge\n"
              "lanmesh_peers 2\n"
              "# HELP lanmesh_dropped_packets_total Drops.\\nby reason\n"
              "# TYPE lanmesh_dropped_packets_total counter\n"
              "lanmesh_dropped_packets_total{reason=\"replay\"} 7\n"
              "lanmesh_dropped_packets_total{reason=\"bad_icv\",peer=\"a\"} 0\n");
}

// Peer names come from certificates: a hostile CN must not break the format.
TEST(Prom, LabelValuesAreEscaped) {
    EXPECT_EQ(PromWriter::escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    PromWriter w;
    w.family("x", "gauge", "h").sample({{"peer", "evil\"} 1\nlanmesh_fake 9"}}, int64_t(-1));
    EXPECT_EQ(w.str().substr(w.str().find("x{")), "x{peer=\"evil\\\"} 1\\nlanmesh_fake 9\"} -1\n");
}

TEST(MetricsHttp, ServesOnlyGetMetrics) {
    int calls = 0;
    auto render = [&] {
        calls++;
        return std::string("lanmesh_peers 1\n");
    };
    std::string ok = metrics_http_answer("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", render);
    EXPECT_EQ(ok.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << ok;
    EXPECT_NE(ok.find("Content-Type: text/plain; version=0.0.4"), std::string::npos);
    EXPECT_NE(ok.find("Content-Length: 16\r\n"), std::string::npos);
    EXPECT_EQ(ok.substr(ok.size() - 16), "lanmesh_peers 1\n");
    EXPECT_EQ(calls, 1);

    std::string head = metrics_http_answer("HEAD /metrics?x=1 HTTP/1.0\r\n\r\n", render);
    EXPECT_EQ(head.rfind("HTTP/1.0 200 OK", 0), 0u);
    EXPECT_EQ(head.substr(head.size() - 4), "\r\n\r\n");   // no body

    EXPECT_EQ(metrics_http_answer("GET / HTTP/1.1\r\n\r\n", render).rfind("HTTP/1.0 404", 0), 0u);
    EXPECT_EQ(metrics_http_answer("POST /metrics HTTP/1.1\r\n\r\n", render).rfind("HTTP/1.0 405", 0), 0u);
    EXPECT_EQ(metrics_http_answer("GET /metrics\r\n\r\n", render).rfind("HTTP/1.0 400", 0), 0u);
    EXPECT_EQ(metrics_http_answer("\x16\x03\x01 garbage", render).rfind("HTTP/1.0 400", 0), 0u);
    EXPECT_EQ(calls, 2);
}

#include "control/rtt.h"

// Only the echo of the ping still outstanding is a sample: a peer cannot
// feed the meter a time of its own making.
TEST(RttMeter, CountsOnlyTheOutstandingPing) {
    RttMeter m;
    EXPECT_EQ(m.srtt_us(), -1);
    uint64_t n = m.ping(1000000);
    m.pong(n + 1, 1000500);             // not ours
    m.pong(0, 1000500);
    EXPECT_EQ(m.srtt_us(), -1);
    m.pong(n, 1000800);
    EXPECT_EQ(m.srtt_us(), 800);
    m.pong(n, 1009000);                 // the same echo twice: no second sample
    EXPECT_EQ(m.srtt_us(), 800);
    n = m.ping(2000000);
    m.pong(n, 2001600);                 // smoothed: 7/8 old + 1/8 new
    EXPECT_EQ(m.srtt_us(), (7 * 800 + 1600) / 8);
    n = m.ping(3000000);
    m.pong(n, 2999000);                 // from the future: refused
    EXPECT_EQ(m.srtt_us(), (7 * 800 + 1600) / 8);
}
