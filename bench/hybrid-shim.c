/*
 * hybrid-shim: run a command (crun) in a private mount namespace where
 * /sys/fs/cgroup/unified/cgroup.controllers is covered by an empty file.
 *
 * crun 1.8 refuses a hybrid cgroup layout (v1 controllers plus a cgroup2 tree at
 * /sys/fs/cgroup/unified that has controllers: "cgroups in hybrid mode not supported, drop all
 * controllers from cgroupv2"). With the controllers file reading empty, crun uses the v1
 * hierarchies. Same as `unshare -m sh -c 'mount --bind EMPTY .../cgroup.controllers && exec crun ...'`
 * but without the extra shell and exec, so the crun rows carry less overhead.
 *
 * usage: hybrid-shim EMPTY_FILE CMD ARGS...
 * Build: gcc -O2 -o hybrid-shim hybrid-shim.c
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <sys/mount.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: hybrid-shim EMPTY_FILE CMD ARGS...\n");
		return 125;
	}
	if (unshare(CLONE_NEWNS) < 0) {
		perror("hybrid-shim: unshare(CLONE_NEWNS)");
		return 125;
	}
	/* Nothing done here may propagate back to the host's mount namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		perror("hybrid-shim: make / private");
		return 125;
	}
	if (mount(argv[1], "/sys/fs/cgroup/unified/cgroup.controllers", NULL, MS_BIND, NULL) < 0) {
		perror("hybrid-shim: bind over /sys/fs/cgroup/unified/cgroup.controllers");
		return 125;
	}
	execvp(argv[2], &argv[2]);
	perror(argv[2]);
	return 127;
}
