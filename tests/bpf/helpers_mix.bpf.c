// SPDX-License-Identifier: GPL-2.0
/*
 * helpers_mix: one XDP program calling many helpers, for the VM runtime.
 *
 * Exercises: bpf_ktime_get_ns, bpf_ktime_get_boot_ns, bpf_jiffies64,
 * bpf_get_prandom_u32, bpf_get_smp_processor_id, queue push/pop
 * (bpf_map_push_elem/pop_elem/peek_elem), bpf_spin_lock/unlock on a
 * struct bpf_spin_lock inside an ARRAY value (BTF-described), bpf_csum_diff,
 * bpf_trace_printk with several formats (%d %u %x %llx %s %c %p via
 * bpf_printk; a 5-argument bpf_printk becomes bpf_trace_vprintk),
 * bpf_snprintf (%d %s %x %pI4 into a .bss buffer), bpf_strncmp against a
 * .rodata string, bpf_xdp_adjust_head (grow by 4 then shrink back),
 * bpf_xdp_adjust_tail (trim 4 bytes from packets longer than 64 bytes) and
 * bpf_redirect_map on an empty DEVMAP with XDP_PASS as the fallback action.
 *
 * Deterministic outcome for a test: returns XDP_PASS (the redirect fallback)
 * for packets of at least 14 bytes, XDP_ABORTED for shorter ones; a packet
 * longer than 64 bytes leaves 4 bytes shorter; `csum` holds
 * bpf_csum_diff(NULL, 0, first 4 bytes of the packet, 4, 0); `popped` the
 * value pushed (0x1234); `locked_count` counts runs; `cmp_result` is 0.
 */
#include "fixture.h"

struct locked_value {
	struct bpf_spin_lock lock;
	__u64 count;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct locked_value);
} locked SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 8);
	__type(value, __u32);
} q SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} tx_ports SEC(".maps");

static const char expected_name[] = "pybpf";
static const char snfmt[] = "n=%d s=%s x=%x ip=%pI4";

__u64 t_mono, t_boot, t_jiffies;
__u32 rnd, cpu, popped, peeked;
__u64 locked_count;
__s64 csum;
long cmp_result;
long snprintf_len;
char name[8] = "pybpf";
char snbuf[64];

SEC("xdp")
int helpers_mix(struct xdp_md *ctx)
{
	struct locked_value *lv;
	void *data, *data_end;
	__u32 key = 0, push = 0x1234;
	__u32 ip = bpf_htonl(0x0a000001); /* 10.0.0.1 */
	__u64 args[4];
	__u32 len;

	t_mono = bpf_ktime_get_ns();
	t_boot = bpf_ktime_get_boot_ns();
	t_jiffies = bpf_jiffies64();
	rnd = bpf_get_prandom_u32();
	cpu = bpf_get_smp_processor_id();

	bpf_map_push_elem(&q, &push, BPF_ANY);
	bpf_map_peek_elem(&q, &peeked);
	bpf_map_pop_elem(&q, &popped);

	lv = bpf_map_lookup_elem(&locked, &key);
	if (lv) {
		bpf_spin_lock(&lv->lock);
		lv->count++;
		locked_count = lv->count;
		bpf_spin_unlock(&lv->lock);
	}

	cmp_result = bpf_strncmp(name, sizeof(name), expected_name);

	args[0] = 42;
	args[1] = (__u64)(long)name;
	args[2] = 0xbeef;
	args[3] = (__u64)(long)&ip;
	snprintf_len = bpf_snprintf(snbuf, sizeof(snbuf), snfmt, args, sizeof(args));

	bpf_printk("cpu %d rnd %u hex %x", cpu, rnd, rnd);
	bpf_printk("t %llx name %s char %c", t_mono, name, 'p');
	bpf_printk("ptr %p", &locked_count);
	bpf_printk("five %d %d %d %d %d", 1, 2, 3, 4, 5);

	/* Grow the head by 4 bytes and give them back. */
	if (bpf_xdp_adjust_head(ctx, -4))
		return XDP_ABORTED;
	if (bpf_xdp_adjust_head(ctx, 4))
		return XDP_ABORTED;

	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (data + 14 > data_end)
		return XDP_ABORTED;
	csum = bpf_csum_diff(NULL, 0, data, 4, 0);

	len = data_end - data;
	if (len > 64 && bpf_xdp_adjust_tail(ctx, -4))
		return XDP_ABORTED;

	return bpf_redirect_map(&tx_ports, 0, XDP_PASS);
}

char LICENSE[] SEC("license") = "GPL";
