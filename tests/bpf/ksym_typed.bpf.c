// SPDX-License-Identifier: GPL-2.0
/*
 * ksym_typed: a typed __ksym extern for a kernel per-cpu variable.
 *
 * Exercises: `extern const int bpf_prog_active __ksym;` resolved through
 * kernel BTF (ld_imm64 with src BPF_PSEUDO_BTF_ID, imm = BTF id of the VAR),
 * then bpf_this_cpu_ptr() and bpf_per_cpu_ptr() on it (PTR_TO_PERCPU_BTF_ID).
 *
 * Loading needs the kernel to find the variable's address with
 * kallsyms_lookup_name(), i.e. CONFIG_KALLSYMS_ALL=y. Kernels without it
 * refuse the program ("ldimm64 failed to find the address for kernel
 * symbol"), which makes this fixture also a known-failure case for the
 * kernel backend's error reporting.
 */
#include "fixture.h"

extern const int bpf_prog_active __ksym;

__s64 active_here;
__s64 active_cpu0;

SEC("raw_tp/sys_enter")
int read_prog_active(void *ctx)
{
	const int *p;

	p = bpf_this_cpu_ptr(&bpf_prog_active);
	active_here = *p;
	p = bpf_per_cpu_ptr(&bpf_prog_active, 0);
	if (p)
		active_cpu0 = *p;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
