/* Example 1: run `ps` in a busybox root filesystem and show that it is PID 1 in its own pid
 * namespace. Its output comes back through a pipe given as the container's stdout.
 *
 *   ./make-rootfs.sh /tmp/rootfs && ./ps_pid1 /tmp/rootfs [STATE_ROOT]
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "container_core.h"

/* Prints and frees an error; returns 1 if there was one. */
static int failed(const char *what, rcontainer_error_t *err) {
    if (err == NULL) return 0;
    fprintf(stderr, "ps_pid1: %s: %s (kind %d, errno %d)\n", what, rcontainer_error_message(err),
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
    const char *state_root = argc > 2 ? argv[2] : NULL; /* NULL: /run/rcontainer */

    printf("libcontainer_core %s (header %d.%d.%d), cgroup layout %d, namespaces:",
           rcontainer_version(), RCONTAINER_VERSION_MAJOR, RCONTAINER_VERSION_MINOR, RCONTAINER_VERSION_PATCH,
           (int)rcontainer_cgroup_layout());
    uint32_t ns = rcontainer_available_namespaces();
    for (uint32_t bit = 1; bit != 0 && bit <= RCONTAINER_NS_TIME; bit <<= 1)
        if (ns & bit) printf(" %s", rcontainer_namespace_name(bit));
    printf("\n");

    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) {
        perror("pipe2");
        return 1;
    }

    int rc = 1;
    rcontainer_container_t *c = NULL;
    rcontainer_spec_t *spec = rcontainer_spec_new();
    const char *args[] = {"ps", "-o", "pid,comm", NULL};
    if (spec == NULL) goto done;
    if (failed("set args", rcontainer_spec_set_args(spec, args))) goto done;
    if (failed("set rootfs", rcontainer_spec_set_rootfs(spec, rootfs))) goto done;
    if (failed("set hostname", rcontainer_spec_set_hostname(spec, "ps-demo"))) goto done;
    /* stdout goes to our pipe; stdin and stderr are inherited. */
    if (failed("set stdio", rcontainer_spec_set_stdio(spec, -1, out[1], -1))) goto done;

    char id[64];
    snprintf(id, sizeof id, "ps-pid1-%d", (int)getpid());
    if (failed("create", rcontainer_container_create(spec, id, state_root, &c))) goto done;
    close(out[1]); /* the container has its own copy now: we see EOF when it exits */
    out[1] = -1;
    if (failed("start", rcontainer_container_start(c))) goto done;

    char buf[4096];
    size_t len = 0;
    ssize_t n;
    while (len < sizeof buf - 1 && (n = read(out[0], buf + len, sizeof buf - 1 - len)) > 0) len += (size_t)n;
    buf[len] = '\0';

    rcontainer_exit_status_t st;
    if (failed("wait", rcontainer_container_wait(c, 10000, &st))) goto done;
    printf("container %s printed:\n%s", rcontainer_container_id(c), buf);
    printf("exit code %d, signal %d, oom_killed %d\n", st.code, st.signal, (int)st.oom_killed);

    /* Look for the line "    1 ps": ps saw itself as PID 1. */
    for (char *line = strtok(buf, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        int pid;
        char comm[64];
        if (sscanf(line, "%d %63s", &pid, comm) == 2 && pid == 1 && strcmp(comm, "ps") == 0) rc = 0;
    }
    if (st.code != 0) rc = 1;
    printf(rc == 0 ? "ps ran as PID 1\n" : "ps did NOT run as PID 1\n");

done:
    if (c != NULL) {
        if (failed("delete", rcontainer_container_delete(c, true))) rc = 1;
        rcontainer_container_free(c);
    }
    rcontainer_spec_free(spec);
    if (out[1] >= 0) close(out[1]);
    close(out[0]);
    return rc;
}
