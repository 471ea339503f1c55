/*
 * Test helper: installs a classic-BPF seccomp filter read from a file, then makes the
 * raw syscalls given on the command line and prints "<ret> <errno>" for each.
 *   install_and_call [-f <flags>] [-t] <filter.bpf> <nr>[:<arg0>[:<arg1>]] ...
 * -f passes SECCOMP_FILTER_FLAG_* bits to seccomp(2). -t catches SIGSYS (SCMP_ACT_TRAP):
 * the handler prints "sigsys <nr> <data> <si_code>" and exits 42. With "-" for the filter
 * it installs none (a control run, or inside a container whose runtime installed one).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static void on_sigsys(int sig, siginfo_t *si, void *ctx) {
  (void)sig; (void)ctx;
  char buf[96];
  int n = snprintf(buf, sizeof buf, "sigsys %d %d %d\n", si->si_syscall, si->si_errno, si->si_code);
  if (write(1, buf, (size_t)n) < 0) _exit(3);
  _exit(42);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0); /* every answer is out before a trap or kill */
  unsigned long flags = 0;
  int a = 1;
  for (; a < argc && argv[a][0] == '-' && argv[a][1]; a++) {
    if (!strcmp(argv[a], "-f") && a + 1 < argc) flags = strtoul(argv[++a], NULL, 0);
    else if (!strcmp(argv[a], "-t")) {
      struct sigaction sa;
      memset(&sa, 0, sizeof sa);
      sa.sa_sigaction = on_sigsys;
      sa.sa_flags = SA_SIGINFO;
      if (sigaction(SIGSYS, &sa, NULL)) { perror("sigaction"); return 2; }
    } else { fprintf(stderr, "unknown option %s\n", argv[a]); return 2; }
  }
  if (a >= argc) return 2;
  if (strcmp(argv[a], "-") == 0) goto calls;
  FILE *f = fopen(argv[a], "rb");
  if (!f) { perror(argv[a]); return 2; }
  static struct sock_filter insns[4096];
  size_t n = fread(insns, sizeof insns[0], 4096, f);
  fclose(f);
  struct sock_fprog prog = { .len = (unsigned short)n, .filter = insns };
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) { perror("no_new_privs"); return 2; }
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog)) { printf("install-failed %d\n", errno); return 0; }
calls:
  for (int i = a + 1; i < argc; i++) {
    unsigned long v[3] = {0, 0, 0};
    char *s = argv[i];
    for (int j = 0; j < 3 && s && *s; j++) { v[j] = strtoul(s, &s, 0); if (*s == ':') s++; }
    errno = 0;
    long r = syscall((long)v[0], v[1], v[2], 0, 0, 0, 0);
    printf("%ld %d\n", r, r < 0 ? errno : 0);
  }
  return 0;
}
