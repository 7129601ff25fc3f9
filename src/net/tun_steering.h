// SPDX-License-Identifier: MIT
// Which queue of a multi-queue TUN device a packet from the kernel goes to.
//
// By default the kernel sends a flow to the queue that last wrote a packet
// of that flow (tun "automq"): for a VPN that means every flow of one peer
// ends up on the worker that decrypts that peer's traffic, and the other
// workers idle.  A steering program (TUNSETSTEERINGEBPF) replaces that
// choice: ours hashes the inner addresses, protocol and ports (not the ports
// of fragments), so a flow always takes one queue and different flows spread.
//
// Loading a BPF program needs CAP_BPF or CAP_SYS_ADMIN (Debian sets
// kernel.unprivileged_bpf_disabled), so call it before dropping privileges.
#pragma once
#include <string>

namespace lm {

// Attaches the program to the device behind `tun_fd` (any queue).  False
// with *err when the kernel refuses; the device then keeps automq.
bool tun_steer_by_flow_hash(int tun_fd, std::string *err);

// The program alone, loaded: a BPF program fd the caller closes, or -1 with
// *err.  For the unit test, which runs it with BPF_PROG_TEST_RUN.
int tun_steering_load(std::string *err);

}  // namespace lm
