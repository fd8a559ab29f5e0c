// SPDX-License-Identifier: MIT
/*
 * xdp_pass: the smallest useful program, `return XDP_PASS`.
 *
 * Exercises: SEC("xdp"), a two-instruction program, no maps, no relocations.
 */
#include "fixture.h"

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
