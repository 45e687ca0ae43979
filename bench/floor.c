/*
 * floor: the syscall floor for starting a container.
 *
 * Does only what a container start with full isolation needs, nothing else:
 *   - a cgroup with a memory and a pids limit, under the caller's own cgroup
 *     (cgroup v2 when /sys/fs/cgroup is cgroup2, else the v1 memory and pids hierarchies),
 *     named rcontainer-bench-floor-<pid>[-<tag>];
 *   - clone with new pid, mount, uts, ipc, net namespaces, vfork-style (CLONE_VM|CLONE_VFORK,
 *     as posix_spawn: no copy of the parent's page tables, so a big parent costs nothing extra);
 *     the child joins its cgroup(s) itself, then unshares the cgroup namespace so that its
 *     cgroup is the namespace's root;
 *     with -F instead: fork-style clone3 (v2: CLONE_NEWCGROUP|CLONE_INTO_CGROUP), which copies
 *     the parent's page tables, for comparison;
 *   - make / private, bind the rootfs on itself, mount /proc in it, pivot_root, detach the old root;
 *   - exec /bin/true (or the given command), wait for it, remove the cgroup.
 *
 * usage: floor ROOTFS [-t TAG] [-m MEMORY_BYTES] [-p PIDS] [-F] [-n COUNT -j JSON [-N NAME] [-M MIB]]
 *              [-- CMD ARGS...]
 * Exit status: the command's, or 125 on a setup failure (with a message on stderr).
 * With -n, the floor of the in-process rows: COUNT containers one after the other from this
 * process (after COUNT/20 warmup ones), each timed, written to JSON shaped like hyperfine's
 * export with command name NAME; -M first allocates and touches MIB MiB (the big-parent row).
 * Build: gcc -O2 -o floor floor.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

struct clone_args_v2 {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

#define MAXCG 2
static char cg_dirs[MAXCG][4096];
static int n_cg;

static void die(const char *what)
{
	fprintf(stderr, "floor: %s: %s\n", what, strerror(errno));
	exit(125);
}

static void cleanup_cgroups(void)
{
	for (int i = 0; i < n_cg; i++) {
		/* The exited task leaves its cgroup asynchronously on some kernels: retry on EBUSY. */
		for (int tries = 0; rmdir(cg_dirs[i]) < 0; tries++) {
			if (errno == ENOENT)
				break;
			if (errno != EBUSY || tries > 2000) {
				fprintf(stderr, "floor: rmdir %s: %s\n", cg_dirs[i], strerror(errno));
				break;
			}
			struct timespec ts = {0, 100000};
			nanosleep(&ts, NULL);
		}
	}
	n_cg = 0;
}

static void fail(const char *what)
{
	int e = errno;
	cleanup_cgroups();
	errno = e;
	die(what);
}

static void write_file(const char *dir, const char *name, const char *val)
{
	char p[2 * sizeof cg_dirs[0] + 64];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	int fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, val, strlen(val)) < 0)
		fail(p);
	close(fd);
}

/* The caller's cgroup path for a v1 controller ("memory") or v2 (NULL), from /proc/self/cgroup. */
static int own_cgroup(const char *controller, char *out, size_t outlen)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	if (!f)
		die("/proc/self/cgroup");
	char line[4096];
	int found = 0;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = 0;
		const char *ctrls = c1 + 1, *path = c2 + 1;
		if (controller == NULL) {
			if (*ctrls == 0 && strncmp(line, "0", 1) == 0) {
				snprintf(out, outlen, "%s", path);
				found = 1;
			}
		} else {
			char buf[256];
			snprintf(buf, sizeof buf, "%s", ctrls);
			for (char *s, *tok = strtok_r(buf, ",", &s); tok; tok = strtok_r(NULL, ",", &s))
				if (strcmp(tok, controller) == 0) {
					snprintf(out, outlen, "%s", path);
					found = 1;
				}
		}
	}
	fclose(f);
	return found;
}

static void make_cgroup(const char *mnt, const char *own, const char *name)
{
	char *d = cg_dirs[n_cg];
	snprintf(d, sizeof cg_dirs[0], "%s%s%s/%s", mnt, own[0] == '/' ? "" : "/", strcmp(own, "/") == 0 ? "" : own, name);
	if (mkdir(d, 0755) < 0)
		die(d);
	n_cg++;
}

struct child_args {
	const char *rootfs;
	char **cmd;
	int join_fds[MAXCG]; /* cgroup.procs to write "0" to, then unshare the cgroup namespace */
};

static void child_die(const char *what)
{
	dprintf(2, "floor: %s: %s\n", what, strerror(errno));
	_exit(125);
}

/* The child: pid 1 of its namespaces. Only raw syscalls and _exit (it may share the parent's memory). */
static int child_main(void *arg)
{
	struct child_args *a = arg;
	int joined = 0;
	for (int i = 0; i < MAXCG; i++)
		if (a->join_fds[i] >= 0) {
			if (write(a->join_fds[i], "0", 1) < 0)
				child_die("join cgroup");
			close(a->join_fds[i]);
			joined = 1;
		}
	if (joined && unshare(CLONE_NEWCGROUP) < 0)
		child_die("unshare cgroup");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		child_die("make / private");
	if (mount(a->rootfs, a->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
		child_die("bind rootfs");
	if (chdir(a->rootfs) < 0)
		child_die("chdir rootfs");
	if (mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		child_die("mount /proc");
	if (sethostname("floor", 5) < 0)
		child_die("sethostname");
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		child_die("pivot_root");
	if (umount2(".", MNT_DETACH) < 0)
		child_die("detach old root");
	if (chdir("/") < 0)
		child_die("chdir /");
	execv(a->cmd[0], a->cmd);
	child_die(a->cmd[0]);
	return 125;
}

static int fork_style; /* -F: fork-style clone3 (copies the parent's page tables) */

static int run_once(const char *rootfs, const char *name, const char *mem, const char *pids, char **cmd)
{
	char own[4096];
	static char stack[256 * 1024] __attribute__((aligned(16)));
	struct child_args a = {rootfs, cmd, {-1, -1}};

	struct statfs sfs;
	int v2 = statfs("/sys/fs/cgroup", &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC;
	int cg_fd = -1;
	if (v2) {
		if (!own_cgroup(NULL, own, sizeof own)) {
			errno = ENOENT;
			die("no cgroup2 entry in /proc/self/cgroup");
		}
		make_cgroup("/sys/fs/cgroup", own, name);
		write_file(cg_dirs[0], "memory.max", mem);
		write_file(cg_dirs[0], "pids.max", pids);
	} else {
		static const char *ctrl[MAXCG] = {"memory", "pids"};
		for (int i = 0; i < MAXCG; i++) {
			char mnt[64];
			if (!own_cgroup(ctrl[i], own, sizeof own)) {
				errno = ENOENT;
				fail(ctrl[i]);
			}
			snprintf(mnt, sizeof mnt, "/sys/fs/cgroup/%s", ctrl[i]);
			make_cgroup(mnt, own, name);
			write_file(cg_dirs[i], i == 0 ? "memory.limit_in_bytes" : "pids.max", i == 0 ? mem : pids);
		}
	}
	if (v2 && fork_style) {
		/* clone3 puts the child straight into the cgroup. */
		cg_fd = open(cg_dirs[0], O_DIRECTORY | O_PATH | O_CLOEXEC);
		if (cg_fd < 0)
			fail(cg_dirs[0]);
	} else {
		/* The child joins the cgroup(s) itself, then unshares its cgroup namespace. */
		for (int i = 0; i < n_cg; i++) {
			char p[2 * sizeof cg_dirs[0] + 16];
			snprintf(p, sizeof p, "%s/cgroup.procs", cg_dirs[i]);
			a.join_fds[i] = open(p, O_WRONLY | O_CLOEXEC);
			if (a.join_fds[i] < 0)
				fail(p);
		}
	}

	int ns = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET;
	long pid;
	if (fork_style) {
		struct clone_args_v2 ca;
		memset(&ca, 0, sizeof ca);
		ca.flags = ns;
		if (v2) {
			ca.flags |= CLONE_NEWCGROUP | CLONE_INTO_CGROUP;
			ca.cgroup = (uint64_t)cg_fd;
		}
		ca.exit_signal = SIGCHLD;
		pid = syscall(SYS_clone3, &ca, sizeof ca);
		if (pid == 0)
			_exit(child_main(&a));
	} else {
		/* vfork-style (as posix_spawn): no page table copy, whatever the parent's size; the
		 * parent sleeps until the child has exec'd. */
		pid = clone(child_main, stack + sizeof stack, ns | CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
	}
	if (pid < 0)
		fail(fork_style ? "clone3" : "clone");
	for (int i = 0; i < MAXCG; i++)
		if (a.join_fds[i] >= 0)
			close(a.join_fds[i]);
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			fail("waitpid");
	if (cg_fd >= 0)
		close(cg_fd);
	cleanup_cgroups();
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: floor ROOTFS [-t TAG] [-m MEMORY_BYTES] [-p PIDS] [-F] [-n COUNT -j JSON [-N NAME] [-M MIB]] [-- CMD ARGS...]\n");
		return 125;
	}
	const char *rootfs = argv[1], *tag = NULL, *mem = "67108864", *pids = "64", *json = NULL, *jname = "floor";
	int count = 0;
	long touch_mib = 0;
	char *default_cmd[] = {"/bin/true", NULL};
	char **cmd = default_cmd;
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0 && i + 1 < argc) {
			cmd = &argv[i + 1];
			break;
		} else if (strcmp(argv[i], "-t") == 0 && i + 1 < argc)
			tag = argv[++i];
		else if (strcmp(argv[i], "-m") == 0 && i + 1 < argc)
			mem = argv[++i];
		else if (strcmp(argv[i], "-p") == 0 && i + 1 < argc)
			pids = argv[++i];
		else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
			count = atoi(argv[++i]);
		else if (strcmp(argv[i], "-j") == 0 && i + 1 < argc)
			json = argv[++i];
		else if (strcmp(argv[i], "-N") == 0 && i + 1 < argc)
			jname = argv[++i];
		else if (strcmp(argv[i], "-M") == 0 && i + 1 < argc)
			touch_mib = atol(argv[++i]);
		else if (strcmp(argv[i], "-F") == 0)
			fork_style = 1;
		else {
			fprintf(stderr, "floor: bad argument %s\n", argv[i]);
			return 125;
		}
	}

	char name[256];
	if (tag)
		snprintf(name, sizeof name, "rcontainer-bench-floor-%d-%s", (int)getpid(), tag);
	else
		snprintf(name, sizeof name, "rcontainer-bench-floor-%d", (int)getpid());
	if (count <= 0)
		return run_once(rootfs, name, mem, pids, cmd);

	/* Loop mode. */
	volatile char *ballast = NULL;
	if (touch_mib > 0) {
		ballast = malloc((size_t)touch_mib << 20);
		if (!ballast)
			die("malloc");
		for (size_t off = 0; off < ((size_t)touch_mib << 20); off += 4096)
			ballast[off] = (char)(off >> 12) | 1;
	}
	int warmup = count / 20;
	double *t = calloc(count, sizeof *t);
	for (int i = 0; i < warmup + count; i++) {
		double t0 = now();
		int rc = run_once(rootfs, name, mem, pids, cmd);
		if (rc != 0) {
			fprintf(stderr, "floor: container %d exited %d\n", i, rc);
			return 1;
		}
		if (i >= warmup)
			t[i - warmup] = now() - t0;
	}
	double mean = 0;
	for (int i = 0; i < count; i++)
		mean += t[i] / count;
	FILE *f = json ? fopen(json, "we") : NULL;
	if (json && !f)
		die(json);
	if (f) {
		fprintf(f, "{\"results\":[{\"command\":\"%s\",\"mean\":%.9f,\"times\":[", jname, mean);
		for (int i = 0; i < count; i++)
			fprintf(f, "%s%.9f", i ? "," : "", t[i]);
		fprintf(f, "]}]}\n");
		fclose(f);
	}
	qsort(t, count, sizeof *t, cmp_double);
	fprintf(stderr, "floor %s: %d containers, median %.3f ms, min %.3f ms, mean %.3f ms\n", jname, count,
		t[count / 2] * 1e3, t[0] * 1e3, mean * 1e3);
	(void)ballast;
	return 0;
}
