// SPDX-License-Identifier: MIT
#include "common/log.h"

#include <sys/stat.h>

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

#include "common/might_block.h"
#include "common/printable.h"

namespace lm {

// Read by every thread, changed by a reload on the control thread.
static std::atomic<LogLevel> g_level{LogLevel::info};
static char g_prefix[64] = "lanmesh";
static std::atomic<bool> g_journal{false};

void log_set_level(LogLevel l) { g_level.store(l, std::memory_order_relaxed); }
void log_set_prefix(const char *p) { std::snprintf(g_prefix, sizeof g_prefix, "%s", p); }

// JOURNAL_STREAM is "DEV:INO" of the stream systemd connected; it is
// inherited by children whose stderr may be elsewhere, so it only counts
// when fd 2 is that very stream (systemd.exec(5)).
void log_detect_journal() {
    const char *js = std::getenv("JOURNAL_STREAM");
    struct stat st;
    unsigned long long dev = 0, ino = 0;
    bool on = js && std::sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(2, &st) == 0 &&
              st.st_dev == dev && st.st_ino == ino;
    g_journal.store(on, std::memory_order_relaxed);
}

size_t log_format_head(char *out, size_t n, LogLevel l, bool journal, const char *prefix,
                       long long epoch_ms) {
    static const char *names[] = {"debug", "info", "warning", "error"};
    static const int prio[] = {7, 6, 4, 3};   // LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR
    int k;
    if (journal) {
        // journalctl shows the priority by colour and filters by it (-p);
        // the level word stays for warnings and errors, read in plain text.
        k = l >= LogLevel::warn ? std::snprintf(out, n, "<%d>%s: ", prio[int(l)], names[int(l)])
                                : std::snprintf(out, n, "<%d>", prio[int(l)]);
    } else {
        time_t secs = time_t(epoch_ms / 1000);
        struct tm tm;
        localtime_r(&secs, &tm);
        char when[32];
        std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
        k = std::snprintf(out, n, "%s.%03lld %s: %s: ", when, epoch_ms % 1000, prefix,
                          names[int(l)]);
    }
    if (k < 0) return 0;
    return size_t(k) < n ? size_t(k) : n - 1;
}

// The queue of the thread that holds the workers (only that thread uses it).
static thread_local bool t_held = false;
static thread_local std::string t_queued;

void log_hold_begin() { t_held = true; }

void log_hold_end() {
    t_held = false;
    if (t_queued.empty()) return;
    std::fputs(t_queued.c_str(), stderr);
    t_queued.clear();
}

void logf(LogLevel l, const char *fmt, ...) {
    if (l < g_level.load(std::memory_order_relaxed)) return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char head[256];
    size_t n = log_format_head(head, sizeof head, l, g_journal.load(std::memory_order_relaxed),
                               g_prefix, (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    // Names and reasons from peers end up in messages: escaped, so a line
    // says what it shows (common/printable.h).
    std::string line(head, n);
    append_printable(&line, msg);
    line += '\n';
    if (t_held) {
        if (t_queued.size() + line.size() <= kHeldLogBytes) {
            t_queued += line;
            return;
        }
        might_block(BlockingCall::log, "log line");
        line.insert(0, t_queued);
        t_queued.clear();
    }
    // One write per line (or per queue) so concurrent threads do not interleave.
    std::fputs(line.c_str(), stderr);
}

}  // namespace lm
