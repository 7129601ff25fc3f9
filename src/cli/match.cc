// SPDX-License-Identifier: MIT
#include "cli/match.h"

namespace lm::cli {

Match match_word(std::string_view typed, std::span<const Word> words) {
    Match m;
    if (typed.empty()) return m;
    for (const Word &w : words)
        if (typed == w.name) {
            m.status = Match::found;
            m.id = w.id;
            return m;
        }
    bool one_id = true;
    for (const Word &w : words) {
        if (std::string_view(w.name).substr(0, typed.size()) != typed) continue;
        if (m.id >= 0 && m.id != w.id) one_id = false;
        m.id = w.id;
        m.candidates.push_back(w.name);
    }
    if (m.candidates.empty()) m.status = Match::none;
    else m.status = one_id ? Match::found : Match::ambiguous;
    if (m.status != Match::found) m.id = -1;
    return m;
}

std::string join_names(const std::vector<std::string> &names) {
    std::string s;
    for (const auto &n : names) s += (s.empty() ? "" : ", ") + n;
    return s;
}

}  // namespace lm::cli
