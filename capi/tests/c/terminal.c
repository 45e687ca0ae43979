/* Terminals through the C ABI: a container created with a terminal of its own (its pty master
 * kept by the handle: read the output, type input, resize the window), and a process exec'd with
 * a terminal into a running container (its master taken by the caller). Run by
 * capi/tests/c_programs.rs (shared and static library, and under valgrind); it doubles as an
 * example.
 *
 *   terminal ROOTFS STATE_ROOT     (runs real containers: needs root)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "container_core.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Appends what the pty master `fd` gives to buf (NUL-terminated) until `needle` appears (NULL:
 * until the terminal is closed, EIO), or 20 s pass. Returns 1 when it got there. */
static int read_until(int fd, char *buf, size_t size, size_t *len, const char *needle) {
    double deadline = now() + 20;
    for (;;) {
        if (needle != NULL && strstr(buf, needle) != NULL) return 1;
        int left = (int)((deadline - now()) * 1000);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, left) <= 0) return 0;
        ssize_t r = read(fd, buf + *len, size - 1 - *len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return needle == NULL; /* EIO: every slave is closed */
        *len += (size_t)r;
        buf[*len] = '\0';
        if (*len == size - 1) return 0;
    }
}

static void container_with_a_terminal(const char *rootfs, const char *state_root) {
    char id[64];
    snprintf(id, sizeof id, "tty-%d", (int)getpid());
    rcontainer_spec_t *spec = rcontainer_spec_new();
    const char *script[] = {"sh", "-c", "tty; stty size; read line; echo got:$line; stty size; exit 4", NULL};
    rcontainer_container_t *c = NULL;
    EXPECT_ERR(rcontainer_spec_set_terminal(spec, true, 0, 80), RCONTAINER_ERROR_INVALID_ARGUMENT, "rows = 0");
    if (FAILED(rcontainer_spec_set_args(spec, script)) || FAILED(rcontainer_spec_set_rootfs(spec, rootfs)) ||
        FAILED(rcontainer_spec_set_terminal(spec, true, 24, 81)) || FAILED(rcontainer_container_create(spec, id, state_root, &c)))
        goto done;

    int master = -1;
    if (FAILED(rcontainer_container_pty_fd(c, &master))) goto done;
    CHECK(isatty(master));
    EXPECT_ERR(rcontainer_container_resize_pty(c, 0, 10), RCONTAINER_ERROR_INVALID_ARGUMENT, "at least one row");
    if (FAILED(rcontainer_container_start(c))) goto done;

    char buf[8192] = "";
    size_t len = 0;
    CHECK(read_until(master, buf, sizeof buf, &len, "24 81"));
    CHECK(strstr(buf, "/dev/pts/0") != NULL);
    /* The window grows, then a line is typed. */
    FAILED(rcontainer_container_resize_pty(c, 30, 100));
    CHECK(write(master, "hello\n", 6) == 6);
    CHECK(read_until(master, buf, sizeof buf, &len, NULL));
    printf("the container's terminal showed:\n%s\n", buf);
    CHECK(strstr(buf, "got:hello") != NULL);
    CHECK(strstr(buf, "30 100") != NULL);
    rcontainer_exit_status_t st = {0};
    if (!FAILED(rcontainer_container_wait(c, 20000, &st))) CHECK(st.code == 4);

    /* The master can be taken: then it is ours to close, and the handle has none. */
    int taken = -1;
    if (!FAILED(rcontainer_container_take_pty(c, &taken))) {
        CHECK(taken == master);
        close(taken);
    }
    EXPECT_ERR(rcontainer_container_pty_fd(c, &master), RCONTAINER_ERROR_UNSUPPORTED, "no pty master");
    EXPECT_ERR(rcontainer_container_resize_pty(c, 24, 80), RCONTAINER_ERROR_UNSUPPORTED, "no pty master");
    EXPECT_ERR(rcontainer_container_take_pty(c, &taken), RCONTAINER_ERROR_UNSUPPORTED, "no pty master");

done:
    if (c != NULL) {
        FAILED(rcontainer_container_delete(c, true));
        rcontainer_container_free(c);
    }
    rcontainer_spec_free(spec);
}

static void exec_with_a_terminal(const char *rootfs, const char *state_root) {
    char id[64];
    snprintf(id, sizeof id, "ttyexec-%d", (int)getpid());
    rcontainer_spec_t *spec = rcontainer_spec_new();
    rcontainer_exec_options_t *options = rcontainer_exec_options_new();
    const char *sleeper[] = {"sleep", "60", NULL};
    const char *script[] = {"sh", "-c", "tty; stty size; read line; echo got:$line; stty size", NULL};
    rcontainer_container_t *c = NULL;
    rcontainer_process_t *p = NULL;
    if (FAILED(rcontainer_spec_set_args(spec, sleeper)) || FAILED(rcontainer_spec_set_rootfs(spec, rootfs)) ||
        FAILED(rcontainer_container_create(spec, id, state_root, &c)) || FAILED(rcontainer_container_start(c)))
        goto done;
    /* No terminal of its own: nothing to hand out. */
    int fd = 4242;
    EXPECT_ERR(rcontainer_container_pty_fd(c, &fd), RCONTAINER_ERROR_UNSUPPORTED, "no pty master");
    CHECK(fd == 4242);

    if (FAILED(rcontainer_exec_options_set_terminal(options, true, 10, 40))) goto done;
    if (FAILED(rcontainer_container_exec(c, script, options, &p))) goto done;
    int master = -1;
    if (FAILED(rcontainer_process_pty_fd(p, &master))) goto done;
    char buf[8192] = "";
    size_t len = 0;
    CHECK(read_until(master, buf, sizeof buf, &len, "10 40"));
    FAILED(rcontainer_process_resize_pty(p, 12, 50));
    /* Take the master: the handle no longer resizes; ours to close. */
    int taken = -1;
    if (FAILED(rcontainer_process_take_pty(p, &taken))) goto done;
    EXPECT_ERR(rcontainer_process_resize_pty(p, 24, 80), RCONTAINER_ERROR_UNSUPPORTED, "no pty master");
    CHECK(write(taken, "typed\n", 6) == 6);
    CHECK(read_until(taken, buf, sizeof buf, &len, NULL));
    close(taken);
    printf("the exec'd process's terminal showed:\n%s\n", buf);
    CHECK(strstr(buf, "/dev/pts/") != NULL);
    CHECK(strstr(buf, "got:typed") != NULL && strstr(buf, "12 50") != NULL);
    rcontainer_exit_status_t st = {0};
    if (!FAILED(rcontainer_process_wait(p, 20000, &st))) CHECK(st.code == 0);

done:
    rcontainer_process_free(p);
    if (c != NULL) {
        FAILED(rcontainer_container_delete(c, true));
        rcontainer_container_free(c);
    }
    rcontainer_exec_options_free(options);
    rcontainer_spec_free(spec);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s ROOTFS STATE_ROOT\n", argv[0]);
        return 2;
    }
    container_with_a_terminal(argv[1], argv[2]);
    exec_with_a_terminal(argv[1], argv[2]);
    printf("terminal: %d passed, %d failed\n", passed, failures);
    return failures == 0 ? 0 : 1;
}
