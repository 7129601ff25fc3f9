// SPDX-License-Identifier: MIT
// When the CRL is out of its validity period, no new peer is admitted: a CRL
// that expires while the daemon runs would cut the network off silently.
// CrlWatch says so ahead of time (7 days and 1 day before nextUpdate), when
// it happens, and when a CRL is not yet valid (lastUpdate in the future: a
// clock or CA mistake), each once; and keeps standing warnings for
// `lanmesh link show`.  Pure logic over times: the node calls due() from its
// tick and set() after every load of the TLS files.
#pragma once
#include <ctime>
#include <string>
#include <vector>

#include "control/tls.h"

namespace lm {

class CrlWatch {
public:
    static constexpr time_t kFirstNotice = 7 * 86400;
    static constexpr time_t kLastNotice = 86400;

    // The CRLs now in use from `path`; forgets which warnings were given.
    void set(const std::string &path, std::vector<CrlTimes> crls);
    // Warnings that became due by `now` and were not given yet.
    std::vector<std::string> due(time_t now);
    // What holds at `now`, for status output: one line per CRL that is not
    // yet valid, expired or expires within kFirstNotice.
    std::vector<std::string> standing(time_t now) const;
    // True when some CRL refuses every peer at `now`.
    bool unusable(time_t now) const;

private:
    enum class Level { ok, within_week, within_day, expired, not_yet_valid };
    struct Entry {
        CrlTimes t;
        Level warned = Level::ok;
    };
    static Level level(const CrlTimes &t, time_t now);
    std::string message(const CrlTimes &t, Level l, time_t now) const;

    std::string path_;
    std::vector<Entry> crls_;
};

}  // namespace lm
