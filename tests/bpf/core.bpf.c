// SPDX-License-Identifier: GPL-2.0
/*
 * core: CO-RE relocations (BTF.ext core_relo records) of every kind.
 *
 * Kernel structs are declared locally, minimal, with
 * __attribute__((preserve_access_index)); the loader must relocate them
 * against the target kernel's BTF. Exercises:
 *   - FIELD_BYTE_OFFSET: BPF_CORE_READ(task, pid), task->real_parent->tgid
 *     (a chain through two structs), comm via BPF_CORE_READ_STR_INTO;
 *   - FIELD_EXISTS: bpf_core_field_exists() on a field that exists
 *     (task->__state), on one that does not (pybpf_no_such_field) and on a
 *     `___flavor` struct (task_struct___old with `long state`, the
 *     pre-5.14 name);
 *   - FIELD_BYTE_SIZE, FIELD_SIGNED, FIELD_LSHIFT_U64, FIELD_RSHIFT_U64:
 *     bpf_core_field_size() and BPF_CORE_READ_BITFIELD_PROBED on the
 *     sched_reset_on_fork bitfield;
 *   - TYPE_EXISTS, TYPE_SIZE, TYPE_MATCHES, TYPE_ID_LOCAL, TYPE_ID_TARGET:
 *     bpf_core_type_exists/size/matches/id_local/id_kernel;
 *   - ENUMVAL_EXISTS, ENUMVAL_VALUE: bpf_core_enum_value(_exists) on
 *     enum pid_type (declared here with wrong values on purpose: the
 *     relocation must supply the kernel's).
 * All results go to .bss so a test can read what the relocations produced.
 */
#include "fixture.h"
#include <bpf/bpf_core_read.h>

struct task_struct {
	unsigned int __state;
	unsigned int sched_reset_on_fork : 1;
	int pid;
	int tgid;
	struct task_struct *real_parent;
	char comm[TASK_COMM_LEN];
	int pybpf_no_such_field;
} __attribute__((preserve_access_index));

/* The same type as kernels before 5.14 had it: `state` instead of `__state`. */
struct task_struct___old {
	long state;
} __attribute__((preserve_access_index));

struct pybpf_no_such_struct {
	int x;
} __attribute__((preserve_access_index));

/* Local values deliberately differ from the kernel's (PID=0, TGID=1, PGID=2, SID=3). */
enum pid_type {
	PIDTYPE_SID = 10,
	PIDTYPE_TGID = 11,
	PYBPF_PIDTYPE_MISSING = 12,
};

int pid;
int tgid;
int parent_tgid;
char comm[TASK_COMM_LEN];
int has_state;
int has_old_state;
int has_missing_field;
__u32 pid_size;
__u64 reset_on_fork;
int task_exists;
int missing_struct_exists;
__u32 task_size;
int task_matches;
__u32 task_local_id;
__u32 task_kernel_id;
__u64 sid_value;
int tgid_exists;
int missing_enum_exists;
__u32 pid_offset;

SEC("raw_tp/sys_enter")
int core_relocs(void *ctx)
{
	struct task_struct *task = (void *)bpf_get_current_task();

	pid = BPF_CORE_READ(task, pid);
	tgid = BPF_CORE_READ(task, tgid);
	parent_tgid = BPF_CORE_READ(task, real_parent, tgid);
	BPF_CORE_READ_STR_INTO(&comm, task, comm);

	has_state = bpf_core_field_exists(task->__state);
	has_old_state = bpf_core_field_exists(((struct task_struct___old *)task)->state);
	has_missing_field = bpf_core_field_exists(task->pybpf_no_such_field);
	pid_size = bpf_core_field_size(task->pid);
	pid_offset = bpf_core_field_offset(task->pid);
	reset_on_fork = BPF_CORE_READ_BITFIELD_PROBED(task, sched_reset_on_fork);

	task_exists = bpf_core_type_exists(struct task_struct);
	missing_struct_exists = bpf_core_type_exists(struct pybpf_no_such_struct);
	task_size = bpf_core_type_size(struct task_struct);
	task_matches = bpf_core_type_matches(struct task_struct);
	task_local_id = bpf_core_type_id_local(struct task_struct);
	task_kernel_id = bpf_core_type_id_kernel(struct task_struct);

	sid_value = bpf_core_enum_value(enum pid_type, PIDTYPE_SID);
	tgid_exists = bpf_core_enum_value_exists(enum pid_type, PIDTYPE_TGID);
	missing_enum_exists = bpf_core_enum_value_exists(enum pid_type, PYBPF_PIDTYPE_MISSING);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
