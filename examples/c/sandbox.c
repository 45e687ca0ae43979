/* Example 0: the untrusted-snippet service. Each snippet runs under the sandbox preset (uid 65534,
 * no capabilities, a read-only root with a 64 MiB /tmp, only lo, 64 processes) with 64 MiB and
 * half a CPU of its own, its output captured through pipes (rcontainer_container_run_pipes) and
 * kept up to 1 MiB, and a 2 s deadline after which it is killed. Three run at once: one poll(2)
 * loop watches their stdout pipes and their pidfds.
 *
 *   ./make-rootfs.sh /tmp/rootfs && ./sandbox /tmp/rootfs [STATE_ROOT]
 */
#define _GNU_SOURCE
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "container_core.h"

#define N 3
#define KEEP (1 << 20)

struct job {
    const char *code;
    rcontainer_container_t *c;
    int out;               /* our end of its stdout, -1 once at EOF */
    int pidfd;             /* readable once its process has ended (the handle's: not closed here) */
    char *buf;             /* the first KEEP bytes of its output */
    size_t len, dropped;   /* kept, and read past KEEP */
    int ended, killed;
    rcontainer_exit_status_t st;
};

static int failed(const char *what, rcontainer_error_t *err) {
    if (err == NULL) return 0;
    fprintf(stderr, "sandbox: %s: %s\n", what, rcontainer_error_message(err));
    rcontainer_error_free(err);
    return 1;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* Starts `code` under the preset with its stdout as a pipe. */
static int start(struct job *j, const char *rootfs, const char *state_root) {
    rcontainer_spec_t *spec = rcontainer_spec_new();
    const char *argv[] = {"sh", "-c", j->code, NULL};
    rcontainer_limits_t limits = {0};
    limits.memory = 64 << 20; /* a memory limit alone keeps the preset's "no swap" */
    limits.cpus = 0.5;
    int bad = spec == NULL || failed("args", rcontainer_spec_set_args(spec, argv)) ||
              failed("rootfs", rcontainer_spec_set_rootfs(spec, rootfs)) || failed("sandbox", rcontainer_spec_set_sandbox(spec)) ||
              failed("limits", rcontainer_spec_set_limits(spec, &limits)) || /* ours win over the preset's */
              failed("run", rcontainer_container_run_pipes(spec, NULL, state_root, &j->c, NULL, &j->out, NULL)) ||
              failed("pidfd", rcontainer_container_pidfd(j->c, &j->pidfd));
    rcontainer_spec_free(spec);
    j->buf = malloc(KEEP);
    return bad || j->buf == NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s ROOTFS [STATE_ROOT]\n", argv[0]);
        return 2;
    }
    struct job jobs[N] = {{.code = "id -u; ls /sys/class/net"}, {.code = "echo two"}, {.code = "yes"}};
    int rc = 1;
    for (int i = 0; i < N; i++) jobs[i].out = -1;
    for (int i = 0; i < N; i++)
        if (start(&jobs[i], argv[1], argc > 2 ? argv[2] : NULL)) goto done;

    /* One loop: output as it comes, exits as they come, SIGKILL at the deadline. */
    double deadline = now() + 2.0;
    for (;;) {
        struct pollfd fds[2 * N];
        int n = 0, left = 0;
        for (int i = 0; i < N; i++) {
            fds[2 * i] = (struct pollfd){.fd = jobs[i].out, .events = POLLIN};
            fds[2 * i + 1] = (struct pollfd){.fd = jobs[i].ended ? -1 : jobs[i].pidfd, .events = POLLIN};
            left += jobs[i].out >= 0 || !jobs[i].ended;
        }
        n = 2 * N;
        if (left == 0) break;
        int ms = (int)((deadline - now()) * 1000);
        if (poll(fds, n, ms > 0 ? ms : 0) == 0 && now() >= deadline) {
            for (int i = 0; i < N; i++)
                if (!jobs[i].ended && !jobs[i].killed) {
                    jobs[i].killed = 1;
                    rcontainer_error_free(rcontainer_container_kill(jobs[i].c, SIGKILL));
                }
            deadline = now() + 60; /* they end at once now */
            continue;
        }
        for (int i = 0; i < N; i++) {
            struct job *j = &jobs[i];
            if (j->out >= 0 && fds[2 * i].revents) {
                char chunk[65536];
                ssize_t r = read(j->out, chunk, sizeof chunk);
                if (r <= 0) {
                    close(j->out);
                    j->out = -1;
                } else {
                    size_t keep = (size_t)r < KEEP - j->len ? (size_t)r : KEEP - j->len;
                    memcpy(j->buf + j->len, chunk, keep);
                    j->len += keep;
                    j->dropped += (size_t)r - keep;
                }
            }
            if (!j->ended && fds[2 * i + 1].revents) {
                if (failed("wait", rcontainer_container_wait(j->c, 0, &j->st))) goto done;
                j->ended = 1;
            }
        }
    }
    for (int i = 0; i < N; i++) {
        struct job *j = &jobs[i];
        printf("%-26s exit %d signal %d%s, %zu bytes kept%s: \"", j->code, j->st.code, j->st.signal, j->killed ? " (killed at 2 s)" : "", j->len,
               j->dropped ? " (the rest dropped)" : "");
        for (size_t k = 0; k < j->len && k < 16; k++) fputs(j->buf[k] == '\n' ? "\\n" : (char[]){j->buf[k], 0}, stdout);
        printf("%s\"\n", j->len > 16 ? "..." : "");
    }
    rc = 0;
done:
    for (int i = 0; i < N; i++) {
        if (jobs[i].out >= 0) close(jobs[i].out);
        if (jobs[i].c) rcontainer_error_free(rcontainer_container_delete(jobs[i].c, true));
        rcontainer_container_free(jobs[i].c);
        free(jobs[i].buf);
    }
    return rc;
}
