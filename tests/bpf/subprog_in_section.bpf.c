// SPDX-License-Identifier: MIT
/*
 * subprog_in_section: a subprogram placed in the program's own section.
 *
 * Exercises: a __noinline static function and a __noinline global function
 * given SEC("xdp"), the same section as the program calling them, so the
 * calls stay inside one section (and a global function in a program
 * section is, to libbpf, another program entry). libbpf refuses a static
 * function in a program section ("program is static and not supported");
 * pybpf's ELF layer must either accept it as a subprogram or say why not.
 * `xdp_caller` returns XDP_PASS iff triple(7) + twice(4) == 29.
 */
#include "fixture.h"

static __noinline SEC("xdp") int triple(int x)
{
	return 3 * x;
}

__noinline SEC("xdp") int twice(int x)
{
	return 2 * x;
}

SEC("xdp")
int xdp_caller(struct xdp_md *ctx)
{
	return triple(7) + twice(4) == 29 ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
