/*
 * par: start N copies of a command at once and wait for all of them (the "50 concurrent" rows).
 *
 * usage: par N PREFIX CMD ARGS...
 * Every argument equal to "@ID@" is replaced, in copy i, by PREFIX-<par's pid>-<i>, so each
 * container gets a unique id (and, for the floor, a unique cgroup tag). Exits 0 when all copies
 * exited 0, else 1 (after reporting the failures on stderr).
 * Build: gcc -O2 -o par par.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: par N PREFIX CMD ARGS...\n");
		return 2;
	}
	int n = atoi(argv[1]);
	const char *prefix = argv[2];
	char **cmd = &argv[3];
	int ncmd = argc - 3;
	pid_t *pids = calloc(n, sizeof *pids);
	char **args = calloc(ncmd + 1, sizeof *args);
	char id[256];
	for (int i = 0; i < n; i++) {
		snprintf(id, sizeof id, "%s-%d-%d", prefix, (int)getpid(), i);
		for (int j = 0; j < ncmd; j++)
			args[j] = strcmp(cmd[j], "@ID@") == 0 ? id : cmd[j];
		pid_t p = fork();
		if (p < 0) {
			perror("par: fork");
			n = i;
			break;
		}
		if (p == 0) {
			execvp(args[0], args);
			perror(args[0]);
			_exit(127);
		}
		pids[i] = p;
	}
	int bad = 0;
	for (int i = 0; i < n; i++) {
		int st;
		while (waitpid(pids[i], &st, 0) < 0)
			if (errno != EINTR) {
				perror("par: waitpid");
				return 1;
			}
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "par: copy %d failed (status 0x%x)\n", i, st);
			bad = 1;
		}
	}
	return bad;
}
