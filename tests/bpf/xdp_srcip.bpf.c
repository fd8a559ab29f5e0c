// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_srcip: print the source address of every IP packet.
 *
 * Exercises: SEC("xdp"), direct packet access with bounds checks against
 * data_end, Ethernet/IPv4/IPv6 parsing, bpf_printk (bpf_trace_printk with
 * a .rodata format string) using the %pI4 and %pI6 formats, an ARRAY map
 * `pkt_count` (u32 -> u64, 1 entry) counted with an atomic add.
 */
#include "fixture.h"
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} pkt_count SEC(".maps");

SEC("xdp")
int xdp_srcip(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u32 key = 0;
	__u64 *count;

	count = bpf_map_lookup_elem(&pkt_count, &key);
	if (count)
		__sync_fetch_and_add(count, 1);

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;

	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = (void *)(eth + 1);

		if ((void *)(iph + 1) > data_end)
			return XDP_PASS;
		bpf_printk("Received Source IP: %pI4", &iph->saddr);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6h = (void *)(eth + 1);

		if ((void *)(ip6h + 1) > data_end)
			return XDP_PASS;
		bpf_printk("Received Source IPv6: %pI6", &ip6h->saddr);
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
