// SPDX-License-Identifier: MIT
// What every fuzz target shares: an invariant check that aborts (a finding
// for libFuzzer and a failure for corpus_main), and logging turned off so a
// parser's warnings neither slow the fuzzer down nor fill the terminal.
#pragma once
#include <cstdio>
#include <cstdlib>

#include "common/log.h"

namespace lm::fuzz {

[[noreturn]] inline void invariant_failed(const char *what, const char *file, int line) {
    std::fprintf(stderr, "%s:%d: fuzz invariant broken: %s\n", file, line, what);
    std::abort();
}

#define LM_FUZZ_CHECK(cond) \
    ((cond) ? (void)0 : ::lm::fuzz::invariant_failed(#cond, __FILE__, __LINE__))

// Called once per input; cheap.  The level above err is "nothing".
inline void quiet_logs() { log_set_level(LogLevel(int(LogLevel::err) + 1)); }

}  // namespace lm::fuzz
