#include "common/log.h"

#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>

#include "common/printable.h"

namespace lm {

// Read by every thread, changed by a reload on the control thread.
static std::atomic<LogLevel> g_level{LogLevel::info};
static char g_prefix[64] = "lanmesh";

void log_set_level(LogLevel l) { g_level.store(l, std::memory_order_relaxed); }
void log_set_prefix(const char *p) { std::snprintf(g_prefix, sizeof g_prefix, "%s", p); }

void logf(LogLevel l, const char *fmt, ...) {
    if (l < g_level.load(std::memory_order_relaxed)) return;
    static const char *names[] = {"debug", "info", "warning", "error"};
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    // Names and reasons from peers end up in messages: escaped, so a line
    // says what it shows (common/printable.h).
    std::string line = std::string(g_prefix) + ": " + names[int(l)] + ": ";
    append_printable(&line, msg);
    line += '\n';
    // One write per line so concurrent threads do not interleave.
    std::fputs(line.c_str(), stderr);
}

}  // namespace lm
