// SPDX-License-Identifier: MIT
// CrlWatch: a CRL's end of validity is announced 7 days and 1 day ahead,
// when it comes, and a CRL not yet valid at once; each once, and standing
// warnings stay for status output while they hold.
#include <gtest/gtest.h>

#include "control/crl_watch.h"

namespace lm {
namespace {

constexpr time_t kDay = 86400;
constexpr time_t kT0 = 1900000000;   // 2030-03-17

bool has(const std::vector<std::string> &v, const std::string &sub) {
    for (const auto &s : v)
        if (s.find(sub) != std::string::npos) return true;
    return false;
}

TEST(CrlWatch, WarnsAheadAndAtExpiryOnce) {
    CrlWatch w;
    w.set("/etc/lanmesh/crl.pem", {{"/CN=Office CA", kT0 - 20 * kDay, kT0 + 10 * kDay}});
    EXPECT_TRUE(w.due(kT0).empty());
    EXPECT_TRUE(w.standing(kT0).empty());
    EXPECT_FALSE(w.unusable(kT0));

    auto week = w.due(kT0 + 4 * kDay);   // 6 days left
    ASSERT_EQ(week.size(), 1u);
    EXPECT_EQ(week[0], "CRL /etc/lanmesh/crl.pem (of /CN=Office CA) expires in 6 days (nextUpdate "
                       "2030-03-27 17:46:40 UTC): renew it, or no new peer is admitted from then on");
    EXPECT_TRUE(w.due(kT0 + 5 * kDay).empty());   // once
    EXPECT_EQ(w.standing(kT0 + 5 * kDay).size(), 1u);

    auto day = w.due(kT0 + 9 * kDay + 3600);
    ASSERT_EQ(day.size(), 1u);
    EXPECT_TRUE(has(day, "expires in 23 hours")) << day[0];
    EXPECT_TRUE(w.due(kT0 + 9 * kDay + 7200).empty());

    auto gone = w.due(kT0 + 10 * kDay);
    ASSERT_EQ(gone.size(), 1u);
    EXPECT_TRUE(has(gone, "has expired (nextUpdate 2030-03-27 17:46:40 UTC): no new peer is admitted until it is "
                          "renewed and reloaded"))
        << gone[0];
    EXPECT_TRUE(w.due(kT0 + 11 * kDay).empty());
    EXPECT_TRUE(w.unusable(kT0 + 11 * kDay));
    EXPECT_TRUE(has(w.standing(kT0 + 11 * kDay), "has expired"));

    // A renewed CRL (reload) starts over.
    w.set("/etc/lanmesh/crl.pem", {{"/CN=Office CA", kT0 + 11 * kDay, kT0 + 41 * kDay}});
    EXPECT_TRUE(w.due(kT0 + 11 * kDay).empty());
    EXPECT_FALSE(w.unusable(kT0 + 11 * kDay));
}

TEST(CrlWatch, AlreadyExpiredOrNotYetValidAtStart) {
    CrlWatch w;
    w.set("crl.pem", {{"/CN=A", kT0 - 40 * kDay, kT0 - 10 * kDay}, {"/CN=B", kT0 + kDay, kT0 + 30 * kDay}});
    auto now = w.due(kT0);
    ASSERT_EQ(now.size(), 2u);
    EXPECT_TRUE(has(now, "CRL crl.pem (of /CN=A) has expired"));
    EXPECT_TRUE(has(now, "CRL crl.pem (of /CN=B) is not yet valid (lastUpdate 2030-03-18 17:46:40 UTC is in the "
                         "future: check the clocks)"));
    EXPECT_TRUE(w.unusable(kT0));
    EXPECT_TRUE(w.due(kT0 + 60).empty());
}

TEST(CrlWatch, NoNextUpdateNeverExpires) {
    CrlWatch w;
    w.set("crl.pem", {{"/CN=A", kT0 - kDay, 0}});
    EXPECT_TRUE(w.due(kT0 + 1000 * kDay).empty());
    EXPECT_FALSE(w.unusable(kT0 + 1000 * kDay));
}

}  // namespace
}  // namespace lm
