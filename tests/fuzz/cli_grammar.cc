// SPDX-License-Identifier: MIT
// Fuzz target: the command line grammar of lanmesh(8) (cli/grammar.h).
//
// Input: the arguments after the program name, one per line ('\n'
// separates them, so an argument may hold spaces).  When the parse
// succeeds, the request line sent to the daemon must be one line, and
// parsing it again, split at spaces, must give the same request: it is the
// canonical form, and the daemon splits it the same way.
#include <cstdint>
#include <string>
#include <vector>

#include "cli/grammar.h"
#include "fuzz_check.h"

namespace {

std::vector<std::string> split(const std::string &s, char sep) {
    std::vector<std::string> out;
    size_t start = 0;
    for (;;) {
        size_t end = s.find(sep, start);
        if (end == std::string::npos) {
            out.push_back(s.substr(start));
            return out;
        }
        out.push_back(s.substr(start, end - start));
        start = end + 1;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    using namespace lm::cli;
    lm::fuzz::quiet_logs();
    std::string text(reinterpret_cast<const char *>(data), size);
    if (!text.empty() && text.back() == '\n') text.pop_back();
    std::vector<std::string> argv = text.empty() ? std::vector<std::string>{} : split(text, '\n');

    Invocation inv;
    std::string err;
    int rc = parse_command_line(argv, &inv, &err);
    if (rc != kExitOk) {
        LM_FUZZ_CHECK(rc == kExitUsage && !err.empty());
        return 0;
    }
    if (inv.action != Invocation::Action::run) return 0;
    std::string req = inv.request();
    LM_FUZZ_CHECK(req.find('\n') == std::string::npos);
    Invocation again;
    LM_FUZZ_CHECK(parse_command_line(split(req, ' '), &again, &err) == kExitOk);
    LM_FUZZ_CHECK(again.action == Invocation::Action::run);
    LM_FUZZ_CHECK(again.request() == req);
    return 0;
}
