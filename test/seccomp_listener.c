/*
 * A seccomp notify listener for tests (SCMP_ACT_NOTIFY with listenerPath).
 *
 * Usage: seccomp_listener SOCKET_PATH OUT_PREFIX
 * Listens on SOCKET_PATH; for each connection writes the received state JSON to
 * OUT_PREFIX.<n>.json and serves the notify fd that came with it (SCM_RIGHTS).
 * Answers mkdir/mkdirat by the path's last component (read from /proc/<pid>/mem):
 *   "cont"  continue (the kernel runs the real mkdir)
 *   "fake"  success without doing anything
 *   other   EMLINK
 * and appends "path answer" lines to OUT_PREFIX.log. Runs until killed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_FDS 16

static const char *prefix;

static int recv_listener(int conn, int n)
{
	char buf[65536], cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	ssize_t len = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
	if (len <= 0)
		return -1;
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -1;
	int fd;
	memcpy(&fd, CMSG_DATA(c), sizeof fd);
	char path[4096];
	snprintf(path, sizeof path, "%s.%d.json", prefix, n);
	FILE *f = fopen(path, "w");
	if (f) {
		fwrite(buf, 1, (size_t)len, f);
		fclose(f);
	}
	return fd;
}

static void serve(int fd)
{
	struct seccomp_notif req;
	struct seccomp_notif_resp resp;
	memset(&req, 0, sizeof req);
	if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0)
		return;
	memset(&resp, 0, sizeof resp);
	resp.id = req.id;
	unsigned long long addr = req.data.nr == SYS_mkdirat ? req.data.args[1] : req.data.args[0];
	char target[256] = "?", mem[64];
	snprintf(mem, sizeof mem, "/proc/%u/mem", req.pid);
	int mfd = open(mem, O_RDONLY | O_CLOEXEC);
	if (mfd >= 0) {
		ssize_t n = pread(mfd, target, sizeof target - 1, (off_t)addr);
		target[n > 0 ? n : 0] = 0;
		close(mfd);
	}
	/* the memory was read from the process the id still names */
	if (ioctl(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &req.id) < 0)
		return;
	const char *base = strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
	const char *answer;
	if (!strcmp(base, "cont")) {
		resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		answer = "continue";
	} else if (!strcmp(base, "fake")) {
		answer = "success";
	} else {
		resp.error = -EMLINK;
		answer = "EMLINK";
	}
	ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
	char path[4096];
	snprintf(path, sizeof path, "%s.log", prefix);
	FILE *f = fopen(path, "a");
	if (f) {
		fprintf(f, "%s %s\n", target, answer);
		fclose(f);
	}
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: seccomp_listener SOCKET_PATH OUT_PREFIX\n");
		return 2;
	}
	prefix = argv[2];
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	snprintf(addr.sun_path, sizeof addr.sun_path, "%s", argv[1]);
	int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	unlink(argv[1]);
	if (ls < 0 || bind(ls, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(ls, 8) < 0) {
		perror("listen");
		return 1;
	}
	struct pollfd p[MAX_FDS + 1];
	int nfds = 0, conns = 0;
	p[0] = (struct pollfd){ ls, POLLIN, 0 };
	for (;;) {
		if (poll(p, (nfds_t)nfds + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		if (p[0].revents & POLLIN) {
			int conn = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
			if (conn >= 0) {
				int fd = recv_listener(conn, conns++);
				close(conn);
				if (fd >= 0 && nfds < MAX_FDS)
					p[++nfds] = (struct pollfd){ fd, POLLIN, 0 };
			}
		}
		for (int i = 1; i <= nfds; i++) {
			if (p[i].revents & POLLIN)
				serve(p[i].fd);
			else if (p[i].revents & (POLLHUP | POLLERR))
				p[i].fd = -1; /* every process under that filter is gone */
		}
	}
}
