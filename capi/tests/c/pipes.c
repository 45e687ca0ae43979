/* rcontainer_container_run_pipes() (minijail_run_pid_pipes' counterpart) and a NULL id: a
 * container created and started with its stdin, stdout and stderr as pipes; input written, both
 * outputs read concurrently with poll(2), the exit status; the generated id ("rc-" and 12 hex
 * digits) is the container's hostname with rcontainer_spec_new()'s defaults. Run by
 * capi/tests/c_programs.rs (shared and static library); it doubles as an example.
 *
 *   pipes ROOTFS STATE_ROOT     (runs real containers: needs root)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "container_core.h"

/* Reads stdout and stderr to EOF at once (poll), up to out_size-1 and err_size-1 bytes (the
 * rest is dropped). */
static void read_both(int out_fd, int err_fd, char *out, size_t out_size, char *err, size_t err_size) {
    struct pollfd p[2] = {{.fd = out_fd, .events = POLLIN}, {.fd = err_fd, .events = POLLIN}};
    char *buf[2] = {out, err};
    size_t size[2] = {out_size, err_size}, n[2] = {0, 0};
    int open_fds = 2;
    while (open_fds > 0) {
        if (poll(p, 2, 20000) <= 0) break;
        for (int i = 0; i < 2; i++) {
            if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP))) continue;
            char chunk[4096];
            ssize_t r = read(p[i].fd, chunk, sizeof chunk);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) {
                p[i].fd = -1;
                open_fds--;
                continue;
            }
            size_t room = size[i] - 1 - n[i], keep = (size_t)r < room ? (size_t)r : room;
            memcpy(buf[i] + n[i], chunk, keep);
            n[i] += keep;
        }
    }
    out[n[0]] = '\0';
    err[n[1]] = '\0';
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s ROOTFS STATE_ROOT\n", argv[0]);
        return 2;
    }
    const char *rootfs = argv[1], *state_root = argv[2];
    rcontainer_spec_t *spec = rcontainer_spec_new();
    rcontainer_container_t *c = NULL;
    int in = -1, out = -1, err = -1;
    const char *args[] = {"sh", "-c", "hostname; tr a-z A-Z; echo err >&2; head -c 200000 /dev/zero | tr '\\0' x; exit 7", NULL};
    CHECK(spec != NULL);
    if (FAILED(rcontainer_spec_set_args(spec, args)) || FAILED(rcontainer_spec_set_rootfs(spec, rootfs)) ||
        FAILED(rcontainer_container_run_pipes(spec, NULL, state_root, &c, &in, &out, &err)))
        goto done;
    const char *id = rcontainer_container_id(c);
    CHECK(strncmp(id, "rc-", 3) == 0 && strlen(id) == 15);
    CHECK(in > 2 && out > 2 && err > 2);
    CHECK((fcntl(in, F_GETFD) & FD_CLOEXEC) && (fcntl(out, F_GETFD) & FD_CLOEXEC));
    CHECK(write(in, "piped\n", 6) == 6);
    close(in);
    in = -1;
    static char got_out[300000], got_err[4096];
    read_both(out, err, got_out, sizeof got_out, got_err, sizeof got_err);
    rcontainer_exit_status_t st = {0};
    if (FAILED(rcontainer_container_wait(c, 20000, &st))) goto done;
    char want[128];
    snprintf(want, sizeof want, "%s\nPIPED\n", id);
    printf("run_pipes: id %s, status %d, %zu bytes out, stderr %s", id, st.code, strlen(got_out), got_err);
    CHECK(strncmp(got_out, want, strlen(want)) == 0); /* the hostname is the generated id */
    CHECK(strlen(got_out) == strlen(want) + 200000);
    CHECK(strcmp(got_err, "err\n") == 0);
    CHECK(st.code == 7 && st.signal == 0);

    /* A NULL pointer leaves that stream as the spec says; a bad spec leaves nothing behind. */
    rcontainer_container_t *c2 = NULL;
    int out2 = -1;
    const char *quiet[] = {"true", NULL};
    if (!FAILED(rcontainer_spec_set_args(spec, quiet)) && !FAILED(rcontainer_container_run_pipes(spec, "pipes-2", state_root, &c2, NULL, &out2, NULL))) {
        char b[16];
        CHECK(read(out2, b, sizeof b) == 0); /* EOF once `true` has ended: no other holder */
        CHECK(!FAILED(rcontainer_container_wait(c2, 20000, &st)) && st.code == 0);
        CHECK(!FAILED(rcontainer_container_delete(c2, false)));
        close(out2);
    }
    rcontainer_container_free(c2);
    rcontainer_error_t *e = rcontainer_spec_set_rootfs(spec, "/nonexistent-rootfs");
    rcontainer_error_free(e);
    int untouched = -7;
    rcontainer_container_t *none = NULL;
    e = rcontainer_container_run_pipes(spec, "pipes-3", state_root, &none, NULL, &untouched, NULL);
    CHECK(e != NULL && none == NULL && untouched == -7);
    rcontainer_error_free(e);
done:
    if (c) {
        rcontainer_error_free(rcontainer_container_delete(c, true));
        rcontainer_container_free(c);
    }
    if (in >= 0) close(in);
    if (out >= 0) close(out);
    if (err >= 0) close(err);
    rcontainer_spec_free(spec);
    printf("%d passed, %d failed\n", passed, failures);
    return failures ? 1 : 0;
}
