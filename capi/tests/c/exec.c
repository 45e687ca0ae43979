/* exec through the C ABI: run a command inside a running container and read its output, with the
 * container's own environment and working directory unless changed; exit status, kill, the pidfd,
 * and the errors of a missing command and a stopped container. Run by capi/tests/c_programs.rs
 * (shared and static library, and under valgrind); it doubles as an example.
 *
 *   exec ROOTFS STATE_ROOT     (runs real containers: needs root)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "container_core.h"

/* Reads `fd` to EOF into buf (NUL-terminated, at most size-1 bytes). */
static void read_all(int fd, char *buf, size_t size) {
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, size - 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        n += (size_t)r;
        if (n == size - 1) break;
    }
    buf[n] = '\0';
}

/* Runs argv in the container with `options` (their stdio replaced by two pipes), reads stdout
 * and stderr (small outputs: one after the other is fine) and waits. Returns 0 on success. */
static int exec_captured(rcontainer_container_t *c, const char *const *argv, rcontainer_exec_options_t *options, char *out, char *err,
                         size_t size, rcontainer_exit_status_t *st) {
    int o[2], e[2];
    if (pipe2(o, O_CLOEXEC) != 0 || pipe2(e, O_CLOEXEC) != 0) {
        perror("pipe2");
        return 1;
    }
    rcontainer_process_t *p = NULL;
    int rc = 1;
    if (FAILED(rcontainer_exec_options_set_stdio(options, -1, o[1], e[1]))) goto done;
    if (FAILED(rcontainer_container_exec(c, argv, options, &p))) goto done;
    /* The process holds its own copies now: close ours, to see EOF when it ends. */
    close(o[1]);
    close(e[1]);
    o[1] = e[1] = -1;
    read_all(o[0], out, size);
    read_all(e[0], err, size);
    if (FAILED(rcontainer_process_wait(p, 20000, st))) goto done;
    rc = 0;
done:
    for (int i = 0; i < 2; i++) {
        if (o[i] >= 0) close(o[i]);
        if (e[i] >= 0) close(e[i]);
    }
    rcontainer_process_free(p);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s ROOTFS STATE_ROOT\n", argv[0]);
        return 2;
    }
    const char *rootfs = argv[1], *state_root = argv[2];
    char id[64];
    snprintf(id, sizeof id, "exec-%d", (int)getpid());

    /* A running container whose own process has FOO in its environment and /tmp as its cwd. */
    rcontainer_spec_t *spec = rcontainer_spec_new();
    const char *sleeper[] = {"sleep", "60", NULL};
    rcontainer_container_t *c = NULL;
    rcontainer_exec_options_t *options = rcontainer_exec_options_new();
    CHECK(spec != NULL && options != NULL);
    if (FAILED(rcontainer_spec_set_args(spec, sleeper)) || FAILED(rcontainer_spec_set_rootfs(spec, rootfs)) ||
        FAILED(rcontainer_spec_set_env(spec, "FOO", "from-the-container")) || FAILED(rcontainer_spec_set_cwd(spec, "/tmp")) ||
        FAILED(rcontainer_container_create(spec, id, state_root, &c)) || FAILED(rcontainer_container_start(c)))
        goto done;

    char out[4096], err[4096];
    rcontainer_exit_status_t st = {0};

    /* 1. The container's environment and cwd, plus a variable of our own; stdout, stderr, status. */
    const char *script[] = {"sh", "-c", "echo out:$FOO:$BAR:$(pwd):$(id -u):$$; echo err >&2; exit 3", NULL};
    if (FAILED(rcontainer_exec_options_set_env(options, "BAR", "bar"))) goto done;
    if (exec_captured(c, script, options, out, err, sizeof out, &st) == 0) {
        printf("exec said: %s", out);
        const char *want = "out:from-the-container:bar:/tmp:0:";
        CHECK(strncmp(out, want, strlen(want)) == 0);
        int pid = atoi(out + strlen(want));
        CHECK(pid > 1 && pid < 100); /* inside the container's pid namespace */
        CHECK(strcmp(err, "err\n") == 0);
        CHECK(st.code == 3 && st.signal == 0 && !st.oom_killed);
    }

    /* 2. Another user and working directory. */
    if (FAILED(rcontainer_exec_options_set_user(options, 65534, 65534)) || FAILED(rcontainer_exec_options_set_cwd(options, "/")))
        goto done;
    const char *who[] = {"sh", "-c", "echo $(id -u):$(id -g):$(pwd)", NULL};
    if (exec_captured(c, who, options, out, err, sizeof out, &st) == 0) {
        CHECK(strcmp(out, "65534:65534:/\n") == 0);
        CHECK(st.code == 0);
    }

    /* 3. kill, through the pidfd an event loop would poll. */
    rcontainer_process_t *p = NULL;
    const char *long_sleep[] = {"sleep", "60", NULL};
    if (FAILED(rcontainer_container_exec(c, long_sleep, NULL, &p))) goto done;
    int pid = 0, pidfd = -1;
    if (!FAILED(rcontainer_process_pid(p, &pid)) && !FAILED(rcontainer_process_pidfd(p, &pidfd))) {
        CHECK(pid > 1 && pidfd >= 0);
        EXPECT_ERR(rcontainer_process_wait(p, 0, &st), RCONTAINER_ERROR_TIMEOUT, "timed out");
        EXPECT_ERR(rcontainer_process_kill(p, 0), RCONTAINER_ERROR_INVALID_ARGUMENT, "sig");
        EXPECT_ERR(rcontainer_process_pty_fd(p, &pidfd), RCONTAINER_ERROR_UNSUPPORTED, "no pty master");
        FAILED(rcontainer_process_kill(p, SIGKILL));
        struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
        CHECK(poll(&pfd, 1, 10000) == 1);
        if (!FAILED(rcontainer_process_wait(p, 0, &st))) CHECK(st.code == -1 && st.signal == SIGKILL);
        rcontainer_exit_status_t again = {0};
        if (!FAILED(rcontainer_process_wait(p, 0, &again))) CHECK(again.signal == SIGKILL);
        EXPECT_ERR(rcontainer_process_kill(p, SIGTERM), RCONTAINER_ERROR_WRONG_STATE, "stopped");
        EXPECT_ERR(rcontainer_process_pidfd(p, &pidfd), RCONTAINER_ERROR_WRONG_STATE, "reaped");
    }
    rcontainer_process_free(p);
    p = NULL;

    /* 4. A command that does not exist: the errno of the exec, naming it. */
    const char *missing[] = {"/no/such/command", NULL};
    rcontainer_process_t *none = NULL;
    rcontainer_error_t *e = rcontainer_container_exec(c, missing, NULL, &none);
    CHECK(e != NULL && rcontainer_error_errno(e) == ENOENT && strstr(rcontainer_error_message(e), "/no/such/command") != NULL);
    rcontainer_error_free(e);
    CHECK(none == NULL);

    /* 5. The container stops: no more exec. */
    FAILED(rcontainer_container_kill(c, SIGKILL));
    FAILED(rcontainer_container_wait(c, 10000, &st));
    EXPECT_ERR(rcontainer_container_exec(c, long_sleep, NULL, &p), RCONTAINER_ERROR_WRONG_STATE, "stopped");
    CHECK(p == NULL);

done:
    if (c != NULL) {
        FAILED(rcontainer_container_delete(c, true));
        rcontainer_container_free(c);
    }
    rcontainer_exec_options_free(options);
    rcontainer_spec_free(spec);
    printf("exec: %d passed, %d failed\n", passed, failures);
    return failures == 0 ? 0 : 1;
}
