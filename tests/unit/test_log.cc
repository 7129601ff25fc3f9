// SPDX-License-Identifier: MIT
// The head of a log line: syslog priority for the journal, time and prefix
// elsewhere (issue: logs for the journal and the terminal).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "common/log.h"
#include "common/version.h"

using namespace lm;

static std::string head(LogLevel l, bool journal) {
    char buf[128];
    size_t n = log_format_head(buf, sizeof buf, l, journal, "lanmeshd[office]", 1764673385123LL);
    return std::string(buf, n);
}

TEST(Log, JournalLinesCarryPriorityAndNoPrefix) {
    EXPECT_EQ(head(LogLevel::debug, true), "<7>");
    EXPECT_EQ(head(LogLevel::info, true), "<6>");
    EXPECT_EQ(head(LogLevel::warn, true), "<4>warning: ");
    EXPECT_EQ(head(LogLevel::err, true), "<3>error: ");
}

TEST(Log, TerminalLinesCarryTimeAndPrefix) {
    setenv("TZ", "UTC", 1);
    tzset();
    EXPECT_EQ(head(LogLevel::info, false), "2025-12-02 11:03:05.123 lanmeshd[office]: info: ");
    EXPECT_EQ(head(LogLevel::warn, false), "2025-12-02 11:03:05.123 lanmeshd[office]: warning: ");
}

TEST(Log, HeadNeverOverflows) {
    char buf[8];
    size_t n = log_format_head(buf, sizeof buf, LogLevel::info, false, "lanmeshd[office]", 0);
    EXPECT_EQ(n, sizeof buf - 1);
    EXPECT_EQ(buf[n], '\0');
}

TEST(Version, LineNamesProgramAndOpenSsl) {
    std::string v = version_line("lanmeshd");
    EXPECT_EQ(v.rfind(std::string("lanmeshd ") + lanmesh_version() + " (OpenSSL ", 0), 0u) << v;
    EXPECT_STRNE(lanmesh_version(), "unknown");
}

// JOURNAL_STREAM counts only when it names the stream fd 2 really is.
TEST(Log, DetectsTheJournalByDeviceAndInode) {
    char path[] = "/tmp/lm-log-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    fflush(stderr);
    int saved = dup(2);
    ASSERT_GE(saved, 0);
    ASSERT_EQ(dup2(fd, 2), 2);
    struct stat st;
    ASSERT_EQ(fstat(fd, &st), 0);
    std::string js = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);

    setenv("JOURNAL_STREAM", js.c_str(), 1);
    log_detect_journal();
    LM_WARN("first %d", 1);
    setenv("JOURNAL_STREAM", (std::to_string(st.st_dev) + ":1").c_str(), 1);   // another stream
    log_detect_journal();
    LM_WARN("second");
    unsetenv("JOURNAL_STREAM");
    log_detect_journal();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);

    char buf[512] = {};
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    unlink(path);
    ASSERT_GT(n, 0);
    std::string text(buf, size_t(n));
    EXPECT_EQ(text.rfind("<4>warning: first 1\n", 0), 0u) << text;
    EXPECT_NE(text.find(": warning: second\n"), std::string::npos) << text;
    EXPECT_EQ(text.find("<4>warning: second"), std::string::npos) << text;
}
