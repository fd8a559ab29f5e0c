// SPDX-License-Identifier: GPL-2.0
/*
 * kprobe: kprobe/kretprobe on do_unlinkat counting calls per process.
 *
 * Exercises: SEC("kprobe/do_unlinkat") and SEC("kretprobe/do_unlinkat"),
 * struct pt_regs from the UAPI <asm/ptrace.h> with PT_REGS_PARM1/PARM2 and
 * PT_REGS_RC (needs -D__TARGET_ARCH_x86), the BPF_KPROBE/BPF_KRETPROBE
 * wrappers, a HASH map `calls` keyed by tgid (u32 -> u64) updated with
 * BPF_NOEXIST then an atomic add, bpf_probe_read_kernel through a kernel
 * pointer argument (struct filename's first member is `const char *name`),
 * and a HASH `last_ret` recording the last return value per tgid.
 */
#include "fixture.h"
#include <asm/ptrace.h>
#include <bpf/bpf_tracing.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __s64);
} last_ret SEC(".maps");

__s64 last_dfd;
char last_name[64];

/* Plain form: read the arguments from pt_regs by hand. */
SEC("kprobe/do_unlinkat")
int count_unlinkat(struct pt_regs *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	void *filename = (void *)PT_REGS_PARM2(ctx);
	const char *name = NULL;
	__u64 one = 1, *count;

	last_dfd = (int)PT_REGS_PARM1(ctx);
	count = bpf_map_lookup_elem(&calls, &tgid);
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&calls, &tgid, &one, BPF_NOEXIST);

	/* struct filename { const char *name; ... } */
	if (filename && bpf_probe_read_kernel(&name, sizeof(name), filename) == 0)
		bpf_probe_read_kernel_str(last_name, sizeof(last_name), name);
	return 0;
}

/* Wrapper form: the return value as a typed argument. */
SEC("kretprobe/do_unlinkat")
int BPF_KRETPROBE(unlinkat_ret, long ret)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__s64 value = ret;

	bpf_map_update_elem(&last_ret, &tgid, &value, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
