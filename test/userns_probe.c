/* A tiny static probe for user-namespace boundary tests: tries one privileged
 * operation and prints "ok" or "err <errno> <message>". Every probe is harmless
 * on the host even when it succeeds (no-op settimeofday, kill with signal 0,
 * garbage for init_module, a mount in the caller's own mount namespace). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <signal.h>
#include <unistd.h>

static int report(int r)
{
	if (r == 0)
		printf("ok\n");
	else
		printf("err %d %s\n", errno, strerror(errno));
	return 0;
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";
	const char *arg = argc > 2 ? argv[2] : "";
	if (!strcmp(what, "euid")) {
		printf("%u\n", geteuid());
		return 0;
	}
	if (!strcmp(what, "module")) {
		static const char junk[64] = "not a module";
		return report((int)syscall(SYS_init_module, junk, sizeof junk, ""));
	}
	if (!strcmp(what, "time"))
		return report((int)syscall(SYS_settimeofday, NULL, NULL)); /* checks CAP_SYS_TIME, changes nothing */
	if (!strcmp(what, "kill"))
		return report(kill(atoi(arg), 0)); /* permission check only */
	if (!strcmp(what, "hostname"))
		return report(sethostname(arg, strlen(arg)));
	if (!strcmp(what, "read")) {
		int fd = open(arg, O_RDONLY);
		if (fd >= 0)
			close(fd);
		return report(fd < 0 ? -1 : 0);
	}
	if (!strcmp(what, "mount"))
		return report(mount("none", arg, "debugfs", 0, NULL));
	fprintf(stderr, "usage: probe euid|module|time|kill PID|hostname NAME|read PATH|mount DIR\n");
	return 2;
}
