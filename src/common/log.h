// SPDX-License-Identifier: MIT
// One-line logging to stderr.  Where stderr is the journal (systemd sets
// JOURNAL_STREAM to its device and inode), each line starts with its syslog
// priority as "<N>" (sd-daemon(3)) and carries no prefix or time: journald
// adds the unit, the PID and the time itself.  Anywhere else (a terminal, a
// file, a pipe) each line carries the time and the prefix.  Never pass key
// material here: there is deliberately no hex-dump helper.
#pragma once
#include <cstdarg>
#include <cstddef>

namespace lm {

enum class LogLevel { debug = 0, info = 1, warn = 2, err = 3 };

void log_set_level(LogLevel l);
void log_set_prefix(const char *prefix);  // e.g. "lanmeshd[office]"
// Decides, once, whether fd 2 is the journal stream named by JOURNAL_STREAM.
void log_detect_journal();
void logf(LogLevel l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Lines this thread logs between the two are queued (up to kHeldLogBytes)
// and written by log_hold_end(): the thread holds the data-plane workers
// meanwhile (common/might_block.h), and a write to a slow journal must not
// stop them.  A line that no longer fits is written at once, with what is
// queued before it, and counted as a blocking call.
void log_hold_begin();
void log_hold_end();
inline constexpr size_t kHeldLogBytes = 64 * 1024;

// The start of one log line, without its newline, into out (size n): the
// pure part of logf(), for tests.  Returns the length written.
size_t log_format_head(char *out, size_t n, LogLevel l, bool journal, const char *prefix,
                       long long epoch_ms);

#define LM_DEBUG(...) ::lm::logf(::lm::LogLevel::debug, __VA_ARGS__)
#define LM_INFO(...) ::lm::logf(::lm::LogLevel::info, __VA_ARGS__)
#define LM_WARN(...) ::lm::logf(::lm::LogLevel::warn, __VA_ARGS__)
#define LM_ERR(...) ::lm::logf(::lm::LogLevel::err, __VA_ARGS__)

}  // namespace lm
