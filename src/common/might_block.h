// SPDX-License-Identifier: MIT
// The rule "no blocking system call while the data-plane workers are held"
// (docs/DESIGN.md §7), checked at run time the way the kernel checks
// might_sleep() in atomic context.  The thread that holds the workers says
// so (DataWorkers::pause_all / resume_all call workers_held_begin / _end);
// every call that can wait on something outside the process (a netlink
// request, a file, the user database, a name lookup, systemd) calls
// might_block() first.  Inside a hold that is a defect: it is counted by kind, the first
// of each kind is logged with the call's place, and `lanmesh -s link show`,
// the metrics and the tests read the count (it must stay 0).
//
// Log lines written inside a hold are queued and written when it ends
// (common/log.h), so a slow journal never stops the data path either.
//
// The state is per thread: the registry and resolver threads block by
// design and never hold the workers.
#pragma once
#include <cstddef>
#include <cstdint>

namespace lm {

// notify: a datagram to systemd's notify socket, which waits while PID 1
// is too busy to read it.
enum class BlockingCall : uint8_t { netlink, file, user_db, name_lookup, notify, log };
inline constexpr size_t kBlockingCallKinds = 6;
const char *to_string(BlockingCall k);

// Called by the thread that takes / releases the workers.
void workers_held_begin();
void workers_held_end();
// True on the thread that holds the workers, while it holds them.
bool workers_held_here();

// Before a call that can block.  `where` names it for the log ("netlink
// route add"); a string literal.
void might_block(BlockingCall k, const char *where);

// Blocking calls made inside a hold since start, by kind (control thread).
struct BlockingCounts {
    uint64_t by_kind[kBlockingCallKinds] = {};
    uint64_t total() const {
        uint64_t t = 0;
        for (uint64_t n : by_kind) t += n;
        return t;
    }
};
BlockingCounts blocking_while_held();
// Tests only: forgets the counts and which kinds were logged.
void blocking_counts_reset();

}  // namespace lm
