/*
 * isola-launcher: executes a launch plan compiled by the TypeScript runtime.
 *
 * It makes no decisions: the plan says what to do and in which order. This
 * program exists because unsharing a user or mount namespace, and setns into a
 * user namespace, need a single-threaded process, which a JavaScript runtime
 * never is (runc splits the same way with nsexec.c).
 *
 * Process skeleton (fixed):
 *   stage 0  the launcher, a child of the runtime. Runs section PRE, clones
 *            stage 1 (with the plan's clone flags, e.g. CLONE_NEWUSER), runs
 *            section PARENT against the child (id maps), then relays messages
 *            between the runtime (sync fd) and its children (chan).
 *   stage 1  runs section STAGE1 (setns, unshare, time offsets), forks stage 2,
 *            reports its pid and exits.
 *   stage 2  the container init: runs section INIT, ending in EXEC.
 *
 * Usage: isola-launcher SYNC_FD [fg]
 *   fg: stay alive as subreaper and report the init's exit status.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/keyctl.h>
#include <linux/landlock.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/signalfd.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "plan_steps.h"

#include <net/if.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

/* ---------- plan representation ---------- */

struct arg {
	int kind;
	int64_t num;
	char *bytes; /* NUL-terminated copy */
	uint32_t len;
};

struct step {
	uint32_t tag;
	uint32_t nargs;
	struct arg *args;
};

struct section {
	uint32_t nsteps;
	struct step *steps;
};

static struct section sections[SECTION_COUNT];
static uint64_t clone_flags;
static int clone_cgroup_fd = -1;     /* CLONE_INTO_CGROUP target (cgroup v2 directory) */
static int parent_on_request;        /* PARENT runs when stage 1 asks (REQUEST_PARENT) */
static const struct step *setns_pending[16]; /* SETNS_LENIENT joins kept for SETNS_PENDING */
static int setns_pending_fd[16];
static int setns_npending;
static const char *clone_cgroup_dir;

/* ---------- process-wide state ---------- */

static int sync_fd = -1;     /* to the runtime (stage 0 only) */
static int chan_fd = -1;     /* stage 0 <-> stage 1/2 */
static int fifo_fd = -1;     /* exec fifo, O_PATH */
static int fifo_wfd = -1;    /* exec fifo opened for writing: `start` reads "0", or "E" and our failure */
static pid_t child_pid = -1; /* stage 0: stage 1's pid; then the init's */
static pid_t init_pid = -1;
static char *hook_state;     /* last SYNC reply: the state JSON for hooks */
static uint32_t hook_state_len;
static const char *hook_part; /* the part of it HOOK_STATE chose (else all of it up to a NUL) */
static uint32_t hook_part_len;
static char exec_path[PATH_MAX];
static int console_fd = -1; /* console socket (or our end of the relay pair) in the init */
static int relay_fd = -1;   /* stage 0's end of the relay pair */
static int listener_fd = -1; /* seccomp listener socket (connected in PRE, on the host) */
static char *listener_state; /* state JSON sent with the notify fd */
static uint32_t listener_state_len;
static int landlock_fd = -1; /* Landlock ruleset being built */
static uint64_t landlock_handled;
static int cur_section = -1;
static int cur_index = -1;

/* ---------- messages ---------- */

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EPIPE;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One write per message: stage 1 and stage 2 share the channel to stage 0,
 * and a message split over two writes could interleave with the other's. */
static int send_msg(int fd, uint32_t type, const void *payload, uint32_t len)
{
	char *buf = malloc(8 + (size_t)len);
	if (!buf)
		return -1;
	memcpy(buf, &type, 4);
	memcpy(buf + 4, &len, 4);
	if (len)
		memcpy(buf + 8, payload, len);
	int r = write_all(fd, buf, 8 + (size_t)len);
	free(buf);
	return r;
}

/* Receives one message; *payload is malloc'd and NUL-terminated. */
static int recv_msg(int fd, uint32_t *type, char **payload, uint32_t *len)
{
	uint32_t hdr[2];
	if (read_all(fd, hdr, sizeof hdr) < 0)
		return -1;
	char *buf = malloc((size_t)hdr[1] + 1);
	if (!buf)
		return -1;
	if (hdr[1] && read_all(fd, buf, hdr[1]) < 0) {
		free(buf);
		return -1;
	}
	buf[hdr[1]] = 0;
	*type = hdr[0];
	*payload = buf;
	if (len)
		*len = hdr[1];
	return 0;
}

/* Reports a failing step and exits. Works in every stage: stage 0 writes to
 * the runtime directly, stages 1 and 2 to stage 0, which relays. */
static void __attribute__((noreturn, format(printf, 2, 3))) fail(int err, const char *fmt, ...)
{
	char msg[1024], out[1200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	int n = snprintf(out, sizeof out, "%d %d %d %s", cur_section, cur_index, err, msg);
	int fd = chan_fd >= 0 && sync_fd < 0 ? chan_fd : sync_fd;
	if (fifo_wfd >= 0) {
		/* after `start` released us: it reads this instead of the "0" */
		char note[1200];
		int m = snprintf(note, sizeof note, "E%d %d %s%s%s", cur_section, cur_index, msg, err ? ": " : "", err ? strerror(err) : "");
		if (m > 0 && write(fifo_wfd, note, (size_t)(m < (int)sizeof note ? m : (int)sizeof note - 1)) < 0) {
			/* nobody reads: stderr below still says it */
		}
	}
	if (fd < 0 || send_msg(fd, MSG_ERROR, out, (uint32_t)(n < 0 ? 0 : n)) < 0)
		dprintf(2, "isola-launcher: %s%s%s\n", msg, err ? ": " : "", err ? strerror(err) : "");
	_exit(1);
}

/* ---------- plan decoding ---------- */

static const char *plan_buf;
static size_t plan_len, plan_off;

static void take(void *dst, size_t n)
{
	if (plan_off + n > plan_len)
		fail(EINVAL, "launch plan is truncated at byte %zu", plan_off);
	memcpy(dst, plan_buf + plan_off, n);
	plan_off += n;
}

static void decode_plan(void)
{
	uint32_t magic, version, count;
	take(&magic, 4);
	take(&version, 4);
	if (magic != PLAN_MAGIC || version != PLAN_VERSION)
		fail(EINVAL, "launch plan has magic %#x version %u, expected %#x version %u", magic, version, PLAN_MAGIC, PLAN_VERSION);
	take(&clone_flags, 8);
	take(&count, 4);
	if (count != SECTION_COUNT)
		fail(EINVAL, "launch plan has %u sections, expected %d", count, SECTION_COUNT);
	for (uint32_t s = 0; s < count; s++) {
		struct section *sec = &sections[s];
		take(&sec->nsteps, 4);
		sec->steps = calloc(sec->nsteps ? sec->nsteps : 1, sizeof *sec->steps);
		for (uint32_t i = 0; i < sec->nsteps; i++) {
			struct step *st = &sec->steps[i];
			take(&st->tag, 4);
			take(&st->nargs, 4);
			if (st->tag == 0 || st->tag > STEP_MAX)
				fail(EINVAL, "launch plan step %u of section %u has unknown tag %u", i, s, st->tag);
			st->args = calloc(st->nargs ? st->nargs : 1, sizeof *st->args);
			for (uint32_t a = 0; a < st->nargs; a++) {
				uint8_t kind;
				take(&kind, 1);
				st->args[a].kind = kind;
				if (kind == ARG_INT) {
					take(&st->args[a].num, 8);
				} else if (kind == ARG_BYTES) {
					uint32_t len;
					take(&len, 4);
					if (plan_off + len > plan_len)
						fail(EINVAL, "launch plan is truncated in step %u", i);
					char *b = malloc((size_t)len + 1);
					memcpy(b, plan_buf + plan_off, len);
					b[len] = 0;
					plan_off += len;
					st->args[a].bytes = b;
					st->args[a].len = len;
				} else {
					fail(EINVAL, "launch plan step %u has argument kind %u", i, kind);
				}
			}
		}
	}
}

static const char *S(const struct step *st, uint32_t i)
{
	if (i >= st->nargs || st->args[i].kind != ARG_BYTES)
		fail(EINVAL, "step %s: argument %u must be bytes", step_names[st->tag], i);
	return st->args[i].bytes;
}

static int64_t N(const struct step *st, uint32_t i)
{
	if (i >= st->nargs || st->args[i].kind != ARG_INT)
		fail(EINVAL, "step %s: argument %u must be an integer", step_names[st->tag], i);
	return st->args[i].num;
}

/* ---------- helpers for steps ---------- */

static void write_file(const char *path, const char *content, size_t len, int optional)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		if (optional && errno == ENOENT)
			return;
		fail(errno, "open %s", path);
	}
	if (write(fd, content, len) != (ssize_t)len) {
		int e = errno;
		close(fd);
		fail(e, "write %s", path);
	}
	close(fd);
}

static int open_in_root_flags(int rootfd, const char *path, uint64_t flags)
{
	struct open_how how = {
		.flags = flags | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	while (*path == '/')
		path++;
	if (!*path)
		path = ".";
	return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
}

static int open_root(const char *root)
{
	int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		fail(errno, "open root %s", root);
	return fd;
}

/* Resolves dest inside root without leaving it, creating missing components
 * (directories, and the last one as `create` says). A dangling symlink on the
 * way is followed inside the root and its target created, as runc's
 * MkdirAllInRoot does. Returns an O_PATH fd. */
static int resolve_in_root_at(int rootfd, const char *root, const char *dest, int create, int depth)
{
	int fd = open_in_root_flags(rootfd, dest, O_PATH);
	if (fd >= 0 || errno != ENOENT || create == CREATE_NONE) {
		if (fd < 0)
			fail(errno, "resolve %s in %s", dest, root);
		return fd;
	}
	if (depth > 40)
		fail(ELOOP, "resolve %s in %s", dest, root);
	char buf[PATH_MAX];
	snprintf(buf, sizeof buf, "%s", dest);
	char *p = buf;
	while (*p == '/')
		p++;
	for (;;) {
		char *slash = strchr(p, '/');
		int last = slash == NULL;
		if (slash)
			*slash = 0;
		/* buf now ends at the current component */
		if (*p) {
			fd = open_in_root_flags(rootfd, buf, O_PATH);
			if (fd < 0 && errno == ENOENT) {
				char *base = strrchr(buf, '/');
				const char *name = base ? base + 1 : buf;
				if (base)
					*base = 0;
				int parent = open_in_root_flags(rootfd, base && base != buf ? buf : "/", O_PATH | O_DIRECTORY);
				if (parent < 0)
					fail(errno, "resolve parent of %s in %s", dest, root);
				char link[PATH_MAX];
				ssize_t n = readlinkat(parent, name, link, sizeof link - 1);
				if (n > 0) {
					/* a dangling symlink: continue from its target, inside the root */
					link[n] = 0;
					char next[3 * PATH_MAX];
					const char *rest = last ? "" : slash + 1;
					int len;
					if (link[0] == '/')
						len = snprintf(next, sizeof next, "%s%s%s", link, *rest ? "/" : "", rest);
					else
						len = snprintf(next, sizeof next, "%s/%s%s%s", base && base != buf ? buf : "", link, *rest ? "/" : "", rest);
					if (len < 0 || len >= PATH_MAX)
						fail(ENAMETOOLONG, "resolve %s in %s", dest, root);
					close(parent);
					return resolve_in_root_at(rootfd, root, next, create, depth + 1);
				}
				if (last && create == CREATE_FILE) {
					int f = openat(parent, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
					if (f < 0 && errno != EEXIST)
						fail(errno, "create file %s in %s", dest, root);
					if (f >= 0)
						close(f);
				} else if (mkdirat(parent, name, 0755) < 0 && errno != EEXIST) {
					fail(errno, "mkdir %s in %s", dest, root);
				}
				close(parent);
				if (base)
					*base = '/';
				fd = open_in_root_flags(rootfd, buf, O_PATH);
			}
			if (fd < 0)
				fail(errno, "resolve %s in %s", buf, root);
			if (!last)
				close(fd);
		}
		if (last)
			break;
		*slash = '/';
		p = slash + 1;
	}
	return fd;
}

static int resolve_in_root(const char *root, const char *dest, int create)
{
	int rootfd = open_root(root);
	int fd = resolve_in_root_at(rootfd, root, dest, create, 0);
	close(rootfd);
	return fd;
}

static void fd_path(int fd, char *out, size_t n)
{
	snprintf(out, n, "/proc/self/fd/%d", fd);
}

/* tmpcopyup: copy the directory tree at src (the directory a tmpfs now covers,
 * opened before the mount) into dst (the new mount's root), keeping modes,
 * owners and times; as runc's copy-up does for a tmpfs over a non-empty dir. */
static void copy_tree(int src, int dst, const char *dest, int depth)
{
	if (depth > 64)
		fail(ELOOP, "tmpcopyup %s: tree too deep", dest);
	int dfd = dup(src);
	DIR *d = dfd < 0 ? NULL : fdopendir(dfd);
	if (!d)
		fail(errno, "tmpcopyup %s: read dir", dest);
	rewinddir(d);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		const char *n = e->d_name;
		if (!strcmp(n, ".") || !strcmp(n, ".."))
			continue;
		struct stat st;
		if (fstatat(src, n, &st, AT_SYMLINK_NOFOLLOW) < 0)
			fail(errno, "tmpcopyup %s/%s: stat", dest, n);
		if (S_ISDIR(st.st_mode)) {
			if (mkdirat(dst, n, st.st_mode & 07777) < 0 && errno != EEXIST)
				fail(errno, "tmpcopyup %s/%s: mkdir", dest, n);
			int s2 = openat(src, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			int d2 = openat(dst, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (s2 < 0 || d2 < 0)
				fail(errno, "tmpcopyup %s/%s: open dir", dest, n);
			copy_tree(s2, d2, dest, depth + 1);
			close(s2);
			close(d2);
		} else if (S_ISREG(st.st_mode)) {
			int in = openat(src, n, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			int out = in < 0 ? -1 : openat(dst, n, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, st.st_mode & 07777);
			if (in < 0 || out < 0)
				fail(errno, "tmpcopyup %s/%s: open", dest, n);
			char buf[65536];
			ssize_t r;
			while ((r = read(in, buf, sizeof buf)) > 0)
				if (write(out, buf, (size_t)r) != r)
					fail(errno, "tmpcopyup %s/%s: write", dest, n);
			if (r < 0)
				fail(errno, "tmpcopyup %s/%s: read", dest, n);
			close(in);
			close(out);
		} else if (S_ISLNK(st.st_mode)) {
			char link[PATH_MAX];
			ssize_t len = readlinkat(src, n, link, sizeof link - 1);
			if (len < 0)
				fail(errno, "tmpcopyup %s/%s: readlink", dest, n);
			link[len] = 0;
			if (symlinkat(link, dst, n) < 0)
				fail(errno, "tmpcopyup %s/%s: symlink", dest, n);
		} else if (mknodat(dst, n, st.st_mode, st.st_rdev) < 0) {
			fail(errno, "tmpcopyup %s/%s: mknod", dest, n);
		}
		if (fchownat(dst, n, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
			fail(errno, "tmpcopyup %s/%s: chown", dest, n);
		if (!S_ISLNK(st.st_mode) && fchmodat(dst, n, st.st_mode & 07777, 0) < 0)
			fail(errno, "tmpcopyup %s/%s: chmod", dest, n);
		struct timespec times[2] = {st.st_atim, st.st_mtim};
		utimensat(dst, n, times, AT_SYMLINK_NOFOLLOW);
	}
	closedir(d);
}

/* mount_setattr on a mount we hold by fd (detached, or attached through it):
 * nothing to do when neither set nor clr asks for anything. With keep_locked (a
 * bind's own flags): in a user namespace the source's flags may be locked, so a
 * clear refused with EPERM keeps those and clears only the others, as a bind
 * remount there keeps them (runc). */
static void tree_setattr(int tree, uint64_t set, uint64_t clr, int recursive, int keep_locked, const char *what, const char *dest)
{
	struct mount_attr attr = { 0 };
	attr.attr_set = set;
	attr.attr_clr = clr;
	int flags = AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0);
	if (!(set || clr) || syscall(SYS_mount_setattr, tree, "", flags, &attr, sizeof attr) == 0)
		return;
	struct statvfs sv;
	if (!keep_locked || errno != EPERM || !clr || fstatvfs(tree, &sv) < 0)
		fail(errno, "%s of %s (mount_setattr)", what, dest);
	uint64_t locked = ((sv.f_flag & ST_RDONLY) ? MOUNT_ATTR_RDONLY : 0) | ((sv.f_flag & ST_NOSUID) ? MOUNT_ATTR_NOSUID : 0) |
			  ((sv.f_flag & ST_NODEV) ? MOUNT_ATTR_NODEV : 0) | ((sv.f_flag & ST_NOEXEC) ? MOUNT_ATTR_NOEXEC : 0);
	attr.attr_clr &= ~locked;
	if (syscall(SYS_mount_setattr, tree, "", flags, &attr, sizeof attr) < 0)
		fail(errno, "%s of %s (mount_setattr)", what, dest);
}

/* tmpcopyup: the new filesystem's root takes the covered directory's owner and
 * mode unless the options set them, then a copy of what it holds. */
static void copy_up(int under, int top, const char *data, const char *dest)
{
	struct stat ust;
	if (!strstr(data, "mode=") && !strstr(data, "uid=") && !strstr(data, "gid=") && fstat(under, &ust) == 0) {
		if (fchown(top, ust.st_uid, ust.st_gid) < 0 || fchmod(top, ust.st_mode & 07777) < 0)
			fail(errno, "tmpcopyup %s: chown/chmod", dest);
	}
	copy_tree(under, top, dest, 0);
}

/* Attaches the tree at the directory resolved in root, then changes its
 * propagation through its own fd: args[first..] are MS_* propagation flags
 * (MS_REC for the whole tree). */
static void tree_attach(int tree, int destfd, const struct step *st, uint32_t first, const char *dest)
{
	if (syscall(SYS_move_mount, tree, "", destfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		fail(errno, "attach the mount at %s (move_mount)", dest);
	for (uint32_t i = first; i < st->nargs; i++) {
		uint64_t prop = (uint64_t)N(st, i);
		struct mount_attr attr = { 0 };
		attr.propagation = prop & (MS_SHARED | MS_SLAVE | MS_PRIVATE | MS_UNBINDABLE);
		if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | ((prop & MS_REC) ? AT_RECURSIVE : 0), &attr, sizeof attr) < 0)
			fail(errno, "propagation of %s (mount_setattr)", dest);
	}
}

/* The kernel's own words for a failed fsconfig, read from the fs context. */
static const char *fs_context_message(int fsfd, char *buf, size_t n)
{
	/* the newest message: earlier ones (warnings) are read and passed over */
	char line[512];
	buf[0] = 0;
	for (;;) {
		ssize_t r = read(fsfd, line, sizeof line - 1);
		if (r <= 2)
			break;
		line[r] = 0;
		if (line[r - 1] == '\n')
			line[r - 1] = 0;
		snprintf(buf, n, ": %s", line + 2); /* after "e " or "w " */
	}
	return buf;
}

/* One fsconfig per option of a mount(2) data string: key=value as a string,
 * a bare word as a flag. Commas inside a value, as the kernel's own parsers
 * take them: a tmpfs mpol nodelist ("mpol=bind:0,2": a piece starting with a
 * digit continues it) and a quoted LSM context ("context=\"a,b\""). */
static void fs_configure(int fsfd, const char *data, const char *dest)
{
	char *copy = strdup(data), *save = NULL, value[4096] = "", key[256] = "";
	char msg[512];
	int pending = 0;
	for (char *piece = strtok_r(copy, ",", &save);; piece = strtok_r(NULL, ",", &save)) {
		if (piece && pending) {
			int quotes = 0;
			for (const char *c = value; *c; c++)
				quotes += *c == '"';
			int mpol_nodes = !strcmp(key, "mpol") && piece[0] >= '0' && piece[0] <= '9';
			if (quotes % 2 == 1 || mpol_nodes) {
				size_t l = strlen(value);
				if (snprintf(value + l, sizeof value - l, ",%s", piece) >= (int)(sizeof value - l))
					fail(E2BIG, "mount option %s on %s: value too long", key, dest);
				continue;
			}
		}
		if (pending) {
			if (syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, key, value, 0) < 0) {
				int err = errno;
				fail(err, "mount option %s=%s on %s%s", key, value, dest, fs_context_message(fsfd, msg, sizeof msg));
			}
			pending = 0;
		}
		if (!piece)
			break;
		char *eq = strchr(piece, '=');
		if (eq) {
			*eq = 0;
			if (snprintf(key, sizeof key, "%s", piece) >= (int)sizeof key || snprintf(value, sizeof value, "%s", eq + 1) >= (int)sizeof value)
				fail(E2BIG, "mount option %s on %s: too long", piece, dest);
			pending = 1;
		} else if (*piece && syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_FLAG, piece, NULL, 0) < 0) {
			int err = errno;
			fail(err, "mount option %s on %s%s", piece, dest, fs_context_message(fsfd, msg, sizeof msg));
		}
	}
	free(copy);
}

/* A bind remount inside a user namespace must keep the locked flags of the
 * source mount; retry with them added, as runc does. */
static int remount_keep_locked(const char *target, unsigned long flags, const char *data)
{
	if (mount(NULL, target, NULL, flags, data) == 0)
		return 0;
	if (errno != EPERM)
		return -1;
	struct statvfs sv;
	if (statvfs(target, &sv) < 0)
		return -1;
	unsigned long locked = 0;
	if (sv.f_flag & ST_NOSUID)
		locked |= MS_NOSUID;
	if (sv.f_flag & ST_NODEV)
		locked |= MS_NODEV;
	if (sv.f_flag & ST_NOEXEC)
		locked |= MS_NOEXEC;
	if (sv.f_flag & ST_RDONLY)
		locked |= MS_RDONLY;
	return mount(NULL, target, NULL, flags | locked, data);
}

/* Starts path with a pipe on its stdin; *infd is the pipe's write end. */
static pid_t spawn_with_stdin(const char *path, char *const argv[], char *const envp[], int *infd)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(p[0], 0);
		execve(path, argv, envp);
		dprintf(2, "isola-launcher: exec %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	close(p[0]);
	*infd = p[1];
	return pid;
}

/* Waits for pid at most timeout_ms (0: forever); returns the wait status or -1 on timeout. */
static int wait_timeout(pid_t pid, int64_t timeout_ms)
{
	int status;
	int64_t waited = 0;
	for (;;) {
		pid_t r = waitpid(pid, &status, timeout_ms > 0 ? WNOHANG : 0);
		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			return -2;
		if (r == 0) {
			if (waited >= timeout_ms) {
				kill(pid, SIGKILL);
				waitpid(pid, &status, 0);
				return -1;
			}
			usleep(2000);
			waited += 2;
		}
	}
}

static void run_hook(const struct step *st)
{
	const char *path = S(st, 0);
	int64_t timeout = N(st, 1);
	int64_t argc = N(st, 2);
	uint32_t first = 3;
	if (argc < 0 || first + (uint32_t)argc > st->nargs)
		fail(EINVAL, "hook %s: bad argument count", path);
	char **argv = calloc((size_t)argc + 1, sizeof *argv);
	char **envp = calloc(st->nargs - first - (uint32_t)argc + 1, sizeof *envp);
	for (int64_t i = 0; i < argc; i++)
		argv[i] = st->args[first + i].bytes;
	for (uint32_t i = first + (uint32_t)argc, j = 0; i < st->nargs; i++, j++)
		envp[j] = st->args[i].bytes;
	int infd;
	pid_t pid = spawn_with_stdin(path, argv, envp, &infd);
	if (pid < 0)
		fail(errno, "start hook %s", path);
	/* a hook that doesn't read its state must not kill us; the container's process keeps
	 * the caller's SIGPIPE disposition (an ignored one would survive execve) */
	struct sigaction ign = { 0 }, pipe_was;
	ign.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &ign, &pipe_was);
	if (hook_part)
		write_all(infd, hook_part, hook_part_len);
	else if (hook_state)
		write_all(infd, hook_state, strnlen(hook_state, hook_state_len));
	close(infd);
	sigaction(SIGPIPE, &pipe_was, NULL);
	int status = wait_timeout(pid, timeout);
	if (status == -1)
		fail(ETIMEDOUT, "hook %s timed out after %lld ms", path, (long long)timeout);
	if (status < 0)
		fail(errno, "wait for hook %s", path);
	if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		fail(0, "hook %s exited with status %d", path, WEXITSTATUS(status));
	if (WIFSIGNALED(status))
		fail(0, "hook %s was killed by signal %d", path, WTERMSIG(status));
	free(argv);
	free(envp);
}

static void lookup_exec(const char *arg0, const char *pathenv)
{
	struct stat sb;
	if (strchr(arg0, '/')) {
		if (stat(arg0, &sb) < 0)
			fail(errno, "exec: \"%s\": stat", arg0);
		if (!S_ISREG(sb.st_mode))
			fail(EACCES, "exec: \"%s\": not a regular file", arg0);
		if (access(arg0, X_OK) < 0)
			fail(errno, "exec: \"%s\": permission denied", arg0);
		snprintf(exec_path, sizeof exec_path, "%s", arg0);
		return;
	}
	const char *p = pathenv;
	while (p) {
		const char *colon = strchr(p, ':');
		size_t n = colon ? (size_t)(colon - p) : strlen(p);
		char cand[PATH_MAX];
		if (n == 0)
			snprintf(cand, sizeof cand, "./%s", arg0);
		else
			snprintf(cand, sizeof cand, "%.*s/%s", (int)n, p, arg0);
		if (stat(cand, &sb) == 0 && S_ISREG(sb.st_mode) && access(cand, X_OK) == 0) {
			snprintf(exec_path, sizeof exec_path, "%s", cand);
			return;
		}
		p = colon ? colon + 1 : NULL;
	}
	fail(0, "exec: \"%s\": executable file not found in $PATH", arg0); /* runc's wording, no errno suffix */
}

static int cap_last(void)
{
	static int last = -1;
	if (last >= 0)
		return last;
	int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
	char buf[16] = { 0 };
	if (fd >= 0) {
		if (read(fd, buf, sizeof buf - 1) > 0)
			last = atoi(buf);
		close(fd);
	}
	if (last <= 0)
		last = CAP_LAST_CAP;
	return last;
}

static void apply_caps(const struct step *st)
{
	uint64_t eff = (uint64_t)N(st, 0), perm = (uint64_t)N(st, 1), inh = (uint64_t)N(st, 2), amb = (uint64_t)N(st, 3);
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2] = {
		{ (uint32_t)eff, (uint32_t)perm, (uint32_t)inh },
		{ (uint32_t)(eff >> 32), (uint32_t)(perm >> 32), (uint32_t)(inh >> 32) },
	};
	if (syscall(SYS_capset, &hdr, data) < 0)
		fail(errno, "capset");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		fail(errno, "clear ambient capabilities");
	for (int c = 0; c <= cap_last(); c++)
		if ((amb >> c) & 1)
			if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
				fail(errno, "raise ambient capability %d", c);
}

/* A signal for a created container that was never started. The handler was
 * reset on entry and the signal is not blocked in it (SA_RESETHAND,
 * SA_NODEFER): raised again it ends the process as the signal would have,
 * unless this is a pid namespace's init, for which the kernel drops signals
 * left at their default; then it exits with 128 + the signal, as a shell
 * reports one. runc's Go init likewise ends on SIGTERM while it waits. */
static void exit_on_signal(int sig)
{
	raise(sig);
	_exit(128 + sig);
}

/* Signals whose default is to end the process; the fault signals are left
 * alone (a fault in the waiting code must not be taken for a request). */
static const int ending_signals[] = { SIGHUP, SIGINT, SIGQUIT, SIGABRT, SIGUSR1, SIGUSR2, SIGALRM, SIGTERM,
				      SIGSTKFLT, SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF, SIGIO, SIGPWR };

/* The ending signals and the real-time ones. */
static void ending_set(sigset_t *set)
{
	sigemptyset(set);
	for (size_t i = 0; i < sizeof ending_signals / sizeof ending_signals[0]; i++)
		sigaddset(set, ending_signals[i]);
	for (int s = SIGRTMIN; s <= SIGRTMAX; s++)
		sigaddset(set, s);
}

/* The mask before READY blocked the ending signals (a create's init only): a signal sent
 * between `create` returning and the wait below is kept pending, not dropped. */
static sigset_t ready_mask;
static int ready_blocked;

static void wait_exec_fifo(void)
{
	/* As the init of its own pid namespace the waiting process would ignore
	 * `kill` with SIGTERM (podman stop of a created container): it catches
	 * what is at its default (ignored signals stay ignored for the container's
	 * process). The handlers stay until execve, which puts the defaults back
	 * itself: a signal during the startContainer hooks ends the container too,
	 * as one after the exec would. */
	struct sigaction sa = { 0 }, old;
	sa.sa_handler = exit_on_signal;
	sa.sa_flags = SA_RESETHAND | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigset_t ending, caught;
	ending_set(&ending);
	sigemptyset(&caught);
	for (int s = 1; s < NSIG; s++)
		if (sigismember(&ending, s) == 1 && sigaction(s, NULL, &old) == 0 && old.sa_handler == SIG_DFL && sigaction(s, &sa, NULL) == 0)
			sigaddset(&caught, s);
	sigset_t original;
	if (ready_blocked)
		original = ready_mask;
	else
		sigprocmask(SIG_SETMASK, NULL, &original);
	/* while waiting the caught ones are unblocked: what came since READY is delivered now */
	sigset_t waiting = original;
	for (int s = 1; s < NSIG; s++)
		if (sigismember(&caught, s) == 1)
			sigdelset(&waiting, s);
	sigprocmask(SIG_SETMASK, &waiting, NULL);

	char path[64];
	fd_path(fifo_fd, path, sizeof path);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		fail(errno, "open exec fifo");
	fifo_wfd = fd;
	close(fifo_fd);
	fifo_fd = -1;

	sigprocmask(SIG_SETMASK, &original, NULL); /* the container's process starts with the caller's mask */
	ready_blocked = 0;
}

static void sync_with_runtime(uint32_t type, const char *name)
{
	if (send_msg(chan_fd, type, name, (uint32_t)strlen(name)) < 0)
		fail(errno, "send %s to the runtime", name);
	uint32_t rtype;
	char *payload;
	uint32_t len;
	if (recv_msg(chan_fd, &rtype, &payload, &len) < 0)
		_exit(1); /* the runtime went away: nothing to report to */
	if (rtype == MSG_ABORT)
		_exit(1);
	if (type == MSG_SYNC) {
		free(hook_state);
		hook_state = payload;
		hook_state_len = len;
		hook_part = NULL;
		hook_part_len = 0;
	} else {
		free(payload);
	}
}

static void pivot_root_to(const char *root)
{
	int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	int newroot = open(root, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (oldroot < 0 || newroot < 0)
		fail(errno, "open / or %s", root);
	if (fchdir(newroot) < 0)
		fail(errno, "chdir %s", root);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		fail(errno, "pivot_root %s", root);
	/* The old root is now stacked under "/": make it a slave so the
	 * unmount does not propagate to the host, then detach it. */
	if (fchdir(oldroot) < 0)
		fail(errno, "chdir old root");
	if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		fail(errno, "make old root rslave");
	if (umount2(".", MNT_DETACH) < 0)
		fail(errno, "detach old root");
	if (chdir("/") < 0)
		fail(errno, "chdir /");
	close(oldroot);
	close(newroot);
}

static void move_root_to(const char *root)
{
	if (chdir(root) < 0)
		fail(errno, "chdir %s", root);
	if (mount(root, "/", NULL, MS_MOVE, NULL) < 0)
		fail(errno, "move %s to /", root);
	if (chroot(".") < 0)
		fail(errno, "chroot %s", root);
	if (chdir("/") < 0)
		fail(errno, "chdir /");
}

static void mask_path(const char *path)
{
	struct stat sb;
	if (stat(path, &sb) < 0) {
		if (errno == ENOENT)
			return;
		fail(errno, "stat masked path %s", path);
	}
	if (S_ISDIR(sb.st_mode)) {
		if (mount("tmpfs", path, "tmpfs", MS_RDONLY, "size=0k") < 0)
			fail(errno, "mask directory %s", path);
	} else if (mount("/dev/null", path, NULL, MS_BIND, NULL) < 0) {
		fail(errno, "mask %s", path);
	}
}

static void readonly_path(const char *path)
{
	if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0) {
		if (errno == ENOENT)
			return;
		fail(errno, "bind %s for read-only", path);
	}
	if (remount_keep_locked(path, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
		fail(errno, "remount %s read-only", path);
}

static void session_keyring(const char *name)
{
	long id = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name);
	if (id < 0) {
		if (errno == ENOSYS || errno == EPERM || errno == EACCES)
			return; /* keyrings unavailable: as runc, not an error */
		fail(errno, "join session keyring");
	}
	/* possessor all, user view|read|write|search|link|setattr */
	syscall(SYS_keyctl, KEYCTL_SETPERM, id, 0x3f1f0000);
}

static void do_exec(const struct step *st)
{
	int64_t argc = N(st, 0);
	if (argc < 1 || 1 + (uint32_t)argc > st->nargs)
		fail(EINVAL, "exec: bad argument count");
	char **argv = calloc((size_t)argc + 1, sizeof *argv);
	char **envp = calloc(st->nargs - 1 - (uint32_t)argc + 1, sizeof *envp);
	for (int64_t i = 0; i < argc; i++)
		argv[i] = st->args[1 + i].bytes;
	for (uint32_t i = 1 + (uint32_t)argc, j = 0; i < st->nargs; i++, j++)
		envp[j] = st->args[i].bytes;
	if (!exec_path[0])
		snprintf(exec_path, sizeof exec_path, "%s", argv[0]);
	execve(exec_path, argv, envp);
	fail(errno, "exec %s", exec_path);
}


/* ---------- terminals ---------- */

static void send_fd(int sock, int fd, const char *name)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	memset(cbuf, 0, sizeof cbuf);
	struct iovec iov = { .iov_base = (void *)name, .iov_len = strlen(name) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	if (sendmsg(sock, &msg, 0) < 0)
		fail(errno, "send the pty master over the console socket");
}

static int recv_fd(int sock)
{
	char data[256], cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = data, .iov_len = sizeof data };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) <= 0)
		return -1;
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -1;
	int fd;
	memcpy(&fd, CMSG_DATA(c), sizeof fd);
	return fd;
}

static void console_setup(int64_t rows, int64_t cols)
{
	if (console_fd < 0)
		fail(EINVAL, "no console socket to send the terminal to");
	int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		fail(errno, "open /dev/ptmx");
	int unlock = 0, n;
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0 || ioctl(master, TIOCGPTN, &n) < 0)
		fail(errno, "unlock the pty");
	char slave_path[32];
	snprintf(slave_path, sizeof slave_path, "/dev/pts/%d", n);
	int slave = open(slave_path, O_RDWR | O_NOCTTY);
	if (slave < 0)
		fail(errno, "open %s", slave_path);
	if (rows > 0 || cols > 0) {
		struct winsize ws = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols };
		if (ioctl(master, TIOCSWINSZ, &ws) < 0)
			fail(errno, "set the terminal size");
	}
	send_fd(console_fd, master, "/dev/ptmx");
	close(master);
	close(console_fd);
	console_fd = -1;
	for (int i = 0; i < 3; i++)
		if (dup2(slave, i) < 0)
			fail(errno, "dup the terminal to fd %d", i);
	if (slave > 2)
		close(slave);
	if (ioctl(0, TIOCSCTTY, 0) < 0)
		fail(errno, "make the terminal the controlling terminal");
}

static void copy_winsize(int from, int to)
{
	struct winsize ws;
	if (ioctl(from, TIOCGWINSZ, &ws) == 0)
		ioctl(to, TIOCSWINSZ, &ws);
}

/* Foreground with a terminal and no console socket: relay between our stdio and
 * the container's pty until the init exits; returns its wait status. */
static int relay_terminal(int master, pid_t init)
{
	struct termios saved;
	int raw = isatty(0) && tcgetattr(0, &saved) == 0;
	if (raw) {
		struct termios t = saved;
		cfmakeraw(&t);
		tcsetattr(0, TCSANOW, &t);
		copy_winsize(0, master);
	}
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGWINCH);
	sigprocmask(SIG_BLOCK, &set, NULL);
	int sfd = signalfd(-1, &set, SFD_CLOEXEC);
	int status = 0, done = 0, in_open = 1, out_open = 1;
	char buf[8192];
	while (!done || out_open) {
		struct pollfd p[3] = { { in_open ? 0 : -1, POLLIN, 0 }, { out_open ? master : -1, POLLIN, 0 }, { done ? -1 : sfd, POLLIN, 0 } };
		if (poll(p, 3, done ? 100 : -1) <= 0) {
			if (done)
				break; /* init gone and nothing more to read */
			continue;
		}
		if (p[0].revents) {
			ssize_t n = read(0, buf, sizeof buf);
			if (n <= 0)
				in_open = 0;
			else
				write_all(master, buf, (size_t)n);
		}
		if (p[1].revents) {
			ssize_t n = read(master, buf, sizeof buf);
			if (n <= 0)
				out_open = 0;
			else
				write_all(1, buf, (size_t)n);
		}
		if (p[2].revents) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof si) == sizeof si && si.ssi_signo == SIGWINCH && raw)
				copy_winsize(0, master);
			pid_t r;
			int st;
			while ((r = waitpid(-1, &st, WNOHANG)) > 0)
				if (r == init) {
					status = st;
					done = 1;
				}
		}
	}
	if (raw)
		tcsetattr(0, TCSANOW, &saved);
	close(master);
	return status;
}

/* ---------- the step interpreter ---------- */

/* ---------- user namespaces for idmapped mounts, loopback ---------- */

#define FD_SLOTS 64
static int fd_slots[FD_SLOTS] = { [0 ... FD_SLOTS - 1] = -1 };

static int slot_index(int64_t slot)
{
	if (slot < 0 || slot >= FD_SLOTS)
		fail(EINVAL, "fd slot %lld out of range", (long long)slot);
	return (int)slot;
}

static int slot_fd(int64_t slot)
{
	int fd = fd_slots[slot_index(slot)];
	if (fd < 0)
		fail(EBADF, "fd slot %lld is empty", (long long)slot);
	return fd;
}

/* A user namespace with the given maps, held by a child that waits on a pipe
 * until we have its fd (runc and crun do the same for idmapped mounts). */
static int userns_with_maps(const char *uid_map, size_t uid_len, const char *gid_map, size_t gid_len)
{
	int hold[2];
	if (pipe2(hold, O_CLOEXEC) < 0)
		fail(errno, "pipe");
	pid_t pid = (pid_t)syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | SIGCHLD), NULL, NULL, NULL, NULL);
	if (pid < 0)
		fail(errno, "clone a user namespace for an idmapped mount");
	if (pid == 0) {
		char c;
		close(hold[1]);
		while (read(hold[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(hold[0]);
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/uid_map", pid);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	int err = 0;
	if (fd < 0 || write(fd, uid_map, uid_len) != (ssize_t)uid_len)
		err = errno;
	if (fd >= 0)
		close(fd);
	if (!err) {
		snprintf(path, sizeof path, "/proc/%d/gid_map", pid);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, gid_map, gid_len) != (ssize_t)gid_len)
			err = errno;
		if (fd >= 0)
			close(fd);
	}
	int ns = -1;
	if (!err) {
		snprintf(path, sizeof path, "/proc/%d/ns/user", pid);
		ns = open(path, O_RDONLY | O_CLOEXEC);
		if (ns < 0)
			err = errno;
	}
	close(hold[1]);
	waitpid(pid, NULL, 0);
	if (err)
		fail(err, "write the maps of an idmapped mount's user namespace");
	return ns;
}

static void loopback_up(void)
{
	int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		fail(errno, "socket for loopback");
	struct ifreq ifr = { 0 };
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
	if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0)
		fail(errno, "get flags of lo");
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0)
		fail(errno, "bring lo up");
	close(sock);
}

static int connect_unix(const char *path, uint32_t len, const char *what)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (len >= sizeof addr.sun_path)
		fail(ENAMETOOLONG, "%s %s", what, path);
	memcpy(addr.sun_path, path, len);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0)
		fail(errno, "connect to %s %s", what, path);
	return fd;
}

/* SCMP_ACT_NOTIFY: the filter is active, so only sendmsg and close may follow
 * (the compiler refuses NOTIFY for them): send the container process state with
 * the listener fd as SCM_RIGHTS, as the runtime spec says, and drop both. */
static void hand_over_listener(int notify_fd)
{
	if (listener_fd < 0 || !listener_state)
		fail(EINVAL, "the seccomp filter returned a listener but the plan has no listener socket");
	char cbuf[CMSG_SPACE(sizeof(int))];
	memset(cbuf, 0, sizeof cbuf);
	struct iovec iov = { .iov_base = listener_state, .iov_len = listener_state_len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &notify_fd, sizeof(int));
	if (sendmsg(listener_fd, &msg, MSG_NOSIGNAL) != (ssize_t)listener_state_len)
		fail(errno, "send the seccomp notify fd to the listener");
	close(notify_fd);
	close(listener_fd);
	listener_fd = -1;
}

/* ---------- Landlock ---------- */

#define LL_EXECUTE (1ULL << 0)
#define LL_WRITE_FILE (1ULL << 1)
#define LL_READ_FILE (1ULL << 2)
#define LL_TRUNCATE (1ULL << 14)
#define LL_IOCTL_DEV (1ULL << 15)
/* the rights that apply to a file (the others only to directories) */
#define LL_FILE_RIGHTS (LL_EXECUTE | LL_WRITE_FILE | LL_READ_FILE | LL_TRUNCATE | LL_IOCTL_DEV)

/* The filesystem rights a Landlock ABI version knows. */
static uint64_t landlock_abi_rights(long abi)
{
	uint64_t r = 0;
	if (abi >= 1)
		r = (1ULL << 13) - 1; /* execute .. make_sym */
	if (abi >= 2)
		r |= 1ULL << 13; /* refer */
	if (abi >= 3)
		r |= LL_TRUNCATE;
	if (abi >= 5)
		r |= LL_IOCTL_DEV;
	return r;
}

/* A ruleset handling the plan's rights that this kernel's ABI knows (best effort, as
 * Landlock's documentation recommends); the kernel must have Landlock at all. */
static void landlock_ruleset(uint64_t handled)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 0)
		fail(errno, "Landlock is not available in this kernel");
	landlock_handled = handled & landlock_abi_rights(abi);
	if (!landlock_handled)
		fail(EINVAL, "Landlock ABI %ld knows none of the handled rights %#llx", abi, (unsigned long long)handled);
	uint64_t attr = landlock_handled; /* struct landlock_ruleset_attr's first field: handled_access_fs */
	landlock_fd = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
	if (landlock_fd < 0)
		fail(errno, "landlock_create_ruleset");
}

static void landlock_rule(const char *path, uint64_t access)
{
	if (landlock_fd < 0)
		fail(EINVAL, "Landlock rule %s before a ruleset", path);
	int fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		fail(errno, "Landlock rule: open %s", path);
	struct stat sb;
	if (fstat(fd, &sb) < 0)
		fail(errno, "Landlock rule: stat %s", path);
	access &= landlock_handled;
	if (!S_ISDIR(sb.st_mode))
		access &= LL_FILE_RIGHTS;
	if (access) {
		struct landlock_path_beneath_attr pb = { .allowed_access = access, .parent_fd = fd };
		if (syscall(SYS_landlock_add_rule, landlock_fd, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0)
			fail(errno, "Landlock rule for %s", path);
	}
	close(fd);
}

static int ns_open(const struct step *st)
{
	int fd = open(S(st, 0), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail(errno, "open namespace %s", S(st, 0));
	return fd;
}

/* setns(fd, nstype of the step), then close fd */
static void ns_join(const struct step *st, int fd)
{
	if (setns(fd, (int)N(st, 1)) < 0)
		fail(errno, "setns %s", S(st, 0));
	close(fd);
}

/* keeps an opened namespace file for SETNS_PENDING */
static void ns_keep(const struct step *st, int fd)
{
	if (setns_npending == (int)(sizeof setns_pending / sizeof setns_pending[0]))
		fail(E2BIG, "setns %s: too many namespaces to join", S(st, 0));
	setns_pending[setns_npending] = st;
	setns_pending_fd[setns_npending++] = fd;
}

static void run_step(const struct step *st)
{
	char target[64];
	switch (st->tag) {
	case STEP_JOIN_CGROUP:
		/* "0" is the calling thread: no threadgroup lock, so no RCU grace period (the
		 * launcher is single-threaded, so this moves the whole process) */
		write_file(S(st, 0), "0", 1, 0);
		break;
	case STEP_PARENT_ON_REQUEST:
		parent_on_request = 1;
		break;
	case STEP_REQUEST_PARENT: {
		/* stage 1: stage 0 writes the maps of the user namespace we just made */
		if (send_msg(chan_fd, MSG_RUN_PARENT, NULL, 0) < 0)
			fail(errno, "ask stage 0 for the id maps");
		uint32_t type;
		char *payload;
		if (recv_msg(chan_fd, &type, &payload, NULL) < 0 || type != MSG_ACK)
			_exit(1); /* stage 0 failed (and reported) */
		free(payload);
		break;
	}
	case STEP_CLONE_INTO_CGROUP:
		clone_cgroup_fd = open(S(st, 0), O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (clone_cgroup_fd < 0)
			fail(errno, "open cgroup %s", S(st, 0));
		clone_cgroup_dir = S(st, 0);
		break;
	case STEP_SETNS:
		ns_join(st, ns_open(st));
		break;
	case STEP_SETNS_LENIENT: {
		/* runc's first pass: join what our privileges allow now; a namespace owned by the
		 * user namespace joined next waits for SETNS_PENDING, its file kept open meanwhile */
		int fd = ns_open(st);
		if (setns(fd, (int)N(st, 1)) == 0) {
			close(fd);
			break;
		}
		if (errno != EPERM)
			fail(errno, "setns %s", S(st, 0));
		ns_keep(st, fd);
		break;
	}
	case STEP_SETNS_DEFER:
		/* open now, while the path still means what it says; join in SETNS_PENDING */
		ns_keep(st, ns_open(st));
		break;
	case STEP_SETNS_PENDING:
		for (int i = 0; i < setns_npending; i++)
			ns_join(setns_pending[i], setns_pending_fd[i]);
		setns_npending = 0;
		break;
	case STEP_WRITE_FILE:
		write_file(S(st, 0), S(st, 1), st->args[1].len, 0);
		break;
	case STEP_WRITE_FILE_OPTIONAL:
		write_file(S(st, 0), S(st, 1), st->args[1].len, 1);
		break;
	case STEP_MKFIFO:
		unlink(S(st, 0));
		if (mkfifo(S(st, 0), (mode_t)N(st, 1)) < 0)
			fail(errno, "mkfifo %s", S(st, 0));
		if (chmod(S(st, 0), (mode_t)N(st, 1)) < 0) /* exact mode, whatever the umask */
			fail(errno, "chmod %s", S(st, 0));
		break;
	case STEP_OPEN_EXEC_FIFO:
		fifo_fd = open(S(st, 0), O_PATH | O_CLOEXEC);
		if (fifo_fd < 0)
			fail(errno, "open exec fifo %s", S(st, 0));
		break;
	case STEP_WRITE_CHILD_FILE: {
		char path[64];
		snprintf(path, sizeof path, "/proc/%d/%s", child_pid, S(st, 0));
		write_file(path, S(st, 1), st->args[1].len, 0);
		break;
	}
	case STEP_RUN_CHILD_HELPER: {
		char **argv = calloc(st->nargs + 1, sizeof *argv);
		char pid[24];
		snprintf(pid, sizeof pid, "%d", child_pid);
		for (uint32_t i = 0; i < st->nargs; i++)
			argv[i] = strcmp(S(st, i), "{pid}") == 0 ? pid : st->args[i].bytes;
		pid_t h = fork();
		if (h < 0)
			fail(errno, "fork %s", argv[0]);
		if (h == 0) {
			execvp(argv[0], argv);
			dprintf(2, "isola-launcher: exec %s: %s\n", argv[0], strerror(errno));
			_exit(127);
		}
		int status = wait_timeout(h, 0);
		if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fail(0, "%s failed (status %d)", argv[0], status);
		free(argv);
		break;
	}
	case STEP_UNSHARE:
		if (unshare((int)N(st, 0)) < 0)
			fail(errno, "unshare %#llx", (unsigned long long)N(st, 0));
		break;
	case STEP_SETSID:
		if (setsid() < 0)
			fail(errno, "setsid");
		break;
	case STEP_MOUNT: {
		const char *src = S(st, 0), *fstype = S(st, 2), *data = S(st, 4);
		if (mount(*src ? src : NULL, S(st, 1), *fstype ? fstype : NULL, (unsigned long)N(st, 3), *data ? data : NULL) < 0)
			fail(errno, "mount %s on %s", *src ? src : fstype, S(st, 1));
		break;
	}
	case STEP_MOUNT_IN_ROOT: {
		const char *src = S(st, 1), *fstype = S(st, 3), *data = S(st, 5);
		int fd = resolve_in_root(S(st, 0), S(st, 2), (int)N(st, 6));
		fd_path(fd, target, sizeof target);
		if (mount(*src ? src : NULL, target, *fstype ? fstype : NULL, (unsigned long)N(st, 4), *data ? data : NULL) < 0)
			fail(errno, "mount %s on %s", *src ? src : fstype, S(st, 2));
		close(fd);
		break;
	}
	case STEP_MOUNT_OR_BIND_IN_ROOT: {
		const char *src = S(st, 1), *fstype = S(st, 3), *data = S(st, 5), *bind = S(st, 7);
		unsigned long flags = (unsigned long)N(st, 4);
		int fd = resolve_in_root(S(st, 0), S(st, 2), (int)N(st, 6));
		fd_path(fd, target, sizeof target);
		if (mount(*src ? src : NULL, target, *fstype ? fstype : NULL, flags, *data ? data : NULL) < 0) {
			if (errno != EPERM)
				fail(errno, "mount %s on %s", *src ? src : fstype, S(st, 2));
			if (mount(bind, target, NULL, MS_BIND | MS_REC, NULL) < 0)
				fail(errno, "mount %s refused; bind %s on %s", fstype, bind, S(st, 2));
			if (flags & ~(unsigned long)MS_REC) {
				/* resolve again: the fd still names the directory under the new mount */
				close(fd);
				fd = resolve_in_root(S(st, 0), S(st, 2), CREATE_NONE);
				fd_path(fd, target, sizeof target);
				/* keeping the flags the kernel locked on the host's mount (a user namespace) */
				if (remount_keep_locked(target, MS_BIND | MS_REMOUNT | (flags & ~(unsigned long)MS_REC), NULL) < 0)
					fail(errno, "remount %s (bound from %s)", S(st, 2), bind);
			}
		}
		close(fd);
		break;
	}
	case STEP_MOUNT_COPYUP_IN_ROOT: {
		const char *src = S(st, 1), *fstype = S(st, 3), *data = S(st, 5);
		int fd = resolve_in_root(S(st, 0), S(st, 2), (int)N(st, 6));
		fd_path(fd, target, sizeof target);
		/* the directory the mount is about to cover stays readable through this fd */
		int under = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (under < 0)
			fail(errno, "tmpcopyup %s: open", S(st, 2));
		if (mount(*src ? src : NULL, target, *fstype ? fstype : NULL, (unsigned long)N(st, 4), *data ? data : NULL) < 0)
			fail(errno, "mount %s on %s", *src ? src : fstype, S(st, 2));
		close(fd);
		/* reopen: the destination now resolves to the new mount's root */
		fd = resolve_in_root(S(st, 0), S(st, 2), CREATE_NONE);
		fd_path(fd, target, sizeof target);
		int top = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (top < 0)
			fail(errno, "tmpcopyup %s: open the new mount", S(st, 2));
		copy_up(under, top, data, S(st, 2));
		close(top);
		close(under);
		close(fd);
		break;
	}
	case STEP_REMOUNT_IN_ROOT: {
		/* reopen after the mount so the fd refers to the new mount's root */
		int fd = resolve_in_root(S(st, 0), S(st, 1), CREATE_NONE);
		const char *data = S(st, 3);
		unsigned long flags = (unsigned long)N(st, 2);
		fd_path(fd, target, sizeof target);
		int r = (flags & MS_REMOUNT) ? remount_keep_locked(target, flags, *data ? data : NULL)
					      : mount(NULL, target, NULL, flags, *data ? data : NULL);
		if (r < 0)
			fail(errno, "remount %s", S(st, 1));
		close(fd);
		break;
	}
	case STEP_MKNOD_IN_ROOT: {
		const char *dest = S(st, 1);
		const char *slash = strrchr(dest, '/');
		char parent[PATH_MAX];
		snprintf(parent, sizeof parent, "%.*s", slash ? (int)(slash - dest) : 0, dest);
		int dirfd = resolve_in_root(S(st, 0), parent[0] ? parent : "/", CREATE_DIR);
		const char *name = slash ? slash + 1 : dest;
		mode_t mode = (mode_t)N(st, 2);
		dev_t dev = makedev((unsigned)N(st, 3), (unsigned)N(st, 4));
		unlinkat(dirfd, name, 0);
		if (mknodat(dirfd, name, mode, dev) < 0)
			fail(errno, "mknod %s", dest);
		if (fchownat(dirfd, name, (uid_t)N(st, 5), (gid_t)N(st, 6), AT_SYMLINK_NOFOLLOW) < 0)
			fail(errno, "chown %s", dest);
		/* mknod applies the umask; the spec's mode is exact */
		if (fchmodat(dirfd, name, mode & 07777, 0) < 0)
			fail(errno, "chmod %s", dest);
		close(dirfd);
		break;
	}
	case STEP_SYMLINK_IN_ROOT: {
		const char *link = S(st, 2);
		const char *slash = strrchr(link, '/');
		char parent[PATH_MAX];
		snprintf(parent, sizeof parent, "%.*s", slash ? (int)(slash - link) : 0, link);
		int dirfd = resolve_in_root(S(st, 0), parent[0] ? parent : "/", CREATE_DIR);
		if (symlinkat(S(st, 1), dirfd, slash ? slash + 1 : link) < 0 && errno != EEXIST)
			fail(errno, "symlink %s -> %s", link, S(st, 1));
		close(dirfd);
		break;
	}
	case STEP_MKDIR_IN_ROOT:
		close(resolve_in_root(S(st, 0), S(st, 1), CREATE_DIR));
		break;
	case STEP_PIVOT_ROOT:
		pivot_root_to(S(st, 0));
		break;
	case STEP_MOVE_ROOT:
		move_root_to(S(st, 0));
		break;
	case STEP_MASK_PATH:
		mask_path(S(st, 0));
		break;
	case STEP_READONLY_PATH:
		readonly_path(S(st, 0));
		break;
	case STEP_SETHOSTNAME:
		if (sethostname(S(st, 0), st->args[0].len) < 0)
			fail(errno, "sethostname %s", S(st, 0));
		break;
	case STEP_SETDOMAINNAME:
		if (setdomainname(S(st, 0), st->args[0].len) < 0)
			fail(errno, "setdomainname %s", S(st, 0));
		break;
	case STEP_SYNC:
		sync_with_runtime(MSG_SYNC, S(st, 0));
		break;
	case STEP_RUN_HOOK:
		run_hook(st);
		break;
	case STEP_RLIMIT: {
		struct rlimit rl = { (rlim_t)N(st, 1), (rlim_t)N(st, 2) };
		if (setrlimit((int)N(st, 0), &rl) < 0)
			fail(errno, "setrlimit %lld", (long long)N(st, 0));
		break;
	}
	case STEP_UMASK:
		umask((mode_t)N(st, 0));
		break;
	case STEP_CHDIR: {
		/* resolved in the root without magic links: a cwd like /proc/self/fd/N can't
		 * lead to a directory fd from the host (CVE-2024-21626) */
		int fd = N(st, 1) ? resolve_in_root("/", S(st, 0), CREATE_DIR) : -1;
		if (fd < 0) {
			int rootfd = open_root("/");
			fd = open_in_root_flags(rootfd, S(st, 0), O_PATH | O_DIRECTORY);
			if (fd < 0)
				fail(errno, "chdir %s", S(st, 0));
			close(rootfd);
		}
		if (fchdir(fd) < 0)
			fail(errno, "chdir %s", S(st, 0));
		close(fd);
		break;
	}
	case STEP_SESSION_KEYRING:
		session_keyring(S(st, 0));
		break;
	case STEP_SETGROUPS: {
		gid_t *gids = calloc(st->nargs ? st->nargs : 1, sizeof *gids);
		for (uint32_t i = 0; i < st->nargs; i++)
			gids[i] = (gid_t)N(st, i);
		if (setgroups(st->nargs, gids) < 0)
			fail(errno, "setgroups");
		free(gids);
		break;
	}
	case STEP_SETGID:
		if (setresgid((gid_t)N(st, 0), (gid_t)N(st, 0), (gid_t)N(st, 0)) < 0)
			fail(errno, "setgid %lld", (long long)N(st, 0));
		break;
	case STEP_SETUID:
		if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
			fail(errno, "keep capabilities");
		if (setresuid((uid_t)N(st, 0), (uid_t)N(st, 0), (uid_t)N(st, 0)) < 0)
			fail(errno, "setuid %lld", (long long)N(st, 0));
		break;
	case STEP_CAPS_BOUNDING: {
		uint64_t keep = (uint64_t)N(st, 0);
		for (int c = 0; c <= cap_last(); c++)
			if (!((keep >> c) & 1) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
				fail(errno, "drop capability %d from the bounding set", c);
		break;
	}
	case STEP_CAPS:
		apply_caps(st);
		break;
	case STEP_NO_NEW_PRIVS:
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			fail(errno, "no_new_privs");
		break;
	case STEP_SECCOMP: {
		struct sock_fprog prog = {
			.len = (unsigned short)(st->args[1].len / sizeof(struct sock_filter)),
			.filter = (struct sock_filter *)(void *)S(st, 1),
		};
		long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, (unsigned)N(st, 0), &prog);
		if (r < 0)
			fail(errno, "install seccomp filter");
		if ((unsigned)N(st, 0) & SECCOMP_FILTER_FLAG_NEW_LISTENER)
			hand_over_listener((int)r);
		break;
	}
	case STEP_SECCOMP_LISTENER_CONNECT:
		listener_fd = connect_unix(S(st, 0), st->args[0].len, "seccomp listener socket");
		break;
	case STEP_SECCOMP_LISTENER_STATE: {
		/* the reply is the listener's, not the hooks' state */
		char *saved = hook_state;
		uint32_t saved_len = hook_state_len;
		hook_state = NULL;
		sync_with_runtime(MSG_SYNC, S(st, 0));
		free(listener_state);
		listener_state = hook_state;
		listener_state_len = hook_state_len;
		hook_state = saved;
		hook_state_len = saved_len;
		break;
	}
	case STEP_LANDLOCK_RULESET:
		landlock_ruleset((uint64_t)N(st, 0));
		break;
	case STEP_LANDLOCK_RULE:
		landlock_rule(S(st, 0), (uint64_t)N(st, 1));
		break;
	case STEP_LANDLOCK_RESTRICT:
		if (landlock_fd < 0)
			fail(EINVAL, "no Landlock ruleset to apply");
		if (syscall(SYS_landlock_restrict_self, landlock_fd, 0) < 0)
			fail(errno, "apply the Landlock ruleset (landlock_restrict_self)");
		close(landlock_fd);
		landlock_fd = -1;
		break;
	case STEP_CLOSE_FDS_FROM:
		if (syscall(SYS_close_range, (unsigned)N(st, 0), ~0U, CLOSE_RANGE_CLOEXEC) < 0)
			fail(errno, "mark fds close-on-exec");
		break;
	case STEP_LOOKUP_EXEC:
		lookup_exec(S(st, 0), S(st, 1));
		break;
	case STEP_READY:
		if (fifo_fd >= 0) {
			/* a create's init: it will wait on the exec fifo (see wait_exec_fifo) */
			sigset_t ending;
			ending_set(&ending);
			sigprocmask(SIG_BLOCK, &ending, &ready_mask);
			ready_blocked = 1;
		}
		sync_with_runtime(MSG_READY, "");
		close(chan_fd);
		chan_fd = -1;
		break;
	case STEP_WAIT_EXEC_FIFO:
		wait_exec_fifo();
		break;
	case STEP_EXEC_FIFO_RELEASE: {
		int fd = fifo_wfd;
		fifo_wfd = -1;
		if (fd < 0)
			fail(EBADF, "exec fifo not open");
		if (write(fd, "0", 1) != 1)
			fail(errno, "write exec fifo");
		close(fd);
		break;
	}
	case STEP_HOOK_STATE: {
		/* the sync reply holds one state per hook kind, NUL-separated */
		int64_t want = N(st, 0);
		hook_part = NULL;
		hook_part_len = 0;
		const char *p = hook_state, *end = hook_state ? hook_state + hook_state_len : NULL;
		for (int64_t i = 0; p && p <= end; i++) {
			const char *nul = memchr(p, 0, (size_t)(end - p));
			const char *stop = nul ? nul : end;
			if (i == want) {
				hook_part = p;
				hook_part_len = (uint32_t)(stop - p);
				break;
			}
			if (!nul)
				break;
			p = nul + 1;
		}
		if (!hook_part)
			fail(EINVAL, "hook state %lld missing from the sync reply", (long long)want);
		break;
	}
	case STEP_EXEC:
		do_exec(st);
		break;
	case STEP_CONSOLE_CONNECT:
		console_fd = connect_unix(S(st, 0), st->args[0].len, "console socket");
		break;
	case STEP_CONSOLE_PAIR: {
		int sp[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
			fail(errno, "socketpair for the terminal");
		relay_fd = sp[0];
		console_fd = sp[1];
		break;
	}
	case STEP_CONSOLE_SETUP:
		console_setup(N(st, 0), N(st, 1));
		break;
	case STEP_LOOPBACK_UP:
		loopback_up();
		break;
	case STEP_USERNS_FD: {
		int i = slot_index(N(st, 0));
		fd_slots[i] = userns_with_maps(S(st, 1), st->args[1].len, S(st, 2), st->args[2].len);
		break;
	}
	case STEP_OPEN_TREE: {
		int i = slot_index(N(st, 0));
		unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (N(st, 2) ? AT_RECURSIVE : 0);
		int fd = (int)syscall(SYS_open_tree, AT_FDCWD, S(st, 1), flags);
		if (fd < 0)
			fail(errno, "open_tree %s", S(st, 1));
		fd_slots[i] = fd;
		break;
	}
	case STEP_SETATTR_IN_ROOT: {
		int fd = resolve_in_root(S(st, 0), S(st, 1), CREATE_NONE);
		tree_setattr(fd, (uint64_t)N(st, 2), (uint64_t)N(st, 3), 1, 0, "recursive mount options", S(st, 1));
		close(fd);
		break;
	}
	case STEP_IDMAP_TREE: {
		struct mount_attr attr = { 0 };
		attr.attr_set = MOUNT_ATTR_IDMAP;
		attr.userns_fd = (uint64_t)slot_fd(N(st, 1));
		if (syscall(SYS_mount_setattr, slot_fd(N(st, 0)), "", AT_EMPTY_PATH | (N(st, 2) ? AT_RECURSIVE : 0), &attr, sizeof attr) < 0)
			fail(errno, "idmap the mount (mount_setattr)");
		break;
	}
	case STEP_ATTACH_TREE_IN_ROOT: {
		/* A bind made detached: its flags are set while nothing in the container can
		 * reach it, it is attached to the destination resolved inside root, and its
		 * propagation is changed through our own fd to it. No step looks the
		 * destination up by path after the mount (CVE-2021-30465: a swapped
		 * destination would send a remount to another mount). */
		int64_t slot = N(st, 1);
		int tree;
		if (slot >= 0) {
			tree = slot_fd(slot);
			fd_slots[slot_index(slot)] = -1;
		} else {
			unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (N(st, 4) ? AT_RECURSIVE : 0);
			tree = (int)syscall(SYS_open_tree, AT_FDCWD, S(st, 2), flags);
			if (tree < 0)
				fail(errno, "bind %s (open_tree)", S(st, 2));
		}
		tree_setattr(tree, (uint64_t)N(st, 6), (uint64_t)N(st, 7), 0, 1, "mount options", S(st, 3));
		tree_setattr(tree, (uint64_t)N(st, 8), (uint64_t)N(st, 9), 1, 0, "recursive mount options", S(st, 3));
		int fd = resolve_in_root(S(st, 0), S(st, 3), (int)N(st, 5));
		tree_attach(tree, fd, st, 10, S(st, 3));
		close(fd);
		close(tree);
		break;
	}
	case STEP_FS_IN_ROOT: {
		/* A new filesystem made detached (fsopen, fsconfig, fsmount): filled
		 * (tmpcopyup) and flagged while nothing in the container can reach it,
		 * attached at the directory resolved inside root, propagated through its
		 * own fd: nothing looks the destination up again after the mount. */
		const char *source = S(st, 1), *dest = S(st, 2), *fstype = S(st, 3), *data = S(st, 8);
		char msg[512];
		int fd = resolve_in_root(S(st, 0), dest, (int)N(st, 4));
		int fsfd = (int)syscall(SYS_fsopen, fstype, FSOPEN_CLOEXEC);
		if (fsfd < 0)
			fail(errno, "mount %s on %s (fsopen)", fstype, dest);
		if (*source && syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, "source", source, 0) < 0) {
			int err = errno;
			fail(err, "mount %s on %s: source%s", fstype, dest, fs_context_message(fsfd, msg, sizeof msg));
		}
		fs_configure(fsfd, data, dest);
		if (syscall(SYS_fsconfig, fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
			int err = errno;
			fail(err, "mount %s on %s%s", fstype, dest, fs_context_message(fsfd, msg, sizeof msg));
		}
		int mfd = (int)syscall(SYS_fsmount, fsfd, FSMOUNT_CLOEXEC, 0);
		if (mfd < 0)
			fail(errno, "mount %s on %s (fsmount)", fstype, dest);
		close(fsfd);
		if (N(st, 7)) {
			/* tmpcopyup: what the destination holds, into the new filesystem */
			fd_path(fd, target, sizeof target);
			int under = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			int top = openat(mfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (under < 0 || top < 0)
				fail(errno, "tmpcopyup %s: open", dest);
			copy_up(under, top, data, dest);
			close(top);
			close(under);
		}
		tree_setattr(mfd, (uint64_t)N(st, 5), (uint64_t)N(st, 6), 0, 0, "mount options", dest);
		tree_setattr(mfd, (uint64_t)N(st, 9), (uint64_t)N(st, 10), 1, 0, "recursive mount options", dest);
		tree_attach(mfd, fd, st, 11, dest);
		close(fd);
		close(mfd);
		break;
	}
	case STEP_MOVE_MOUNT_IN_ROOT: {
		int fd = resolve_in_root(S(st, 0), S(st, 2), (int)N(st, 3));
		if (syscall(SYS_move_mount, slot_fd(N(st, 1)), "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
			fail(errno, "move the idmapped mount onto %s", S(st, 2));
		close(fd);
		close(fd_slots[N(st, 1)]);
		fd_slots[N(st, 1)] = -1;
		break;
	}
	case STEP_PDEATHSIG:
		if (prctl(PR_SET_PDEATHSIG, (int)N(st, 0), 0, 0, 0) < 0)
			fail(errno, "pdeathsig");
		break;
	case STEP_DUMPABLE:
		if (prctl(PR_SET_DUMPABLE, (int)N(st, 0), 0, 0, 0) < 0)
			fail(errno, "set dumpable");
		break;
	default:
		fail(EINVAL, "unknown step %u", st->tag);
	}
}

static void run_section(int s)
{
	cur_section = s;
	for (uint32_t i = 0; i < sections[s].nsteps; i++) {
		cur_index = (int)i;
		run_step(&sections[s].steps[i]);
	}
	cur_index = -1;
}

/* ---------- stage 0: relay and (foreground) wait ---------- */

static void kill_children(void)
{
	if (init_pid > 0)
		kill(init_pid, SIGKILL);
	if (child_pid > 0)
		kill(child_pid, SIGKILL);
}

/* Reads one runtime message; returns its type (MSG_ABORT on EOF). */
static uint32_t runtime_reply(char **payload, uint32_t *len)
{
	uint32_t type;
	if (recv_msg(sync_fd, &type, payload, len) < 0) {
		*payload = NULL;
		*len = 0;
		return MSG_ABORT;
	}
	return type;
}

static int relay(int foreground)
{
	for (;;) {
		uint32_t type, len;
		char *payload;
		if (recv_msg(chan_fd, &type, &payload, &len) < 0) {
			/* every child end closed before READY: stage 1 or 2 died */
			int status = 0;
			pid_t who = init_pid > 0 ? init_pid : child_pid;
			if (who > 0)
				waitpid(who, &status, WNOHANG);
			cur_section = SECTION_INIT;
			cur_index = -1;
			if (WIFSIGNALED(status))
				fail(0, "container init was killed by signal %d during set-up", WTERMSIG(status));
			fail(0, "container init exited during set-up");
		}
		switch (type) {
		case MSG_PID:
			init_pid = atoi(payload);
			waitpid(child_pid, NULL, 0); /* stage 1 exits after reporting */
			child_pid = -1;
			send_msg(sync_fd, MSG_PID, payload, len);
			break;
		case MSG_RUN_PARENT:
			run_section(SECTION_PARENT);
			if (send_msg(chan_fd, MSG_ACK, NULL, 0) < 0)
				fail(errno, "resume stage 1");
			break;
		case MSG_ERROR:
			send_msg(sync_fd, MSG_ERROR, payload, len);
			kill_children();
			_exit(1);
		case MSG_SYNC:
		case MSG_READY: {
			if (send_msg(sync_fd, type, payload, len) < 0) {
				kill_children();
				_exit(1);
			}
			char *reply;
			uint32_t rlen;
			uint32_t rtype = runtime_reply(&reply, &rlen);
			if (rtype == MSG_ABORT) {
				kill_children();
				_exit(1);
			}
			send_msg(chan_fd, rtype, reply, rlen);
			free(reply);
			if (type == MSG_READY) {
				free(payload);
				if (!foreground)
					return 0;
				/* foreground: wait for the init (relaying its terminal) and report how it ended */
				int status = 0;
				int master = relay_fd >= 0 ? recv_fd(relay_fd) : -1;
				if (master >= 0) {
					status = relay_terminal(master, init_pid);
				} else {
					for (;;) {
						pid_t r = waitpid(-1, &status, 0);
						if (r == init_pid)
							break;
						if (r < 0 && errno == ECHILD)
							return 1;
					}
				}
				char buf[24];
				int n = snprintf(buf, sizeof buf, "%d", status);
				send_msg(sync_fd, MSG_EXIT, buf, (uint32_t)n);
				if (WIFEXITED(status))
					return WEXITSTATUS(status);
				return 128 + WTERMSIG(status);
			}
			break;
		}
		default:
			break;
		}
		free(payload);
	}
}

/* ---------- CVE-2019-5736: run from a sealed memfd ---------- */

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif
#define REQUIRED_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

/* A process in the container can reach the launcher's binary through
 * /proc/<init>/exe while the init is still the launcher (before its execve),
 * and could reopen it for writing once that execve lifts the kernel's
 * write-deny (runc's CVE-2019-5736). So before anything else the launcher
 * copies itself into a memfd, seals it against every change and re-executes
 * from it: what the container can reach is then a sealed anonymous copy, never
 * the file on the host. Whether we already run from such a copy is read from
 * the kernel (the seals of /proc/self/exe), not from anything a caller could
 * set. Returns only when already sealed; exits on failure (never runs
 * unsealed). */
static void reexec_from_sealed_memfd(char **argv)
{
	int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (self < 0) {
		dprintf(2, "isola-launcher: open /proc/self/exe: %s\n", strerror(errno));
		_exit(1);
	}
	int seals = fcntl(self, F_GET_SEALS);
	if (seals >= 0 && (seals & REQUIRED_SEALS) == REQUIRED_SEALS) {
		close(self);
		return;
	}
	int mfd = memfd_create("isola-launcher", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
	if (mfd < 0 && errno == EINVAL) /* kernels before 6.3 know no MFD_EXEC */
		mfd = memfd_create("isola-launcher", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0) {
		dprintf(2, "isola-launcher: memfd_create: %s\n", strerror(errno));
		_exit(1);
	}
	struct stat st;
	if (fstat(self, &st) < 0 || ftruncate(mfd, st.st_size) < 0) {
		dprintf(2, "isola-launcher: size the memfd copy: %s\n", strerror(errno));
		_exit(1);
	}
	off_t off = 0;
	while (off < st.st_size) {
		ssize_t n = sendfile(mfd, self, &off, (size_t)(st.st_size - off));
		if (n <= 0) {
			dprintf(2, "isola-launcher: copy /proc/self/exe into a memfd: %s\n", n < 0 ? strerror(errno) : "short file");
			_exit(1);
		}
	}
	close(self);
	fcntl(mfd, F_ADD_SEALS, F_SEAL_EXEC); /* also no chmod, where the kernel has it (6.3); before F_SEAL_SEAL */
	if (fcntl(mfd, F_ADD_SEALS, REQUIRED_SEALS) < 0) {
		dprintf(2, "isola-launcher: seal the memfd copy: %s\n", strerror(errno));
		_exit(1);
	}
	extern char **environ;
	fexecve(mfd, argv, environ);
	dprintf(2, "isola-launcher: exec the sealed memfd copy: %s\n", strerror(errno));
	_exit(1);
}

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

/* struct clone_args of clone3(2), up to the cgroup field (CLONE_ARGS_SIZE_VER2) */
struct clone3_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

/* Stage 1 like fork(2), with the namespaces to create; with a CLONE_INTO_CGROUP target it is
 * born in that cgroup (no cgroup.procs write, so no wait for an RCU grace period). Where
 * clone3 refuses, the child is moved by a write instead. */
static pid_t clone_stage1(void)
{
	if (clone_cgroup_fd >= 0) {
		struct clone3_args args = { 0 };
		args.flags = clone_flags | CLONE_INTO_CGROUP;
		args.exit_signal = SIGCHLD;
		args.cgroup = (uint64_t)clone_cgroup_fd;
		pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
		if (pid >= 0)
			return pid;
		/* ENOSYS/E2BIG (an older kernel), EPERM (a seccomp profile that denies clone3, as
		 * Docker's did before 20.10.10), EBUSY...: as runc, clone plainly and move the
		 * child; the write reports what is really wrong, if anything is */
	}
	pid_t pid = (pid_t)syscall(SYS_clone, (unsigned long)(clone_flags | SIGCHLD), NULL, NULL, NULL, NULL);
	if (pid > 0 && clone_cgroup_fd >= 0) {
		/* the child waits for stage 0's ACK before it does anything */
		char path[PATH_MAX], num[24];
		snprintf(path, sizeof path, "%s/cgroup.procs", clone_cgroup_dir);
		int n = snprintf(num, sizeof num, "%d", pid);
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, num, (size_t)n) != n) {
			int e = errno;
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			errno = e;
			fail(errno, "move stage 1 into %s", path);
		}
		close(fd);
	}
	return pid;
}

int main(int argc, char **argv)
{
	reexec_from_sealed_memfd(argv);
	if (argc == 2 && strcmp(argv[1], "--landlock-abi") == 0) {
		/* for `features`: the Landlock ABI the kernel offers (0: none) */
		long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
		printf("%ld\n", abi < 0 ? 0 : abi);
		return 0;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: isola-launcher SYNC_FD [fg]\n(run by isola-runtime, not by hand)\n");
		return 2;
	}
	sync_fd = atoi(argv[1]);
	int foreground = argc > 2 && strcmp(argv[2], "fg") == 0;

	uint32_t total;
	if (read_all(sync_fd, &total, 4) < 0) {
		if (errno == EPIPE)
			return 0; /* started ahead and never given a plan: the create failed first */
		fail(errno, "read launch plan length");
	}
	char *buf = malloc(total ? total : 1);
	if (!buf || read_all(sync_fd, buf, total) < 0)
		fail(errno, "read launch plan");
	plan_buf = buf;
	plan_len = total;
	decode_plan();

	if (foreground) {
		if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
			fail(errno, "become subreaper");
		/* The runtime forwards the signals it receives to the init; the
		 * launcher shares its process group, so it ignores them itself
		 * rather than deliver terminal signals twice. */
		struct sigaction sa = { 0 };
		sa.sa_handler = SIG_IGN;
		for (int s = 1; s < NSIG; s++)
			if (s != SIGKILL && s != SIGSTOP && s != SIGCHLD && s != SIGPIPE && s != SIGWINCH && s < SIGRTMIN)
				sigaction(s, &sa, NULL);
	}

	run_section(SECTION_PRE);

	int sp[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		fail(errno, "socketpair");
	cur_section = SECTION_PRE;
	cur_index = -1;
	pid_t pid = clone_stage1();
	if (pid < 0)
		fail(errno, "clone stage 1 with flags %#llx", (unsigned long long)clone_flags);
	if (clone_cgroup_fd >= 0) {
		/* a host directory: never into the container (CVE-2024-21626) */
		close(clone_cgroup_fd);
		clone_cgroup_fd = -1;
	}
	if (pid == 0) {
		/* stage 1 */
		close(sp[0]);
		close(sync_fd);
		sync_fd = -1;
		chan_fd = sp[1];
		if (relay_fd >= 0) {
			close(relay_fd);
			relay_fd = -1;
		}
		if (foreground) {
			struct sigaction sa = { 0 };
			sa.sa_handler = SIG_DFL;
			for (int s = 1; s < NSIG; s++)
				if (s != SIGKILL && s != SIGSTOP)
					sigaction(s, &sa, NULL);
		}
		uint32_t type;
		char *payload;
		if (recv_msg(chan_fd, &type, &payload, NULL) < 0 || type != MSG_ACK)
			_exit(1);
		free(payload);
		run_section(SECTION_STAGE1);
		/* The init waits until its pid has been reported, so the runtime
		 * always learns the pid before any message from the init. */
		int gate[2];
		if (pipe2(gate, O_CLOEXEC) < 0)
			fail(errno, "pipe");
		pid_t init = fork();
		if (init < 0)
			fail(errno, "fork container init");
		if (init == 0) {
			char c;
			close(gate[1]);
			while (read(gate[0], &c, 1) < 0 && errno == EINTR)
				;
			close(gate[0]);
			run_section(SECTION_INIT);
			cur_section = SECTION_INIT;
			fail(EINVAL, "launch plan ended without EXEC");
		}
		char num[24];
		int n = snprintf(num, sizeof num, "%d", init);
		send_msg(chan_fd, MSG_PID, num, (uint32_t)n);
		_exit(0); /* closes the gate: the init goes on */
	}
	/* stage 0 */
	child_pid = pid;
	close(sp[1]);
	if (console_fd >= 0) {
		close(console_fd); /* the init's end (console socket or relay pair) */
		console_fd = -1;
	}
	if (listener_fd >= 0) {
		close(listener_fd); /* the init's */
		listener_fd = -1;
	}
	chan_fd = sp[0];
	if (!parent_on_request)
		run_section(SECTION_PARENT);
	if (send_msg(chan_fd, MSG_ACK, NULL, 0) < 0)
		fail(errno, "start stage 1");
	/* Messages from stage 1 and 2 arrive on chan; errors from them are relayed. */
	return relay(foreground);
}
