/*
 * Test helper: asks Debian's libseccomp for syscall numbers, to check the generated
 * tables against an independent source. Reads "<arch> <name>" lines on stdin and prints
 * the number seccomp_syscall_resolve_name_arch gives (negative: a pseudo-syscall or
 * unknown).
 */
#include <seccomp.h>
#include <stdio.h>

int main(void) {
  char arch[64], name[128];
  while (scanf("%63s %127s", arch, name) == 2) {
    uint32_t a = seccomp_arch_resolve_name(arch);
    if (!a) { fprintf(stderr, "unknown arch %s\n", arch); return 2; }
    printf("%d\n", seccomp_syscall_resolve_name_arch(a, name));
  }
  return 0;
}
