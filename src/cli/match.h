// SPDX-License-Identifier: MIT
// Unique-prefix matching of command-line words, the iproute2 way but strict:
// an exact name always wins, and a prefix is accepted only when every name it
// starts stands for the same thing.  Aliases ("delete" for "del") share an
// id, so a prefix of both is not ambiguous.
#pragma once
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lm::cli {

struct Word {
    const char *name;
    int id;
};

struct Match {
    enum Status { found, none, ambiguous } status = none;
    int id = -1;
    std::vector<std::string> candidates;   // names that matched, when ambiguous
};

Match match_word(std::string_view typed, std::span<const Word> words);

// "link, lease" for an error message.
std::string join_names(const std::vector<std::string> &names);

}  // namespace lm::cli
