#include "common/log.h"

#include <atomic>
#include <cstdio>
#include <cstring>

namespace lm {

// Read by every thread, changed by a reload on the control thread.
static std::atomic<LogLevel> g_level{LogLevel::info};
static char g_prefix[64] = "lanmesh";

void log_set_level(LogLevel l) { g_level.store(l, std::memory_order_relaxed); }
void log_set_prefix(const char *p) { std::snprintf(g_prefix, sizeof g_prefix, "%s", p); }

void logf(LogLevel l, const char *fmt, ...) {
    if (l < g_level.load(std::memory_order_relaxed)) return;
    static const char *names[] = {"debug", "info", "warning", "error"};
    char line[1024];
    int n = std::snprintf(line, sizeof line, "%s: %s: ", g_prefix, names[int(l)]);
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(line + n, sizeof line - n, fmt, ap);
    va_end(ap);
    // One write per line so concurrent threads do not interleave.
    std::fprintf(stderr, "%s\n", line);
}

}  // namespace lm
