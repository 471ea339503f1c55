/*
 * Test helper: installs a classic-BPF seccomp filter read from a file, then makes the
 * raw syscalls given on the command line and prints "<ret> <errno>" for each.
 *   install_and_call <filter.bpf> <nr>[:<arg0>[:<arg1>]] ...
 * With "-" for the filter it installs none (a control run, or inside a container whose
 * runtime installed the filter).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  if (strcmp(argv[1], "-") == 0) goto calls;
  FILE *f = fopen(argv[1], "rb");
  if (!f) { perror(argv[1]); return 2; }
  static struct sock_filter insns[4096];
  size_t n = fread(insns, sizeof insns[0], 4096, f);
  fclose(f);
  struct sock_fprog prog = { .len = (unsigned short)n, .filter = insns };
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) { perror("no_new_privs"); return 2; }
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog)) { printf("install-failed %d\n", errno); return 0; }
calls:
  for (int i = 2; i < argc; i++) {
    unsigned long v[3] = {0, 0, 0};
    char *s = argv[i];
    for (int j = 0; j < 3 && s && *s; j++) { v[j] = strtoul(s, &s, 0); if (*s == ':') s++; }
    errno = 0;
    long r = syscall((long)v[0], v[1], v[2], 0, 0, 0, 0);
    printf("%ld %d\n", r, r < 0 ? errno : 0);
  }
  return 0;
}
