// SPDX-License-Identifier: GPL-2.0
/*
 * sections_new: SEC() names that libbpf 1.1 (Debian 12's, used by the
 * system bpftool) does not know, or that need extra context to load.
 *
 * Exercises the SEC-name table beyond libbpf 1.1:
 *   tcx/ingress, tcx/egress, tc/ingress, tc/egress (BPF_PROG_TYPE_SCHED_CLS
 *   with BPF_TCX_INGRESS/EGRESS, kernel 6.6), netkit/primary, netkit/peer
 *   (6.7), netfilter (BPF_PROG_TYPE_NETFILTER, 6.4; ctx struct bpf_nf_ctx
 *   declared locally), uprobe.multi/, uretprobe.multi/ (6.6),
 *   kprobe.session/ (6.10), cgroup/connect_unix, cgroup/sendmsg_unix,
 *   cgroup/recvmsg_unix, cgroup/getpeername_unix, cgroup/getsockname_unix
 *   (6.7);
 * and sections that need something bpftool loadall cannot give:
 *   lirc_mode2 (CONFIG_BPF_LIRC_MODE2), freplace/xdp_pass (a target program
 *   fd: replaces the global function `xdp_pass` of xdp_pass.bpf.c).
 * Return codes are spelled out as numbers where the 6.1 UAPI header lacks
 * the enum (TCX_*, NETKIT_*).
 */
#include "fixture.h"
#include <asm/ptrace.h>
#include <linux/netfilter.h>

#define TCX_NEXT (-1)
#define TCX_PASS 0
#define NETKIT_NEXT (-1)
#define NETKIT_PASS 0

struct nf_hook_state;
struct sk_buff;
struct bpf_nf_ctx {
	const struct nf_hook_state *state;
	struct sk_buff *skb;
} __attribute__((preserve_access_index));

SEC("tcx/ingress")
int new_tcx_ingress(struct __sk_buff *skb) { return TCX_NEXT; }

SEC("tcx/egress")
int new_tcx_egress(struct __sk_buff *skb) { return TCX_PASS; }

SEC("tc/ingress")
int new_tc_ingress(struct __sk_buff *skb) { return TCX_NEXT; }

SEC("tc/egress")
int new_tc_egress(struct __sk_buff *skb) { return TCX_NEXT; }

SEC("netkit/primary")
int new_netkit_primary(struct __sk_buff *skb) { return NETKIT_PASS; }

SEC("netkit/peer")
int new_netkit_peer(struct __sk_buff *skb) { return NETKIT_NEXT; }

SEC("netfilter")
int new_netfilter(struct bpf_nf_ctx *ctx) { return ctx->skb ? NF_ACCEPT : NF_DROP; }

SEC("uprobe.multi//bin/bash:readline*")
int new_uprobe_multi(struct pt_regs *ctx) { return 0; }

SEC("uretprobe.multi//bin/bash:readline*")
int new_uretprobe_multi(struct pt_regs *ctx) { return 0; }

SEC("kprobe.session/do_unlinkat")
int new_kprobe_session(struct pt_regs *ctx) { return 0; }

SEC("cgroup/connect_unix")
int new_cg_connect_unix(struct bpf_sock_addr *ctx) { return 1; }

SEC("cgroup/sendmsg_unix")
int new_cg_sendmsg_unix(struct bpf_sock_addr *ctx) { return 1; }

SEC("cgroup/recvmsg_unix")
int new_cg_recvmsg_unix(struct bpf_sock_addr *ctx) { return 1; }

SEC("cgroup/getpeername_unix")
int new_cg_getpeername_unix(struct bpf_sock_addr *ctx) { return 1; }

SEC("cgroup/getsockname_unix")
int new_cg_getsockname_unix(struct bpf_sock_addr *ctx) { return 1; }

SEC("lirc_mode2")
int new_lirc_mode2(unsigned int *sample) { return 0; }

SEC("freplace/xdp_pass")
int new_freplace(struct xdp_md *ctx) { return XDP_DROP; }

char LICENSE[] SEC("license") = "GPL";
