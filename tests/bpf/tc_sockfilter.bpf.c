// SPDX-License-Identifier: GPL-2.0
/*
 * tc_sockfilter: __sk_buff programs (tc classifier and socket filters).
 *
 * Exercises:
 *   - SEC("tc") `tc_mark`: reads skb->len, protocol, mark, ifindex,
 *     data/data_end (direct packet access), cb[] read/write, rewrites
 *     skb->mark and priority, bpf_skb_load_bytes of the EtherType; returns
 *     TC_ACT_OK (or TC_ACT_SHOT for runt frames < 14 bytes).
 *   - SEC("socket") `sock_trunc`: a socket filter whose return value is the
 *     number of bytes to keep: min(len, 64) for IPv4, whole packet otherwise.
 *   - SEC("socket") `sock_ld_abs`: legacy packet loads. LD_ABS via the LLVM
 *     intrinsics llvm.bpf.load.{byte,half,word} (declared with an asm label,
 *     as the kernel's samples did), LD_IND via inline asm
 *     `r0 = *(u8 *)skb[rX]`. Keeps IPv4/UDP packets (returns -1 = whole
 *     packet), drops everything else (returns 0). The offsets assume an
 *     Ethernet frame (AF_PACKET socket).
 */
#include "fixture.h"
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>

#define MARK_SEEN 0x42

unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");
unsigned long long load_word(void *skb, unsigned long long off) asm("llvm.bpf.load.word");

__u64 tc_runs;
__u32 last_proto;
__u32 last_len;
__u32 last_old_mark;
__u32 last_ifindex;

SEC("tc")
int tc_mark(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	__be16 proto = 0;

	tc_runs++;
	last_len = skb->len;
	last_old_mark = skb->mark;
	last_ifindex = skb->ifindex;
	skb->cb[0] = skb->cb[1] + 1;

	if ((void *)(eth + 1) > data_end)
		return TC_ACT_SHOT;
	if (bpf_skb_load_bytes(skb, offsetof(struct ethhdr, h_proto), &proto, sizeof(proto)) < 0)
		return TC_ACT_SHOT;
	last_proto = bpf_ntohs(proto);
	if (proto != eth->h_proto || proto != skb->protocol)
		skb->priority = 7;

	skb->mark = MARK_SEEN;
	return TC_ACT_OK;
}

SEC("socket")
int sock_trunc(struct __sk_buff *skb)
{
	if (skb->protocol != bpf_htons(ETH_P_IP))
		return skb->len;
	return skb->len < 64 ? skb->len : 64;
}

static __always_inline __u64 load_ind_byte(struct __sk_buff *skb, __u64 off)
{
	__u64 ret;

	/* LD_IND: r0 = packet byte at (src register + imm 0); ctx must be in r6. */
	asm volatile("r6 = %[skb]\n\t"
		     "r0 = *(u8 *)skb[%[off]]\n\t"
		     "%[ret] = r0"
		     : [ret] "=r"(ret)
		     : [skb] "r"(skb), [off] "r"(off)
		     : "r0", "r1", "r2", "r3", "r4", "r5", "r6");
	return ret;
}

SEC("socket")
int sock_ld_abs(struct __sk_buff *skb)
{
	if (load_half(skb, offsetof(struct ethhdr, h_proto)) != ETH_P_IP)
		return 0;
	if ((load_byte(skb, ETH_HLEN) >> 4) != 4)
		return 0;
	if (load_word(skb, ETH_HLEN + offsetof(struct iphdr, daddr)) == 0)
		return 0;
	if (load_ind_byte(skb, ETH_HLEN + offsetof(struct iphdr, protocol)) != IPPROTO_UDP)
		return 0;
	return -1;
}

char LICENSE[] SEC("license") = "GPL";
