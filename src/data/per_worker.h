// SPDX-License-Identifier: MIT
// State that every data-plane worker keeps a private copy of inside a shared
// object (a tunnel's counters, an SA's cipher context and sequence block).
// Each copy has cache lines of its own, so workers never write to a line
// another worker reads per packet; the control thread sums the copies while
// the workers are paused (data/workers.h).
//
// The number of copies is fixed for the process before the first tunnel or SA
// exists: one per worker plus one for the control thread, which sends
// keepalives and probes.
#pragma once
#include <cstddef>
#include <memory>

namespace lm {

// Slots are 0..data_slots()-1; the control thread's is the last.
int data_slots();
void set_data_slots(int n);   // once, before any PerWorker is made

template <class T>
class PerWorker {
public:
    PerWorker() : n_(data_slots()), cells_(new Cell[size_t(n_)]) {}
    T &operator[](int slot) { return cells_[slot].v; }
    const T &operator[](int slot) const { return cells_[slot].v; }
    int size() const { return n_; }

private:
    struct alignas(64) Cell {
        T v{};
    };
    int n_;
    std::unique_ptr<Cell[]> cells_;
};

}  // namespace lm
