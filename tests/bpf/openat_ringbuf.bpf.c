// SPDX-License-Identifier: GPL-2.0
/*
 * openat_ringbuf: a tracepoint program that streams events through a ring
 * buffer.
 *
 * Exercises: SEC("tracepoint/syscalls/sys_enter_openat") with a raw
 * tracepoint record (layout from
 * /sys/kernel/tracing/events/syscalls/sys_enter_openat/format), a
 * BPF_MAP_TYPE_RINGBUF map `events` (256 KiB), bpf_ringbuf_reserve/submit,
 * bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_probe_read_user_str,
 * license "GPL" (GPL-only helpers).
 */
#include "fixture.h"

#define FILENAME_LEN 256

/* The sys_enter_openat record as the format file describes it. */
struct sys_enter_openat_args {
	unsigned short common_type;        /* offset 0 */
	unsigned char common_flags;        /* offset 2 */
	unsigned char common_preempt_count;/* offset 3 */
	int common_pid;                    /* offset 4 */
	int __syscall_nr;                  /* offset 8 */
	int __pad;                         /* offset 12 */
	long dfd;                          /* offset 16 */
	const char *filename;              /* offset 24 */
	long flags;                        /* offset 32 */
	long mode;                         /* offset 40 */
};

/* One ring buffer record; userspace decodes it with this exact layout. */
struct openat_event {
	__u32 pid;                 /* tgid, as userspace calls it pid */
	__u32 tid;
	__s64 flags;
	char comm[TASK_COMM_LEN];
	char filename[FILENAME_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_openat")
int trace_openat(struct sys_enter_openat_args *ctx)
{
	struct openat_event *e;
	__u64 id;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;

	id = bpf_get_current_pid_tgid();
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->flags = ctx->flags;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_user_str(e->filename, sizeof(e->filename), ctx->filename);

	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
