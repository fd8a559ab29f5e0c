// SPDX-License-Identifier: GPL-2.0
/*
 * sections_more: the rows of libbpf's SEC() table that no other fixture uses,
 * so that every row is parsed from a real clang-built object.
 *
 * Exercises: uretprobe.s/, uprobe.session/, uprobe.multi.s/, uretprobe.multi.s/,
 * uprobe.session.s/ (sleepable and session uprobes), usdt.s/ (sleepable USDT),
 * fmod_ret.s/ (sleepable fmod_ret via BPF_PROG), sk_skb/verdict and
 * struct_ops.s/ (a sleepable struct_ops program outside any .struct_ops map).
 * Parsed only: not loaded by the kernel tests (trampolines answer EPERM here,
 * and a struct_ops program needs its map).
 */
#include "fixture.h"
#include <asm/ptrace.h>
#include <bpf/bpf_tracing.h>

SEC("uretprobe.s//bin/bash:readline")
int more_uretprobe_s(struct pt_regs *ctx) { return 0; }

SEC("uprobe.session//bin/bash:readline*")
int more_uprobe_session(struct pt_regs *ctx) { return 0; }

SEC("uprobe.multi.s//bin/bash:readline*")
int more_uprobe_multi_s(struct pt_regs *ctx) { return 0; }

SEC("uretprobe.multi.s//bin/bash:readline*")
int more_uretprobe_multi_s(struct pt_regs *ctx) { return 0; }

SEC("uprobe.session.s//bin/bash:readline*")
int more_uprobe_session_s(struct pt_regs *ctx) { return 0; }

SEC("usdt.s//usr/lib/x86_64-linux-gnu/libc.so.6:libc:setjmp")
int more_usdt_s(struct pt_regs *ctx) { return 0; }

SEC("fmod_ret.s/bpf_modify_return_test")
int BPF_PROG(more_fmod_ret_s, int a, int *b, int ret) { return 0; }

SEC("sk_skb/verdict")
int more_sk_skb_verdict(struct __sk_buff *skb) { return SK_PASS; }

SEC("struct_ops.s/pybpf_init")
int BPF_PROG(more_struct_ops_s) { return 0; }

char LICENSE[] SEC("license") = "GPL";
