// SPDX-License-Identifier: MIT
// The steering program is a socket filter (the type TUN accepts) written as
// raw eBPF instructions: it is short, and loading it needs no library.  At
// queue selection skb->data is the IP header (a TUN device has no link
// layer), so LD_ABS offsets are offsets into the IP packet.  A load past the
// end of the packet ends the program with 0, i.e. queue 0.  The kernel takes
// the return value modulo the number of queues.
#include "net/tun_steering.h"

#include <linux/bpf.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace lm {

namespace {

class Asm {
public:
    void op(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
        bpf_insn i{};
        i.code = code;
        i.dst_reg = dst & 0xf;
        i.src_reg = src & 0xf;
        i.off = off;
        i.imm = imm;
        prog_.push_back(i);
    }
    void mov(uint8_t dst, uint8_t src) { op(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0); }
    void movi(uint8_t dst, int32_t imm) { op(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm); }
    void alui(uint8_t aluop, uint8_t dst, int32_t imm) { op(BPF_ALU | aluop | BPF_K, dst, 0, 0, imm); }
    void alu(uint8_t aluop, uint8_t dst, uint8_t src) { op(BPF_ALU | aluop | BPF_X, dst, src, 0, 0); }
    // r0 = packet[off] (big endian, size BPF_B/H/W); needs the context in r6.
    void ld_abs(uint8_t size, int32_t off) { op(BPF_LD | size | BPF_ABS, 0, 0, 0, off); }
    // r0 = packet[src + off]
    void ld_ind(uint8_t size, uint8_t src, int32_t off) { op(BPF_LD | size | BPF_IND, 0, src, 0, off); }
    // r7 ^= r0: the running hash
    void mix0() { alu(BPF_XOR, 7, 0); }
    // Conditional jump to a label placed later.
    void jeq(uint8_t reg, int32_t imm, int label) { jump(BPF_JMP | BPF_JEQ | BPF_K, reg, imm, label); }
    void jne(uint8_t reg, int32_t imm, int label) { jump(BPF_JMP | BPF_JNE | BPF_K, reg, imm, label); }
    void ja(int label) { jump(BPF_JMP | BPF_JA, 0, 0, label); }
    void place(int label) {
        if (size_t(label) >= labels_.size()) labels_.resize(size_t(label) + 1, -1);
        labels_[size_t(label)] = int(prog_.size());
    }
    void exit() { op(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }
    const std::vector<bpf_insn> &finish() {
        for (auto &f : fixups_) prog_[size_t(f.first)].off = int16_t(labels_[size_t(f.second)] - f.first - 1);
        return prog_;
    }

private:
    void jump(uint8_t code, uint8_t reg, int32_t imm, int label) {
        fixups_.push_back({int(prog_.size()), label});
        op(code, reg, 0, 0, imm);
    }
    std::vector<bpf_insn> prog_;
    std::vector<int> labels_;
    std::vector<std::pair<int, int>> fixups_;
};

enum { kV6, kPorts4, kPorts6, kOut };

std::vector<bpf_insn> flow_hash_program() {
    Asm a;
    a.mov(6, 1);                 // LD_ABS wants the context in r6
    a.movi(7, 0);                // r7: hash
    a.ld_abs(BPF_B, 0);          // version and IHL
    a.mov(8, 0);
    a.alui(BPF_RSH, 8, 4);
    a.jeq(8, 6, kV6);
    a.jne(8, 4, kOut);
    // IPv4: addresses, protocol, and the ports of unfragmented TCP and UDP.
    a.mov(8, 0);
    a.alui(BPF_AND, 8, 0x0f);
    a.alui(BPF_LSH, 8, 2);       // r8: header length
    a.ld_abs(BPF_W, 12);
    a.mix0();
    a.ld_abs(BPF_W, 16);
    a.mix0();
    a.ld_abs(BPF_B, 9);
    a.mov(9, 0);
    a.mix0();
    a.ld_abs(BPF_H, 6);          // MF flag and fragment offset
    a.alui(BPF_AND, 0, 0x3fff);
    a.jne(0, 0, kOut);
    a.jeq(9, 6, kPorts4);
    a.jeq(9, 17, kPorts4);
    a.ja(kOut);
    a.place(kPorts4);
    a.ld_ind(BPF_W, 8, 0);       // source and destination port
    a.mix0();
    a.ja(kOut);
    // IPv6: both addresses, the next header, and the ports when TCP or UDP
    // follows the fixed header directly.
    a.place(kV6);
    for (int off = 8; off < 40; off += 4) {
        a.ld_abs(BPF_W, off);
        a.mix0();
    }
    a.ld_abs(BPF_B, 6);
    a.mov(9, 0);
    a.mix0();
    a.jeq(9, 6, kPorts6);
    a.jeq(9, 17, kPorts6);
    a.ja(kOut);
    a.place(kPorts6);
    a.ld_abs(BPF_W, 40);
    a.mix0();
    // Finalise (a 32-bit integer hash mix) so the low bits, which the
    // modulo uses, depend on every input bit.
    a.place(kOut);
    a.mov(0, 7);
    for (int round = 0; round < 2; round++) {
        a.mov(1, 0);
        a.alui(BPF_RSH, 1, 16);
        a.alu(BPF_XOR, 0, 1);
        a.alui(BPF_MUL, 0, 0x45d9f3b);
    }
    a.mov(1, 0);
    a.alui(BPF_RSH, 1, 16);
    a.alu(BPF_XOR, 0, 1);
    a.exit();
    return a.finish();
}

}  // namespace

int tun_steering_load(std::string *err) {
    const std::vector<bpf_insn> prog = flow_hash_program();
    static const char license[] = "Dual MIT/GPL";
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof attr);
    attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
    attr.insns = uint64_t(uintptr_t(prog.data()));
    attr.insn_cnt = uint32_t(prog.size());
    attr.license = uint64_t(uintptr_t(license));
    int fd = int(syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr));
    if (fd < 0) *err = std::string("loading the TUN steering program: ") + strerror(errno);
    return fd;
}

bool tun_steer_by_flow_hash(int tun_fd, std::string *err) {
    int fd = tun_steering_load(err);
    if (fd < 0) return false;
    // The device keeps its own reference to the program.
    int rc = ioctl(tun_fd, TUNSETSTEERINGEBPF, &fd);
    int e = errno;
    close(fd);
    if (rc < 0) {
        *err = std::string("TUNSETSTEERINGEBPF: ") + strerror(e);
        return false;
    }
    return true;
}

}  // namespace lm
