/*
 * isola-cgroup-devices: attaches a BPF_PROG_TYPE_CGROUP_DEVICE program to a cgroup v2
 * directory, replacing the device programs that isola attached before (cgroup v2's device
 * access control). The program itself is compiled in TypeScript
 * (src/cgroups/v2/device_filter.ts); this tool only loads and attaches it.
 *
 *   isola-cgroup-devices attach <cgroup-dir>   program on stdin (raw struct bpf_insn array)
 *   isola-cgroup-devices query <cgroup-dir>    prints the attached device program ids
 *
 * Errors: one line on stderr "<step>: <strerror>" (plus the verifier log on load failures),
 * exit status 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_INSNS 4096
#define MAX_PROGS 64

static int sys_bpf(int cmd, union bpf_attr *attr)
{
	return (int)syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

static int fail(const char *step)
{
	fprintf(stderr, "%s: %s\n", step, strerror(errno));
	return 1;
}

static int query(int cgfd, uint32_t *ids, uint32_t *count)
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.query.target_fd = (uint32_t)cgfd;
	attr.query.attach_type = BPF_CGROUP_DEVICE;
	attr.query.prog_ids = (uint64_t)(uintptr_t)ids;
	attr.query.prog_cnt = *count;
	if (sys_bpf(BPF_PROG_QUERY, &attr) < 0)
		return -1;
	*count = attr.query.prog_cnt;
	return 0;
}

static int attach(int cgfd)
{
	static struct bpf_insn insns[MAX_INSNS];
	static char log[65536];
	size_t len = 0;
	ssize_t n;
	while ((n = read(0, (char *)insns + len, sizeof(insns) - len)) > 0)
		len += (size_t)n;
	if (n < 0)
		return fail("read program");
	if (len == 0 || len % sizeof(struct bpf_insn) != 0) {
		fprintf(stderr, "read program: %zu bytes is not a whole number of instructions\n", len);
		return 1;
	}

	uint32_t old[MAX_PROGS];
	uint32_t nold = MAX_PROGS;
	if (query(cgfd, old, &nold) < 0)
		return fail("query attached programs");

	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	attr.insns = (uint64_t)(uintptr_t)insns;
	attr.insn_cnt = (uint32_t)(len / sizeof(struct bpf_insn));
	attr.license = (uint64_t)(uintptr_t) "Apache";
	int prog = sys_bpf(BPF_PROG_LOAD, &attr);
	if (prog < 0) {
		int saved = errno;
		attr.log_buf = (uint64_t)(uintptr_t)log;
		attr.log_size = sizeof(log);
		attr.log_level = 1;
		if (sys_bpf(BPF_PROG_LOAD, &attr) < 0 && log[0])
			fprintf(stderr, "verifier log:\n%s\n", log);
		errno = saved;
		return fail("load device program");
	}

	memset(&attr, 0, sizeof(attr));
	attr.target_fd = (uint32_t)cgfd;
	attr.attach_bpf_fd = (uint32_t)prog;
	attr.attach_type = BPF_CGROUP_DEVICE;
	attr.attach_flags = BPF_F_ALLOW_MULTI;
	if (sys_bpf(BPF_PROG_ATTACH, &attr) < 0)
		return fail("attach device program");

	/* The new program is in place: now the old ones can go without a window of no filter. */
	for (uint32_t i = 0; i < nold; i++) {
		memset(&attr, 0, sizeof(attr));
		attr.prog_id = old[i];
		int fd = sys_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
		if (fd < 0)
			return fail("open old device program");
		memset(&attr, 0, sizeof(attr));
		attr.target_fd = (uint32_t)cgfd;
		attr.attach_bpf_fd = (uint32_t)fd;
		attr.attach_type = BPF_CGROUP_DEVICE;
		if (sys_bpf(BPF_PROG_DETACH, &attr) < 0)
			return fail("detach old device program");
		close(fd);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 3 || (strcmp(argv[1], "attach") != 0 && strcmp(argv[1], "query") != 0)) {
		fprintf(stderr, "usage: %s attach|query <cgroup-v2-dir>\n", argv[0]);
		return 2;
	}
	int cgfd = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd < 0)
		return fail("open cgroup");
	if (strcmp(argv[1], "query") == 0) {
		uint32_t ids[MAX_PROGS];
		uint32_t count = MAX_PROGS;
		if (query(cgfd, ids, &count) < 0)
			return fail("query attached programs");
		for (uint32_t i = 0; i < count; i++)
			printf("%u\n", ids[i]);
		return 0;
	}
	return attach(cgfd);
}
