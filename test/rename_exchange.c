/*
 * Swaps pairs of paths with renameat2(RENAME_EXCHANGE) in a tight loop, for
 * symlink-race tests (CVE-2021-30465): each pair is a directory and a symlink
 * in a test's own rootfs, so a path keeps flipping between the two.
 *
 * Usage: rename_exchange A1 B1 [A2 B2 ...]
 * Prints "ready" after the first round, then swaps until SIGTERM and prints
 * "swaps <n>". An exchange that fails prints the error and exits 1, so a test
 * sees a swapper that stopped swapping.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	if (argc < 3 || (argc - 1) % 2) {
		fprintf(stderr, "usage: rename_exchange A1 B1 [A2 B2 ...]\n");
		return 2;
	}
	struct sigaction sa = { .sa_handler = on_term };
	sigaction(SIGTERM, &sa, NULL);
	unsigned long long swaps = 0;
	for (int round = 0; !stop; round++) {
		for (int i = 1; i + 1 < argc; i += 2) {
			if (syscall(SYS_renameat2, AT_FDCWD, argv[i], AT_FDCWD, argv[i + 1], RENAME_EXCHANGE) < 0) {
				printf("error exchanging %s and %s: %s\n", argv[i], argv[i + 1], strerror(errno));
				return 1;
			}
			swaps++;
		}
		if (round == 0) {
			printf("ready\n");
			fflush(stdout);
		}
	}
	printf("swaps %llu\n", swaps);
	return 0;
}
