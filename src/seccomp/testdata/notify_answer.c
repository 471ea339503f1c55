/*
 * Test helper: installs a filter with the given SECCOMP_FILTER_FLAG_* flags (it must
 * notify mkdir), then a child calls mkdir("/nonexistent/x") while this process, holding
 * the listener fd, answers the notification with error 42 (ENOMSG). Prints
 * "<child's errno> <notified nr>".
 *   notify_answer <filter.bpf> <flags>
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  FILE *f = fopen(argv[1], "rb");
  if (!f) return 2;
  static struct sock_filter insns[4096];
  size_t n = fread(insns, sizeof insns[0], 4096, f);
  fclose(f);
  struct sock_fprog prog = { .len = (unsigned short)n, .filter = insns };
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) return 2;
  int fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, strtoul(argv[2], NULL, 0), &prog);
  if (fd < 0) { printf("install-failed %d\n", errno); return 0; }
  int pipefd[2];
  if (pipe(pipefd)) return 2;
  pid_t pid = fork();
  if (pid == 0) {
    long r = syscall(SYS_mkdir, "/nonexistent/x", 0700);
    int e = r < 0 ? errno : 0;
    if (write(pipefd[1], &e, sizeof e) != sizeof e) _exit(3);
    _exit(0);
  }
  struct seccomp_notif req; struct seccomp_notif_resp resp;
  memset(&req, 0, sizeof req);
  if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req)) { perror("recv"); return 2; }
  memset(&resp, 0, sizeof resp);
  resp.id = req.id; resp.error = -42; resp.val = 0; resp.flags = 0;
  if (ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp)) { perror("send"); return 2; }
  int e = -1;
  if (read(pipefd[0], &e, sizeof e) != sizeof e) return 2;
  waitpid(pid, NULL, 0);
  printf("%d %d\n", e, req.data.nr);
  return 0;
}
