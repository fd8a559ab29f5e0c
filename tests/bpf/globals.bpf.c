// SPDX-License-Identifier: GPL-2.0
/*
 * globals: global variables in every data section kind, plus externs.
 *
 * Exercises: .data (initialised globals), .rodata (const volatile, set
 * before load), .bss (zero-initialised), custom .data.foo and .rodata.bar
 * sections (each its own internal map), a static const table, .rodata.str1.1
 * (printk format strings), __kconfig externs in .kconfig
 * (LINUX_KERNEL_VERSION, CONFIG_HZ, a __weak CONFIG_ that may be missing,
 * a bool/tristate one), an untyped weak __ksym (`_stext`, a plain address
 * from kallsyms, ld_imm64 with no pseudo src), and kfunc externs
 * (bpf_task_acquire/bpf_task_release, calls with BPF_PSEUDO_KFUNC_CALL).
 *
 * `xdp_globals` returns XDP_PASS when the packet is at most `max_len` bytes
 * (rodata, default 1514) and XDP_DROP otherwise, counting into .bss/.data.
 * `count_new_tasks` (tp_btf/task_newtask) uses the kfuncs.
 */
#include "fixture.h"
#include <bpf/bpf_tracing.h>

/* .data */
int packets_seen = 5;
char greeting[8] = "hello";

/* .rodata: userspace may rewrite these before load. */
const volatile __u32 max_len = 1514;
const volatile __u64 ro_magic = 0x0123456789abcdefULL;

/* .bss */
__u64 bytes_seen;
__u32 drops;
__u8 last_bytes[32];

/* custom data sections */
int foo_counter SEC(".data.foo") = 42;
__u64 foo_array[4] SEC(".data.foo") = { 1, 2, 3, 4 };
const volatile int bar_limit SEC(".rodata.bar") = 7;

static const __u8 weights[4] = { 1, 2, 4, 8 };

/* .kconfig externs, filled in by the loader from the running kernel. */
extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern int CONFIG_HZ __kconfig;
extern enum libbpf_tristate CONFIG_BPF_LSM __kconfig __weak;
extern _Bool CONFIG_PYBPF_DOES_NOT_EXIST __kconfig __weak;

/*
 * .ksyms: an untyped weak symbol (resolved through /proc/kallsyms to a plain
 * address) and kfuncs. Typed kernel variables are in ksym_typed.bpf.c.
 */
extern const void _stext __ksym __weak;

/* A complete (if minimal) struct: libbpf matches kfunc prototypes against
 * kernel BTF and refuses a forward declaration where the kernel has a struct. */
struct task_struct {
	int pid;
} __attribute__((preserve_access_index));

extern struct task_struct *bpf_task_acquire(struct task_struct *p) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;

__u64 kversion_seen;
__u64 hz_seen;
__u64 ksym_addr;
__u64 new_tasks;

SEC("xdp")
int xdp_globals(struct xdp_md *ctx)
{
	__u32 len = ctx->data_end - ctx->data;

	packets_seen++;
	bytes_seen += len;
	foo_counter += weights[len & 3];
	foo_array[len & 3] += bar_limit;
	kversion_seen = LINUX_KERNEL_VERSION;
	hz_seen = CONFIG_HZ;
	ksym_addr = (__u64)&_stext;
	if (CONFIG_BPF_LSM == TRI_YES || CONFIG_PYBPF_DOES_NOT_EXIST)
		last_bytes[0] = 1;
	if (ro_magic != 0x0123456789abcdefULL)
		greeting[0] = 'H';

	if (len > max_len) {
		drops++;
		return XDP_DROP;
	}
	return XDP_PASS;
}

SEC("tp_btf/task_newtask")
int BPF_PROG(count_new_tasks, struct task_struct *task, __u64 clone_flags)
{
	struct task_struct *acquired;

	acquired = bpf_task_acquire(task);
	if (!acquired)
		return 0;
	new_tasks++;
	bpf_task_release(acquired);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
