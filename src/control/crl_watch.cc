// SPDX-License-Identifier: MIT
#include "control/crl_watch.h"

namespace lm {

namespace {

std::string utc(time_t t) {
    char b[32];
    tm tmv;
    gmtime_r(&t, &tmv);
    strftime(b, sizeof b, "%Y-%m-%d %H:%M:%S UTC", &tmv);
    return b;
}

std::string in_time(time_t secs) {
    if (secs >= 2 * 86400) return std::to_string(secs / 86400) + " days";
    if (secs >= 2 * 3600) return std::to_string(secs / 3600) + " hours";
    if (secs >= 120) return std::to_string(secs / 60) + " minutes";
    return std::to_string(secs) + " seconds";
}

}  // namespace

void CrlWatch::set(const std::string &path, std::vector<CrlTimes> crls) {
    path_ = path;
    crls_.clear();
    for (auto &t : crls) crls_.push_back({std::move(t), Level::ok});
}

CrlWatch::Level CrlWatch::level(const CrlTimes &t, time_t now) {
    if (now < t.last_update) return Level::not_yet_valid;
    if (!t.next_update) return Level::ok;
    if (now >= t.next_update) return Level::expired;
    if (t.next_update - now <= kLastNotice) return Level::within_day;
    if (t.next_update - now <= kFirstNotice) return Level::within_week;
    return Level::ok;
}

std::string CrlWatch::message(const CrlTimes &t, Level l, time_t now) const {
    std::string crl = "CRL " + path_ + " (of " + t.issuer + ")";
    switch (l) {
    case Level::ok: break;
    case Level::within_week:
    case Level::within_day:
        return crl + " expires in " + in_time(t.next_update - now) + " (nextUpdate " + utc(t.next_update) +
               "): renew it, or no new peer is admitted from then on";
    case Level::expired:
        return crl + " has expired (nextUpdate " + utc(t.next_update) +
               "): no new peer is admitted until it is renewed and reloaded";
    case Level::not_yet_valid:
        return crl + " is not yet valid (lastUpdate " + utc(t.last_update) +
               " is in the future: check the clocks): no new peer is admitted until then";
    }
    return "";
}

std::vector<std::string> CrlWatch::due(time_t now) {
    std::vector<std::string> out;
    for (auto &e : crls_) {
        Level l = level(e.t, now);
        if (l == e.warned) continue;
        // Back to valid (a clock step): a later expiry is worth a warning again.
        if (l != Level::ok) out.push_back(message(e.t, l, now));
        e.warned = l;
    }
    return out;
}

std::vector<std::string> CrlWatch::standing(time_t now) const {
    std::vector<std::string> out;
    for (const auto &e : crls_)
        if (Level l = level(e.t, now); l != Level::ok) out.push_back(message(e.t, l, now));
    return out;
}

bool CrlWatch::unusable(time_t now) const {
    for (const auto &e : crls_)
        if (Level l = level(e.t, now); l == Level::expired || l == Level::not_yet_valid) return true;
    return false;
}

}  // namespace lm
