// SPDX-License-Identifier: MIT
// Fuzz target: the configuration file parser (config/config.h), on the text
// of a whole file as load_config() would read it.  parse_config() touches
// nothing outside memory: paths in the file are checked as strings, users
// as names.  A file it refuses must come with a message naming the file.
#include <cstdint>
#include <string>

#include "config/config.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lm::fuzz::quiet_logs();
    std::string text(reinterpret_cast<const char *>(data), size);
    lm::ConfigError err;
    auto c = lm::parse_config(text, "/etc/lanmesh/fuzz.conf", &err);
    if (!c) {
        LM_FUZZ_CHECK(err.message.rfind("/etc/lanmesh/fuzz.conf", 0) == 0);
        return 0;
    }
    LM_FUZZ_CHECK(c->net == "fuzz");
    return 0;
}
