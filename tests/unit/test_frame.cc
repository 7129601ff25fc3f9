// SPDX-License-Identifier: MIT
// Control-channel framing: round trips, incremental input, and every header
// error the reader reports.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "control/frame.h"

namespace lm {
namespace {

using Bytes = std::vector<uint8_t>;
using St = FrameReader::Status;

Bytes frame(uint8_t type, const Bytes &payload) {
    Bytes out;
    EXPECT_TRUE(frame_append(&out, type, payload));
    return out;
}

TEST(Frame, AppendWritesHeader) {
    Bytes out;
    ASSERT_TRUE(frame_append(&out, MsgType::ping, Bytes{0xaa, 0xbb, 0xcc}));
    EXPECT_EQ(out, (Bytes{1, 5, 0, 3, 0xaa, 0xbb, 0xcc}));
    ASSERT_TRUE(frame_append(&out, MsgType::bye, Bytes{}));
    EXPECT_EQ(out.size(), 11u);
    EXPECT_EQ(out[7], 1);
    EXPECT_EQ(out[8], 7);
}

TEST(Frame, AppendRefusesBadTypeAndOversize) {
    Bytes out{9};
    EXPECT_FALSE(frame_append(&out, uint8_t(0), Bytes{}));
    EXPECT_FALSE(frame_append(&out, uint8_t(14), Bytes{}));
    EXPECT_FALSE(frame_append(&out, uint8_t(20), Bytes{}));
    EXPECT_FALSE(frame_append(&out, MsgType::hello, Bytes(kMaxPayload + 1)));
    EXPECT_EQ(out, Bytes{9});
    EXPECT_TRUE(frame_append(&out, MsgType::hello, Bytes(kMaxPayload)));
    EXPECT_EQ(out.size(), 1 + kMaxFrame);
}

TEST(Frame, KnownTypes) {
    int known = 0;
    for (int t = 0; t < 256; t++) known += msg_type_known(uint8_t(t));
    EXPECT_EQ(known, 17);
    EXPECT_TRUE(msg_type_known(16));
    EXPECT_TRUE(msg_type_known(19));
    EXPECT_FALSE(msg_type_known(15));
    EXPECT_FALSE(msg_type_known(31));
    EXPECT_STREQ(to_string(MsgType::rekey_ack), "rekey_ack");
}

TEST(Frame, RoundTripSeveralFramesInOneFeed) {
    Bytes wire;
    frame_append(&wire, MsgType::hello, Bytes{1, 2, 3});
    frame_append(&wire, MsgType::config, Bytes{});
    frame_append(&wire, MsgType::peer_gone, Bytes(kMaxPayload, 0x5a));
    FrameReader r;
    r.feed(wire.data(), wire.size());
    uint8_t type = 0;
    Bytes p;
    ASSERT_EQ(r.next(&type, &p), St::ok);
    EXPECT_EQ(type, 1);
    EXPECT_EQ(p, (Bytes{1, 2, 3}));
    ASSERT_EQ(r.next(&type, &p), St::ok);
    EXPECT_EQ(type, 2);
    EXPECT_TRUE(p.empty());
    ASSERT_EQ(r.next(&type, &p), St::ok);
    EXPECT_EQ(type, 19);
    EXPECT_EQ(p, Bytes(kMaxPayload, 0x5a));
    EXPECT_EQ(r.next(&type, &p), St::need_more);
    EXPECT_EQ(r.buffered(), 0u);
}

TEST(Frame, ByteAtATime) {
    Bytes wire;
    for (int i = 0; i < 20; i++) frame_append(&wire, MsgType::ping, Bytes(size_t(i), uint8_t(i)));
    FrameReader r;
    uint8_t type;
    Bytes p;
    int got = 0;
    for (uint8_t b : wire) {
        r.feed(&b, 1);
        St s;
        while ((s = r.next(&type, &p)) == St::ok) {
            EXPECT_EQ(type, 5);
            EXPECT_EQ(p, Bytes(size_t(got), uint8_t(got)));
            got++;
        }
        ASSERT_EQ(s, St::need_more);
    }
    EXPECT_EQ(got, 20);
}

TEST(Frame, TruncatedNeedsMore) {
    Bytes wire = frame(uint8_t(MsgType::pong), Bytes(100, 1));
    for (size_t cut = 0; cut < wire.size(); cut++) {
        FrameReader r;
        r.feed(wire.data(), cut);
        uint8_t type = 0xee;
        Bytes p{7};
        EXPECT_EQ(r.next(&type, &p), St::need_more) << cut;
        EXPECT_EQ(type, 0xee);
        EXPECT_EQ(p, Bytes{7});
        r.feed(wire.data() + cut, wire.size() - cut);
        EXPECT_EQ(r.next(&type, &p), St::ok);
        EXPECT_EQ(p.size(), 100u);
    }
}

TEST(Frame, TooLargeDetectedFromHeader) {
    FrameReader r;
    uint8_t h[4] = {1, 2, 0x40, 0x01};  // 16385
    r.feed(h, 4);
    uint8_t type;
    Bytes p;
    EXPECT_EQ(r.next(&type, &p), St::too_large);
    // Sticky, and later input is discarded.
    Bytes good = frame(1, Bytes{});
    r.feed(good.data(), good.size());
    EXPECT_EQ(r.next(&type, &p), St::too_large);
    EXPECT_EQ(r.buffered(), 0u);

    FrameReader r2;
    uint8_t h2[4] = {1, 2, 0xff, 0xff};
    r2.feed(h2, 4);
    EXPECT_EQ(r2.next(&type, &p), St::too_large);

    FrameReader r3;  // exactly the maximum is fine
    Bytes max = frame(2, Bytes(kMaxPayload));
    r3.feed(max.data(), max.size());
    EXPECT_EQ(r3.next(&type, &p), St::ok);
}

TEST(Frame, BadVersionOnFirstByte) {
    for (uint8_t v : {0, 2, 0x16, 0xff}) {
        FrameReader r;
        r.feed(&v, 1);
        uint8_t type;
        Bytes p;
        EXPECT_EQ(r.next(&type, &p), St::bad_version);
        EXPECT_EQ(r.next(&type, &p), St::bad_version);
    }
}

TEST(Frame, BadTypeOnSecondByte) {
    for (uint8_t t : {0, 14, 15, 20, 31, 32, 255}) {
        FrameReader r;
        uint8_t h[2] = {1, t};
        r.feed(h, 2);
        uint8_t type;
        Bytes p;
        EXPECT_EQ(r.next(&type, &p), St::bad_type) << int(t);
    }
}

TEST(Frame, ErrorAfterGoodFrames) {
    Bytes wire = frame(5, Bytes{1});
    wire.push_back(3);  // bad version of the second frame
    FrameReader r;
    r.feed(wire.data(), wire.size());
    uint8_t type;
    Bytes p;
    EXPECT_EQ(r.next(&type, &p), St::ok);
    EXPECT_EQ(r.next(&type, &p), St::bad_version);
}

TEST(Frame, BufferStaysBoundedWhenDrained) {
    // Feed 1 MiB of max-size frames in odd-sized chunks, draining after each
    // feed: the reader never holds more than one partial frame plus the chunk.
    Bytes wire;
    for (int i = 0; i < 64; i++) frame_append(&wire, MsgType::route_update, Bytes(kMaxPayload, uint8_t(i)));
    FrameReader r;
    uint8_t type;
    Bytes p;
    size_t off = 0, frames = 0, chunk = 7777;
    while (off < wire.size()) {
        size_t n = std::min(chunk, wire.size() - off);
        r.feed(wire.data() + off, n);
        off += n;
        ASSERT_LE(r.buffered(), kMaxFrame + chunk);
        while (r.next(&type, &p) == St::ok) frames++;
        ASSERT_LT(r.buffered(), kMaxFrame);
    }
    EXPECT_EQ(frames, 64u);
}

TEST(Frame, RandomStreamsNeverCrash) {
    std::mt19937 rng(1234);
    for (int i = 0; i < 3000; i++) {
        Bytes junk(rng() % 64);
        for (auto &b : junk) b = uint8_t(rng());
        if (!junk.empty() && rng() % 2) junk[0] = kProtoVersion;
        FrameReader r;
        r.feed(junk.data(), junk.size());
        uint8_t type;
        Bytes p;
        St s;
        int n = 0;
        while ((s = r.next(&type, &p)) == St::ok) {
            ASSERT_TRUE(msg_type_known(type));
            ASSERT_LE(p.size(), kMaxPayload);
            ASSERT_LT(++n, 64);
        }
    }
}

}  // namespace
}  // namespace lm

namespace lm {
namespace {

// IP over TLS: an ESP packet is one `esp` frame, its bytes unchanged, and
// the largest packet a 9000-byte MTU makes still fits a frame.
TEST(Frame, EspPacketsRoundTrip) {
    std::vector<uint8_t> esp(9000 + 8 + 8 + 2 + 3 + 16);
    for (size_t i = 0; i < esp.size(); i++) esp[i] = uint8_t(i * 7);
    std::vector<uint8_t> stream;
    ASSERT_TRUE(frame_append(&stream, uint8_t(MsgType::esp), esp.data(), esp.size()));
    ASSERT_TRUE(frame_append(&stream, MsgType::path, std::vector<uint8_t>{1, 0, 1, 1}));
    EXPECT_EQ(stream[1], 9);
    EXPECT_EQ(stream[2] * 256 + stream[3], int(esp.size()));
    FrameReader r;
    // Split at an awkward place: the header of the second frame.
    size_t cut = 4 + esp.size() + 2;
    r.feed(stream.data(), cut);
    uint8_t type;
    std::vector<uint8_t> p;
    ASSERT_EQ(r.next(&type, &p), FrameReader::Status::ok);
    EXPECT_EQ(type, uint8_t(MsgType::esp));
    EXPECT_EQ(p, esp);
    EXPECT_EQ(r.next(&type, &p), FrameReader::Status::need_more);
    r.feed(stream.data() + cut, stream.size() - cut);
    ASSERT_EQ(r.next(&type, &p), FrameReader::Status::ok);
    EXPECT_EQ(type, uint8_t(MsgType::path));
    EXPECT_STREQ(to_string(MsgType::esp), "esp");
    EXPECT_STREQ(to_string(MsgType::path), "path");
    EXPECT_FALSE(frame_append(&stream, uint8_t(MsgType::esp), esp.data(), kMaxPayload + 1));
}

}  // namespace
}  // namespace lm
