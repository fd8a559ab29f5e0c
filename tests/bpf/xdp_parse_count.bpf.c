// SPDX-License-Identifier: MIT
/*
 * xdp_parse_count: parse Ethernet/IPv4/UDP and count packets.
 *
 * Exercises: SEC("xdp"), bounds-checked packet parsing including a variable
 * IPv4 header length (ihl * 4), bpf_ntohs, two ARRAY maps updated with
 * atomic adds: `proto_count` indexed by the IPv4 protocol number (256 slots)
 * and `udp_port_count` indexed by the UDP destination port & 0xff.
 * Returns XDP_DROP for UDP destination port 9 (discard), else XDP_PASS.
 */
#include "fixture.h"
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>

#define DISCARD_PORT 9

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} proto_count SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} udp_port_count SEC(".maps");

static __always_inline void bump(void *map, __u32 key)
{
	__u64 *v = bpf_map_lookup_elem(map, &key);

	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("xdp")
int xdp_parse_count(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph;
	struct udphdr *udph;
	__u32 ihl_bytes;
	__u16 dport;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;

	iph = (void *)(eth + 1);
	if ((void *)(iph + 1) > data_end)
		return XDP_PASS;
	bump(&proto_count, iph->protocol);

	if (iph->protocol != IPPROTO_UDP)
		return XDP_PASS;
	ihl_bytes = iph->ihl * 4;
	if (ihl_bytes < sizeof(*iph))
		return XDP_PASS;
	udph = (void *)iph + ihl_bytes;
	if ((void *)(udph + 1) > data_end)
		return XDP_PASS;

	dport = bpf_ntohs(udph->dest);
	bump(&udp_port_count, dport & 0xff);
	return dport == DISCARD_PORT ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
