/* Example 3: an event loop. Starts several containers at once and poll()s their pidfds: each
 * pidfd becomes readable when that container's process exits; then a zero-timeout wait reaps it.
 * The last one would run for a minute: once the others are done, it gets SIGKILL.
 *
 *   ./make-rootfs.sh /tmp/rootfs && ./poll_pidfds /tmp/rootfs [STATE_ROOT]
 */
#define _GNU_SOURCE
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "container_core.h"

#define N 4

static int failed(const char *what, rcontainer_error_t *err) {
    if (err == NULL) return 0;
    fprintf(stderr, "poll_pidfds: %s: %s (kind %d, errno %d)\n", what, rcontainer_error_message(err),
            (int)rcontainer_error_kind(err), rcontainer_error_errno(err));
    rcontainer_error_free(err);
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s ROOTFS [STATE_ROOT]\n", argv[0]);
        return 2;
    }
    const char *rootfs = argv[1];
    const char *state_root = argc > 2 ? argv[2] : NULL;
    /* Each runs `sh -c 'sleep S; exit CODE'`; they end in the order 0, 1, 2 (3 is killed). */
    const char *scripts[N] = {"sleep 0.2; exit 10", "sleep 0.6; exit 11", "sleep 1; exit 12", "sleep 60"};

    rcontainer_container_t *c[N] = {NULL};
    struct pollfd fds[N];
    int rc = 1, running = 0;
    rcontainer_spec_t *spec = rcontainer_spec_new();
    if (spec == NULL) return 1;
    if (failed("set rootfs", rcontainer_spec_set_rootfs(spec, rootfs))) goto done;

    for (int i = 0; i < N; i++) {
        const char *args[] = {"sh", "-c", scripts[i], NULL};
        char id[64];
        snprintf(id, sizeof id, "poll-%d-%d", (int)getpid(), i);
        /* One spec, changed between creates: create only reads it. */
        if (failed("set args", rcontainer_spec_set_args(spec, args))) goto done;
        if (failed("create", rcontainer_container_create(spec, id, state_root, &c[i]))) goto done;
        if (failed("pidfd", rcontainer_container_pidfd(c[i], &fds[i].fd))) goto done;
        fds[i].events = POLLIN;
        fds[i].revents = 0;
    }
    for (int i = 0; i < N; i++) {
        if (failed("start", rcontainer_container_start(c[i]))) goto done;
        running++;
    }
    printf("started %d containers\n", running);

    int killed = 0;
    while (running > 0) {
        int n = poll(fds, N, 30000);
        if (n < 0) {
            perror("poll");
            goto done;
        }
        if (n == 0) {
            fprintf(stderr, "poll_pidfds: nothing exited within 30 s\n");
            goto done;
        }
        for (int i = 0; i < N; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & POLLIN)) continue;
            rcontainer_exit_status_t st;
            if (failed("wait", rcontainer_container_wait(c[i], 0, &st))) goto done;
            if (st.signal != 0)
                printf("%s: killed by signal %d\n", rcontainer_container_id(c[i]), st.signal);
            else
                printf("%s: exited with code %d\n", rcontainer_container_id(c[i]), st.code);
            fflush(stdout);
            fds[i].fd = -1; /* poll ignores negative fds; the pidfd itself belongs to the handle */
            if (failed("delete", rcontainer_container_delete(c[i], false))) goto done;
            running--;
        }
        if (running == 1 && !killed) {
            if (failed("kill", rcontainer_container_kill(c[N - 1], SIGKILL))) goto done;
            killed = 1;
        }
    }
    rc = 0;

done:
    for (int i = 0; i < N; i++) {
        if (c[i] == NULL) continue;
        if (failed("delete", rcontainer_container_delete(c[i], true))) rc = 1;
        rcontainer_container_free(c[i]);
    }
    rcontainer_spec_free(spec);
    return rc;
}
