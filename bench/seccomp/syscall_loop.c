/*
 * Bench helper: installs the classic-BPF seccomp filter read from a file (or none),
 * then times a loop of one syscall and prints nanoseconds per call.
 *   syscall_loop <filter.bpf|none> <getppid|personality> <iterations>
 */
#define _GNU_SOURCE
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: %s <filter|none> <getppid|personality> <iterations>\n", argv[0]); return 2; }
  if (strcmp(argv[1], "none") != 0) {
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 2; }
    static struct sock_filter insns[4096];
    size_t n = fread(insns, sizeof insns[0], 4096, f);
    fclose(f);
    struct sock_fprog prog = { .len = (unsigned short)n, .filter = insns };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) { perror("no_new_privs"); return 2; }
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog)) { perror("seccomp"); return 2; }
  }
  int personality = strcmp(argv[2], "personality") == 0;
  long iters = atol(argv[3]);
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < iters; i++) {
    long r = personality ? syscall(SYS_personality, 0xffffffffUL) : syscall(SYS_getppid);
    if (r < 0) { fprintf(stderr, "%s failed under this filter\n", argv[2]); return 3; }
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  double ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
  printf("%.1f\n", ns / (double)iters);
  return 0;
}
