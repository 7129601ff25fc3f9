#include "data/counters.h"

namespace lm {

const char *to_string(Drop d) {
    switch (d) {
#define LM_X(name) \
    case Drop::name: return #name;
        LM_DROP_REASONS(LM_X)
#undef LM_X
    case Drop::count_: break;
    }
    return "?";
}

uint64_t DataCounters::total_drops() const {
    uint64_t n = 0;
    for (auto v : drops) n += v;
    return n;
}

}  // namespace lm
