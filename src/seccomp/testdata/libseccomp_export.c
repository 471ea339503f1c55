/*
 * Test and bench helper: builds a filter with libseccomp from a line-oriented
 * description on stdin and writes the BPF (seccomp_export_bpf) to stdout.
 *
 *   default <ret>                  filter's default action (SECCOMP_RET_* value)
 *   badarch <ret>                  action for architectures not in the filter
 *   optimize <1|2>                 SCMP_FLTATR_CTL_OPTIMIZE (2: binary tree)
 *   arch <name>                    add an architecture (x86_64, x86, x32, aarch64)
 *   rule <ret> <name> <n> [<arg> <op> <datum_a> <datum_b>]...
 *                                  as runc does: name resolved for the native arch,
 *                                  seccomp_rule_add_array (so libseccomp translates it
 *                                  to every arch in the filter)
 *
 * Exit 2 on bad input, 3 when libseccomp refuses a rule (message on stderr).
 */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
  char line[4096];
  scmp_filter_ctx ctx = NULL;
  unsigned int def = 0, badarch = 0, optimize = 1;
  int lineno = 0;
  while (fgets(line, sizeof line, stdin)) {
    lineno++;
    char word[64];
    int used = 0;
    if (sscanf(line, "%63s%n", word, &used) != 1) continue;
    char *rest = line + used;
    if (!strcmp(word, "default")) { def = strtoul(rest, NULL, 0); continue; }
    if (!strcmp(word, "badarch")) { badarch = strtoul(rest, NULL, 0); continue; }
    if (!strcmp(word, "optimize")) { optimize = strtoul(rest, NULL, 0); continue; }
    if (!ctx) {
      ctx = seccomp_init(def);
      if (!ctx) { fprintf(stderr, "seccomp_init failed\n"); return 2; }
      if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, badarch)) { fprintf(stderr, "badarch attr\n"); return 2; }
      if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0)) { fprintf(stderr, "nnp attr\n"); return 2; }
      if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, optimize)) { fprintf(stderr, "optimize attr\n"); return 2; }
    }
    if (!strcmp(word, "arch")) {
      char name[64];
      if (sscanf(rest, "%63s", name) != 1) return 2;
      uint32_t a = seccomp_arch_resolve_name(name);
      if (!a) { fprintf(stderr, "line %d: unknown arch %s\n", lineno, name); return 2; }
      int rc = seccomp_arch_add(ctx, a);
      if (rc && rc != -EEXIST) { fprintf(stderr, "line %d: arch_add %s: %d\n", lineno, name, rc); return 2; }
      continue;
    }
    if (!strcmp(word, "rule")) {
      unsigned int ret; char name[128]; unsigned int n; int off = 0;
      if (sscanf(rest, "%u %127s %u%n", &ret, name, &n, &off) != 3 || n > 6) { fprintf(stderr, "line %d: bad rule\n", lineno); return 2; }
      rest += off;
      struct scmp_arg_cmp cmps[6];
      for (unsigned int i = 0; i < n; i++) {
        unsigned int arg, op; unsigned long long a, b;
        if (sscanf(rest, "%u %u %llu %llu%n", &arg, &op, &a, &b, &off) != 4) { fprintf(stderr, "line %d: bad cmp\n", lineno); return 2; }
        rest += off;
        cmps[i].arg = arg; cmps[i].op = op; cmps[i].datum_a = a; cmps[i].datum_b = b;
      }
      int nr = seccomp_syscall_resolve_name(name);
      if (nr == __NR_SCMP_ERROR) continue; /* runc: unknown to libseccomp, skipped */
      int rc = seccomp_rule_add_array(ctx, ret, nr, n, cmps);
      if (rc) { fprintf(stderr, "line %d: rule %s refused: %s\n", lineno, name, strerror(-rc)); return 3; }
      continue;
    }
    fprintf(stderr, "line %d: unknown directive %s\n", lineno, word);
    return 2;
  }
  if (!ctx) { ctx = seccomp_init(def); seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, badarch); seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, optimize); }
  int rc = seccomp_export_bpf(ctx, 1);
  if (rc) { fprintf(stderr, "export failed: %d\n", rc); return 2; }
  seccomp_release(ctx);
  return 0;
}
