/* SPDX-License-Identifier: MIT */
/*
 * Common includes for the pybpf test fixtures.
 *
 * Only libbpf-dev headers and the system UAPI are used: no vmlinux.h, so the
 * objects build the same on any machine. Kernel-internal structs a fixture
 * needs are declared locally in that fixture.
 */
#ifndef PYBPF_FIXTURE_H
#define PYBPF_FIXTURE_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define TASK_COMM_LEN 16

#endif
