// One-line logging to stderr (journald adds time and unit).  Never pass key
// material here: there is deliberately no hex-dump helper.
#pragma once
#include <cstdarg>

namespace lm {

enum class LogLevel { debug = 0, info = 1, warn = 2, err = 3 };

void log_set_level(LogLevel l);
void log_set_prefix(const char *prefix);  // e.g. "lanmeshd[office]"
void logf(LogLevel l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define LM_DEBUG(...) ::lm::logf(::lm::LogLevel::debug, __VA_ARGS__)
#define LM_INFO(...) ::lm::logf(::lm::LogLevel::info, __VA_ARGS__)
#define LM_WARN(...) ::lm::logf(::lm::LogLevel::warn, __VA_ARGS__)
#define LM_ERR(...) ::lm::logf(::lm::LogLevel::err, __VA_ARGS__)

}  // namespace lm
