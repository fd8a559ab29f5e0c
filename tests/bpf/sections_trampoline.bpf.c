// SPDX-License-Identifier: GPL-2.0
/*
 * sections_trampoline: programs attached through BPF trampolines.
 *
 * Exercises: SEC names fentry/, fexit/, fmod_ret/, fentry.s/, fexit.s/,
 * lsm/, lsm.s/ and lsm_cgroup/ (BPF_PROG_TYPE_TRACING and BPF_PROG_TYPE_LSM,
 * attach_btf_id resolved by function name in kernel BTF, sleepable flag for
 * the ".s" variants), BPF_PROG argument unpacking from the u64 ctx array,
 * an fexit reading the traced function's return value, and fmod_ret
 * returning a value that replaces it.
 *
 * Loading needs a kernel with BPF trampolines for these targets and the
 * BPF LSM; where they are unavailable the kernel refuses the load (EPERM
 * or ENOTSUPP), which makes this object a known-failure case too.
 */
#include "fixture.h"
#include <bpf/bpf_tracing.h>

struct sock;
struct file;
struct socket;
struct sockaddr;
struct linux_binprm;

__u64 connects;
__s64 last_connect_ret;

SEC("fentry/tcp_connect")
int BPF_PROG(tr_fentry, struct sock *sk)
{
	connects++;
	return 0;
}

SEC("fexit/tcp_connect")
int BPF_PROG(tr_fexit, struct sock *sk, int ret)
{
	last_connect_ret = ret;
	return 0;
}

/* bpf_modify_return_test(int a, int *b) is the kernel's own fmod_ret test hook. */
SEC("fmod_ret/bpf_modify_return_test")
int BPF_PROG(tr_fmod_ret, int a, int *b, int ret)
{
	return a == 1 ? 2 : 0;
}

SEC("fentry.s/bpf_modify_return_test")
int BPF_PROG(tr_fentry_s, int a, int *b)
{
	return 0;
}

SEC("fexit.s/bpf_modify_return_test")
int BPF_PROG(tr_fexit_s, int a, int *b, int ret)
{
	return 0;
}

SEC("lsm/file_open")
int BPF_PROG(tr_lsm, struct file *file)
{
	return 0;
}

SEC("lsm.s/bprm_committed_creds")
int BPF_PROG(tr_lsm_s, struct linux_binprm *bprm)
{
	return 0;
}

SEC("lsm_cgroup/socket_bind")
int BPF_PROG(tr_lsm_cgroup, struct socket *sock, struct sockaddr *address, int addrlen)
{
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
