// SPDX-License-Identifier: GPL-2.0
/*
 * sections: one small program per SEC() name that libbpf 1.1 knows.
 *
 * Exercises: the SEC-name table (section name -> program type, expected
 * attach type, attach target, sleepable flag), program-type-specific
 * context structs from the UAPI, and the BTF-typed tracing contexts via
 * BPF_PROG (tp_btf) and CO-RE ctx access (iter/task) with minimal local
 * kernel structs. Every program returns a value its type accepts, so the
 * whole object loads into a kernel >= 6.1 with `bpftool prog loadall`.
 * Trampoline-based sections (fentry/fexit/fmod_ret/lsm) are in
 * sections_trampoline.bpf.c; sections newer than libbpf 1.1 (tcx/,
 * tc/ingress, netfilter, uprobe.multi, ...) and ones needing special kernel
 * config are in sections_new.bpf.c.
 */
#include "fixture.h"
#include <asm/ptrace.h>
#include <linux/bpf_perf_event.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_tracing.h>

struct task_struct {
	int pid;
} __attribute__((preserve_access_index));

struct seq_file;
struct bpf_iter_meta {
	struct seq_file *seq;
} __attribute__((preserve_access_index));

struct bpf_iter__task {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
} __attribute__((preserve_access_index));

__u64 hits;

/* ---- socket-level and traffic control ---- */

SEC("socket")
int sec_socket(struct __sk_buff *skb) { return skb->len; }

SEC("sk_reuseport")
int sec_reuseport(struct sk_reuseport_md *md) { return SK_PASS; }

SEC("sk_reuseport/migrate")
int sec_reuseport_mig(struct sk_reuseport_md *md) { return SK_PASS; }

SEC("tc")
int sec_tc(struct __sk_buff *skb) { return TC_ACT_OK; }

SEC("classifier")
int sec_classifier(struct __sk_buff *skb) { return TC_ACT_OK; }

SEC("action")
int sec_action(struct __sk_buff *skb) { return TC_ACT_OK; }

/* ---- XDP ---- */

SEC("xdp")
int sec_xdp(struct xdp_md *ctx) { return XDP_PASS; }

SEC("xdp.frags")
int sec_xdp_frags(struct xdp_md *ctx) { return XDP_PASS; }

SEC("xdp/devmap")
int sec_xdp_devmap(struct xdp_md *ctx) { return XDP_PASS; }

SEC("xdp/cpumap")
int sec_xdp_cpumap(struct xdp_md *ctx) { return XDP_PASS; }

SEC("xdp.frags/devmap")
int sec_xdp_fdevmap(struct xdp_md *ctx) { return XDP_PASS; }

SEC("xdp.frags/cpumap")
int sec_xdp_fcpumap(struct xdp_md *ctx) { return XDP_PASS; }

/* ---- kprobes, uprobes, syscalls, USDT ---- */

SEC("kprobe/do_unlinkat")
int sec_kprobe(struct pt_regs *ctx) { hits++; return 0; }

SEC("kretprobe/do_unlinkat")
int sec_kretprobe(struct pt_regs *ctx) { hits++; return 0; }

SEC("kprobe.multi/do_unlinkat")
int sec_kprobe_multi(struct pt_regs *ctx) { return 0; }

SEC("kretprobe.multi/do_unlinkat")
int sec_kretprobe_multi(struct pt_regs *ctx) { return 0; }

SEC("uprobe//bin/bash:readline")
int sec_uprobe(struct pt_regs *ctx) { return 0; }

SEC("uretprobe//bin/bash:readline")
int sec_uretprobe(struct pt_regs *ctx) { return 0; }

SEC("uprobe.s//bin/bash:readline")
int sec_uprobe_s(struct pt_regs *ctx) { return 0; }

SEC("ksyscall/unlinkat")
int sec_ksyscall(struct pt_regs *ctx) { return 0; }

SEC("kretsyscall/unlinkat")
int sec_kretsyscall(struct pt_regs *ctx) { return 0; }

SEC("usdt")
int sec_usdt(struct pt_regs *ctx) { return 0; }

/* ---- tracepoints ---- */

SEC("tracepoint/syscalls/sys_enter_unlinkat")
int sec_tracepoint(void *ctx) { return 0; }

SEC("tp/sched/sched_process_exec")
int sec_tp(void *ctx) { return 0; }

SEC("raw_tracepoint/sys_enter")
int sec_raw_tracepoint(struct bpf_raw_tracepoint_args *ctx) { return ctx->args[1] == 0; }

SEC("raw_tp/sched_switch")
int sec_raw_tp(struct bpf_raw_tracepoint_args *ctx) { return 0; }

SEC("raw_tracepoint.w/sys_enter")
int sec_raw_tracepoint_w(struct bpf_raw_tracepoint_args *ctx) { return 0; }

SEC("raw_tp.w/sys_exit")
int sec_raw_tp_w(struct bpf_raw_tracepoint_args *ctx) { return 0; }

SEC("tp_btf/sched_switch")
int BPF_PROG(sec_tp_btf, _Bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return next->pid == 0;
}

/* ---- iterators and syscall programs ---- */

SEC("iter/task")
int sec_iter_task(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	int pid;

	if (!task)
		return 0;
	pid = task->pid;
	bpf_seq_write(ctx->meta->seq, &pid, sizeof(pid));
	return 0;
}

SEC("iter.s/task")
int sec_iter_s_task(struct bpf_iter__task *ctx) { return 0; }

SEC("syscall")
int sec_syscall(void *ctx) { return 0; }

/* ---- perf events, lightweight tunnels ---- */

SEC("perf_event")
int sec_perf_event(struct bpf_perf_event_data *ctx) { return ctx->sample_period > 0; }

SEC("lwt_in")
int sec_lwt_in(struct __sk_buff *skb) { return BPF_OK; }

SEC("lwt_out")
int sec_lwt_out(struct __sk_buff *skb) { return BPF_OK; }

SEC("lwt_xmit")
int sec_lwt_xmit(struct __sk_buff *skb) { return BPF_OK; }

SEC("lwt_seg6local")
int sec_lwt_seg6(struct __sk_buff *skb) { return BPF_OK; }

/* ---- cgroup ---- */

SEC("cgroup_skb/ingress")
int sec_cg_skb_in(struct __sk_buff *skb) { return 1; }

SEC("cgroup_skb/egress")
int sec_cg_skb_out(struct __sk_buff *skb) { return 1; }

SEC("cgroup/skb")
int sec_cg_skb(struct __sk_buff *skb) { return 1; }

SEC("cgroup/sock_create")
int sec_cg_sock_create(struct bpf_sock *sk) { return 1; }

SEC("cgroup/sock")
int sec_cg_sock(struct bpf_sock *sk) { return 1; }

SEC("cgroup/sock_release")
int sec_cg_sock_release(struct bpf_sock *sk) { return 1; }

SEC("cgroup/post_bind4")
int sec_cg_post_bind4(struct bpf_sock *sk) { return 1; }

SEC("cgroup/post_bind6")
int sec_cg_post_bind6(struct bpf_sock *sk) { return 1; }

SEC("cgroup/bind4")
int sec_cg_bind4(struct bpf_sock_addr *ctx) { return 1; }

SEC("cgroup/bind6")
int sec_cg_bind6(struct bpf_sock_addr *ctx) { return 1; }

SEC("cgroup/connect4")
int sec_cg_connect4(struct bpf_sock_addr *ctx) { return ctx->user_port != 0 || 1; }

SEC("cgroup/connect6")
int sec_cg_connect6(struct bpf_sock_addr *ctx) { return 1; }

SEC("cgroup/sendmsg4")
int sec_cg_sendmsg4(struct bpf_sock_addr *ctx) { return 1; }

SEC("cgroup/recvmsg4")
int sec_cg_recvmsg4(struct bpf_sock_addr *ctx) { return 1; }

SEC("cgroup/getpeername4")
int sec_cg_getpeername4(struct bpf_sock_addr *ctx) { return 1; }

SEC("cgroup/getsockname4")
int sec_cg_getsockname4(struct bpf_sock_addr *ctx) { return 1; }

SEC("cgroup/sendmsg6")
int sec_cg_sendmsg6(struct bpf_sock_addr *ctx) { return 1; }

SEC("cgroup/recvmsg6")
int sec_cg_recvmsg6(struct bpf_sock_addr *ctx) { return 1; }

SEC("cgroup/getpeername6")
int sec_cg_getpeername6(struct bpf_sock_addr *ctx) { return 1; }

SEC("cgroup/getsockname6")
int sec_cg_getsockname6(struct bpf_sock_addr *ctx) { return 1; }

SEC("cgroup/sysctl")
int sec_cg_sysctl(struct bpf_sysctl *ctx) { return 1; }

SEC("cgroup/getsockopt")
int sec_cg_getsockopt(struct bpf_sockopt *ctx) { return 1; }

SEC("cgroup/setsockopt")
int sec_cg_setsockopt(struct bpf_sockopt *ctx) { return 1; }

SEC("cgroup/dev")
int sec_cg_dev(struct bpf_cgroup_dev_ctx *ctx) { return 1; }

/* ---- sockmap / sockops / flow dissector / sk_lookup ---- */

SEC("sockops")
int sec_sockops(struct bpf_sock_ops *ops) { return 1; }

SEC("sk_skb/stream_parser")
int sec_sk_skb_parser(struct __sk_buff *skb) { return skb->len; }

SEC("sk_skb/stream_verdict")
int sec_sk_skb_verdict(struct __sk_buff *skb) { return SK_PASS; }

SEC("sk_skb")
int sec_sk_skb(struct __sk_buff *skb) { return SK_PASS; }

SEC("sk_msg")
int sec_sk_msg(struct sk_msg_md *msg) { return SK_PASS; }

SEC("flow_dissector")
int sec_flow_dissector(struct __sk_buff *skb) { return BPF_OK; }

SEC("sk_lookup")
int sec_sk_lookup(struct bpf_sk_lookup *ctx) { return SK_PASS; }

char LICENSE[] SEC("license") = "GPL";
