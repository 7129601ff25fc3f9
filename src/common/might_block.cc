// SPDX-License-Identifier: MIT
#include "common/might_block.h"

#include <atomic>

#include "common/log.h"

namespace lm {

namespace {

// Only the holding thread changes its own flag; the counts are written by
// whichever thread holds (the control thread) and read by it too, but a
// test may read them from elsewhere: atomics, relaxed.
thread_local bool t_holding = false;
std::atomic<uint64_t> g_counts[kBlockingCallKinds];
std::atomic<bool> g_logged[kBlockingCallKinds];

}  // namespace

const char *to_string(BlockingCall k) {
    switch (k) {
    case BlockingCall::netlink: return "netlink";
    case BlockingCall::file: return "file";
    case BlockingCall::user_db: return "user_db";
    case BlockingCall::name_lookup: return "name_lookup";
    case BlockingCall::notify: return "notify";
    case BlockingCall::log: return "log";
    }
    return "?";
}

void workers_held_begin() {
    t_holding = true;
    log_hold_begin();
}

void workers_held_end() {
    t_holding = false;
    log_hold_end();   // the lines of the hold are written now, workers running
}

bool workers_held_here() { return t_holding; }

void might_block(BlockingCall k, const char *where) {
    if (!t_holding) return;
    size_t i = size_t(k);
    g_counts[i].fetch_add(1, std::memory_order_relaxed);
    // The line goes into the hold's queue like any other, so reporting the
    // defect does not block either (a queue too full to take it writes it
    // and counts as `log`, once more: no recursion past that).
    if (!g_logged[i].exchange(true, std::memory_order_relaxed) && k != BlockingCall::log)
        LM_WARN("internal: a blocking call (%s: %s) ran while the data-plane workers were held; "
                "packets waited for it (please report this)",
                to_string(k), where);
}

BlockingCounts blocking_while_held() {
    BlockingCounts c;
    for (size_t i = 0; i < kBlockingCallKinds; i++) c.by_kind[i] = g_counts[i].load(std::memory_order_relaxed);
    return c;
}

void blocking_counts_reset() {
    for (size_t i = 0; i < kBlockingCallKinds; i++) {
        g_counts[i].store(0, std::memory_order_relaxed);
        g_logged[i].store(false, std::memory_order_relaxed);
    }
}

}  // namespace lm
