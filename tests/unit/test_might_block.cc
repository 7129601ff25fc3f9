// SPDX-License-Identifier: MIT
// The run-time check of "no blocking call while the workers are held"
// (common/might_block.h) and the log lines of a hold, which wait until it
// ends (common/log.h).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <thread>

#include "common/log.h"
#include "common/might_block.h"
#include "control/key_export.h"

namespace lm {
namespace {

// Sends fd 2 to a temporary file for the test's life and reads it back.
class CapturedStderr {
public:
    CapturedStderr() {
        std::fflush(stderr);
        saved_ = dup(2);
        file_ = std::tmpfile();
        dup2(fileno(file_), 2);
    }
    ~CapturedStderr() {
        std::fflush(stderr);
        dup2(saved_, 2);
        close(saved_);
        std::fclose(file_);
    }
    std::string text() {
        std::fflush(stderr);
        std::string out;
        char buf[4096];
        std::rewind(file_);
        size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, file_)) > 0) out.append(buf, n);
        return out;
    }

private:
    int saved_ = -1;
    FILE *file_ = nullptr;
};

size_t count(const std::string &hay, const std::string &needle) {
    size_t n = 0;
    for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) n++;
    return n;
}

TEST(MightBlock, CountsOnlyCallsOnTheThreadThatHoldsTheWorkers) {
    blocking_counts_reset();
    CapturedStderr err;
    might_block(BlockingCall::netlink, "outside a hold");
    EXPECT_EQ(blocking_while_held().total(), 0u);
    workers_held_begin();
    EXPECT_TRUE(workers_held_here());
    // Another thread (the registry's, the resolver's) blocks by design.
    std::thread([] {
        EXPECT_FALSE(workers_held_here());
        might_block(BlockingCall::name_lookup, "getaddrinfo");
    }).join();
    EXPECT_EQ(blocking_while_held().total(), 0u);
    might_block(BlockingCall::netlink, "netlink route change");
    might_block(BlockingCall::netlink, "netlink route change");
    might_block(BlockingCall::user_db, "getpwuid");
    workers_held_end();
    EXPECT_FALSE(workers_held_here());
    BlockingCounts c = blocking_while_held();
    EXPECT_EQ(c.by_kind[size_t(BlockingCall::netlink)], 2u);
    EXPECT_EQ(c.by_kind[size_t(BlockingCall::user_db)], 1u);
    EXPECT_EQ(c.total(), 3u);
    // The first of each kind is logged, with the call's place.
    std::string text = err.text();
    EXPECT_EQ(count(text, "blocking call (netlink: netlink route change)"), 1u) << text;
    EXPECT_EQ(count(text, "blocking call (user_db: getpwuid)"), 1u) << text;
    blocking_counts_reset();
}

TEST(MightBlock, LogLinesOfAHoldAreWrittenWhenItEnds) {
    blocking_counts_reset();
    CapturedStderr err;
    LM_INFO("before the hold");
    workers_held_begin();
    LM_INFO("first line inside");
    LM_WARN("second line inside");
    EXPECT_EQ(err.text().find("inside"), std::string::npos) << "a log line was written while the workers were held";
    workers_held_end();
    std::string text = err.text();
    size_t a = text.find("before the hold"), b = text.find("first line inside"), c = text.find("second line inside");
    ASSERT_NE(b, std::string::npos) << text;
    ASSERT_NE(c, std::string::npos) << text;
    EXPECT_LT(a, b);
    EXPECT_LT(b, c);
    EXPECT_EQ(blocking_while_held().total(), 0u) << "queued lines are no blocking calls";
}

TEST(MightBlock, AHoldThatLogsMoreThanItsQueueWritesAndCountsIt) {
    blocking_counts_reset();
    CapturedStderr err;
    workers_held_begin();
    std::string filler(900, 'x');
    size_t lines = 2 * kHeldLogBytes / filler.size();
    for (size_t i = 0; i < lines; i++) LM_INFO("line %zu %s", i, filler.c_str());
    std::string during = err.text();
    workers_held_end();
    std::string text = err.text();
    // Nothing is lost and the order holds; what did not fit went out at
    // once, which is a blocking write and counted as one.
    EXPECT_NE(during.find("line 0 "), std::string::npos);
    EXPECT_EQ(count(text, " xxxx"), lines);
    EXPECT_LT(text.find("line 0 "), text.find("line 1 "));
    EXPECT_LT(text.find("line 70 "), text.find(("line " + std::to_string(lines - 1) + " ").c_str()));
    EXPECT_GE(blocking_while_held().by_kind[size_t(BlockingCall::log)], 1u);
    blocking_counts_reset();
}

std::string file_text(const std::string &path) {
    std::string out;
    FILE *f = std::fopen(path.c_str(), "r");
    if (!f) return out;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    std::fclose(f);
    return out;
}

// DebugKeyFile lines of SAs installed inside a hold (an admission, a rekey)
// wait in memory until the node flushes them once the workers run again.
TEST(MightBlock, DebugKeyFileLinesOfAHoldWaitForTheFlush) {
    blocking_counts_reset();
    char dir[] = "/tmp/lm-keyexport-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    std::string path = std::string(dir) + "/keys";
    {
        KeyExport keys;
        std::string err;
        ASSERT_TRUE(keys.open(path, &err)) << err;
        KeyMaterial km;
        for (size_t i = 0; i < sizeof km.key; i++) km.key[i] = uint8_t(i);
        for (size_t i = 0; i < sizeof km.salt; i++) km.salt[i] = uint8_t(0xa0 + i);
        keys.write(0x1001, Cipher::aes256gcm, km, false, "outside a hold");
        EXPECT_NE(file_text(path).find("0x00001001"), std::string::npos);
        workers_held_begin();
        for (uint32_t spi = 0x2000; spi < 0x2040; spi++) keys.write(spi, Cipher::aes256gcm, km, false, "inside");
        EXPECT_EQ(file_text(path).find("0x00002000"), std::string::npos) << "written while the workers were held";
        workers_held_end();
        keys.flush();
        std::string text = file_text(path);
        EXPECT_EQ(count(text, "\"IPv4\",\"*\",\"*\",\"0x00002"), 64u);
        EXPECT_NE(text.find("0x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1fa0a1a2a3"),
                  std::string::npos);
        EXPECT_EQ(keys.key_hex(0x203f).size(), 72u);
        km.wipe();
    }
    EXPECT_EQ(blocking_while_held().total(), 0u);
    unlink(path.c_str());
    rmdir(dir);
}

}  // namespace
}  // namespace lm
