/* Example 2: a memory limit and OOM detection. The container gets a 64 MiB limit in its spec, which
 * rcontainer_container_limit() lowers to 32 MiB before it starts; then a shell tries to hold
 * 100 MB in a variable. The kernel's OOM killer ends it, and the exit status says so
 * (oom_killed), as do the cgroup's stats.
 *
 *   ./make-rootfs.sh /tmp/rootfs && ./oom_limit /tmp/rootfs [STATE_ROOT]
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <unistd.h>

#include "container_core.h"

#define MiB (1024 * 1024)

static int failed(const char *what, rcontainer_error_t *err) {
    if (err == NULL) return 0;
    fprintf(stderr, "oom_limit: %s: %s (kind %d, errno %d)\n", what, rcontainer_error_message(err),
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

    int rc = 1;
    rcontainer_container_t *c = NULL;
    rcontainer_spec_t *spec = rcontainer_spec_new();
    /* 100 MB of 'a' in a shell variable: far more than the limit. */
    const char *args[] = {"sh", "-c", "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived ${#x} bytes", NULL};
    if (spec == NULL) return 1;
    if (failed("set args", rcontainer_spec_set_args(spec, args))) goto done;
    if (failed("set rootfs", rcontainer_spec_set_rootfs(spec, rootfs))) goto done;

    /* Limits are a plain struct: zero means "not set". memory_swap == memory: no swap either. */
    rcontainer_limits_t limits = {0};
    limits.memory = 64 * MiB;
    limits.memory_swap = 64 * MiB;
    limits.pids = 32;
    if (failed("set limits", rcontainer_spec_set_limits(spec, &limits))) goto done;

    char id[64];
    snprintf(id, sizeof id, "oom-%d", (int)getpid());
    if (failed("create", rcontainer_container_create(spec, id, state_root, &c))) goto done;

    /* Lower the limit of the live (created) container; fields left 0 stay as they are. */
    rcontainer_limits_t lower = {0};
    lower.memory = 32 * MiB;
    lower.memory_swap = 32 * MiB;
    if (failed("limit", rcontainer_container_limit(c, &lower))) goto done;

    rcontainer_stats_t stats;
    if (failed("stats", rcontainer_container_stats(c, &stats))) goto done;
    printf("memory limit %lld MiB, pids limit %lld\n", (long long)stats.memory_limit / MiB, (long long)stats.pids_limit);

    if (failed("start", rcontainer_container_start(c))) goto done;
    rcontainer_exit_status_t st;
    if (failed("wait", rcontainer_container_wait(c, 60000, &st))) goto done;
    printf("exit code %d, signal %d, oom_killed %d\n", st.code, st.signal, (int)st.oom_killed);

    /* The cgroup stays readable until the container is deleted. */
    if (failed("stats", rcontainer_container_stats(c, &stats))) goto done;
    printf("oom kills %llu, memory peak %llu MiB\n", (unsigned long long)stats.oom_kills,
           (unsigned long long)stats.memory_peak / MiB);

    if (st.oom_killed && stats.oom_kills > 0 && stats.memory_limit == 32 * MiB) {
        printf("the OOM killer ended the container, as expected\n");
        rc = 0;
    } else {
        printf("expected an OOM kill under a 32 MiB limit\n");
    }

done:
    if (c != NULL) {
        if (failed("delete", rcontainer_container_delete(c, true))) rc = 1;
        rcontainer_container_free(c);
    }
    rcontainer_spec_free(spec);
    return rc;
}
