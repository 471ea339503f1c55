/*
 * A static probe for CVE-2019-5736 tests, run inside a container.
 *
 *   exe_probe open PID
 *     Tries to open /proc/PID/exe for writing, for reading, and with O_PATH;
 *     when O_PATH works, reopens that fd for writing through /proc/self/fd.
 *     Prints "wronly=R rdonly=R path=R reopen=R", each R "ok", an errno name,
 *     or "-" (not tried). Never writes: the target may be a host binary.
 *
 *   exe_probe attack COPY
 *     The whole attack against a binary of the test's own: runs COPY (a
 *     busybox copy) as "sleep 1", holds /proc/<child>/exe with O_PATH while
 *     it runs, waits for it to exit, reopens the held fd for writing and
 *     writes "PWNED" at offset 0. Prints the same fields plus "write=R".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *name(int err)
{
	switch (err) {
	case 0: return "ok";
	case EACCES: return "EACCES";
	case EPERM: return "EPERM";
	case ETXTBSY: return "ETXTBSY";
	case ENOENT: return "ENOENT";
	case ESRCH: return "ESRCH";
	default: return strerror(err);
	}
}

/* opens path with flags; returns the fd (or -1) and stores the result's name */
static int try_open(const char *path, int flags, const char **result)
{
	int fd = open(path, flags | O_CLOEXEC);
	*result = name(fd < 0 ? errno : 0);
	return fd;
}

int main(int argc, char **argv)
{
	if (argc != 3 || (strcmp(argv[1], "open") && strcmp(argv[1], "attack"))) {
		fprintf(stderr, "usage: exe_probe open PID | exe_probe attack COPY\n");
		return 2;
	}
	char exe[64], self[64];
	const char *wronly = "-", *rdonly = "-", *opath = "-", *reopen = "-", *written = "-";
	if (!strcmp(argv[1], "open")) {
		snprintf(exe, sizeof exe, "/proc/%s/exe", argv[2]);
		int fd = try_open(exe, O_WRONLY, &wronly);
		if (fd >= 0)
			close(fd);
		fd = try_open(exe, O_RDONLY, &rdonly);
		if (fd >= 0)
			close(fd);
		int held = try_open(exe, O_PATH, &opath);
		if (held >= 0) {
			snprintf(self, sizeof self, "/proc/self/fd/%d", held);
			fd = try_open(self, O_WRONLY, &reopen);
			if (fd >= 0)
				close(fd);
			close(held);
		}
		printf("wronly=%s rdonly=%s path=%s reopen=%s\n", wronly, rdonly, opath, reopen);
		return 0;
	}
	pid_t child = fork();
	if (child == 0) {
		execl(argv[2], "sleep", "1", (char *)NULL);
		_exit(127);
	}
	snprintf(exe, sizeof exe, "/proc/%d/exe", (int)child);
	/* wait until the child runs the copy, not this probe */
	char link[4096];
	for (int i = 0; i < 5000; i++) {
		ssize_t n = readlink(exe, link, sizeof link - 1);
		if (n > 0) {
			link[n] = 0;
			if (!strcmp(link, argv[2]))
				break;
		}
		usleep(1000);
	}
	int fd = try_open(exe, O_WRONLY, &wronly);
	if (fd >= 0)
		close(fd);
	fd = try_open(exe, O_RDONLY, &rdonly);
	if (fd >= 0)
		close(fd);
	int held = try_open(exe, O_PATH, &opath);
	waitpid(child, NULL, 0);
	if (held >= 0) {
		snprintf(self, sizeof self, "/proc/self/fd/%d", held);
		fd = try_open(self, O_WRONLY, &reopen);
		if (fd >= 0) {
			written = name(pwrite(fd, "PWNED", 5, 0) == 5 ? 0 : errno);
			close(fd);
		}
	}
	printf("wronly=%s rdonly=%s path=%s reopen=%s write=%s\n", wronly, rdonly, opath, reopen, written);
	return 0;
}
