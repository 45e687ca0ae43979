/* Images through the C ABI: a store of its own, an OCI layout imported into it (the busybox images
 * of tests/images/make-image.sh --extra), the list and its accessors, containers made from the
 * images (the image's command, environment, working directory and user; a Cmd override, an
 * entrypoint override, the caller's env and user winning; a writable copy-on-write root removed
 * by delete; a read-only one), the errors, and removing the images. Run by
 * capi/tests/c_programs.rs (shared and static library, and under valgrind); it doubles as an
 * example.
 *
 *   image LAYOUT STATE_ROOT STORE     (runs real containers: needs root)
 *
 * LAYOUT is the layout directory, named capi-busybox; STORE a directory for the store (made
 * when missing). Every container is deleted and every image removed before it exits.
 *
 * RCONTAINER_UNDER_VALGRIND=1 (set by the test when it runs this under valgrind) allows exactly one
 * difference: valgrind 3.19 does not implement openat2(2), with which the image's /etc/passwd is
 * read (confined to the image's layers) to resolve its User "app", so that create fails there
 * with ENOSYS, naming the file.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "container_core.h"

#define BUSYBOX "docker.io/library/capi-busybox:latest"
#define EXTRA "docker.io/library/capi-busybox:busybox-extra"

/* Out parameters must stay untouched on failure: they start as these. */
#define SENTINEL_LIST ((rcontainer_image_list_t *)0x5a5a)
#define SENTINEL_CONTAINER ((rcontainer_container_t *)0x5a5a)
#define SENTINEL_STORE ((rcontainer_store_t *)0x5a5a)

static const char *store_dir, *state_root;

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

static int under_valgrind(void) {
    const char *v = getenv("RCONTAINER_UNDER_VALGRIND");
    return v != NULL && strcmp(v, "1") == 0;
}

/* Whether `<store>/containers/<id>[/sub]` exists. */
static int in_store(const char *id, const char *sub) {
    char path[4096];
    snprintf(path, sizeof path, "%s/containers/%s%s%s", store_dir, id, sub ? "/" : "", sub ? sub : "");
    return access(path, F_OK) == 0;
}

/* Creates (id may be NULL), starts and waits for a container of `spec` with its stdout in
 * `out`; `check_root`, when not NULL, runs with the container stopped but not deleted (its root
 * still in the store). Deletes it. Returns the exit code, or -1000 when a step failed. */
static int run(rcontainer_spec_t *spec, const char *id, char *out, size_t size, void (*check_root)(const char *id)) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        perror("pipe2");
        return -1000;
    }
    rcontainer_container_t *c = NULL;
    rcontainer_exit_status_t st = {0};
    int code = -1000;
    out[0] = '\0';
    if (FAILED(rcontainer_spec_set_stdio(spec, -1, p[1], -1)) || FAILED(rcontainer_container_create(spec, id, state_root, &c))) goto done;
    close(p[1]);
    p[1] = -1;
    if (FAILED(rcontainer_container_start(c))) goto done;
    read_all(p[0], out, size);
    if (FAILED(rcontainer_container_wait(c, 30000, &st))) goto done;
    code = st.code;
    if (check_root) check_root(rcontainer_container_id(c));
done:
    if (c) {
        char cid[256];
        snprintf(cid, sizeof cid, "%s", rcontainer_container_id(c));
        CHECK(!FAILED(rcontainer_container_delete(c, true)));
        /* delete removes the container's copy-on-write root from the store. */
        CHECK(!in_store(cid, NULL));
        rcontainer_container_free(c);
    }
    if (p[0] >= 0) close(p[0]);
    if (p[1] >= 0) close(p[1]);
    return code;
}

static void writable_root(const char *id) {
    /* What the container wrote is in its upper directory, not in the image's layers. */
    CHECK(in_store(id, "upper/written"));
}

static void read_only_root(const char *id) {
    CHECK(in_store(id, "rootfs"));
    CHECK(!in_store(id, "upper"));
}

/* The index of `name` in `list`, or -1. */
static long find(const rcontainer_image_list_t *list, const char *name) {
    for (size_t i = 0; i < rcontainer_image_list_count(list); i++)
        if (strcmp(rcontainer_image_list_name(list, i), name) == 0) return (long)i;
    return -1;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s LAYOUT STATE_ROOT STORE\n", argv[0]);
        return 2;
    }
    const char *layout = argv[1];
    state_root = argv[2];
    store_dir = argv[3];
    char out[4096], id[64];

    rcontainer_store_t *store = NULL;
    if (FAILED(rcontainer_store_open(store_dir, &store))) return 1;
    CHECK(rcontainer_store_path(store) != NULL && strcmp(rcontainer_store_path(store), store_dir) == 0);

    /* Nothing in it yet: set_image names the image and the store; it never pulls. */
    rcontainer_spec_t *spec = rcontainer_spec_new();
    EXPECT_ERR(rcontainer_spec_set_image(spec, store, "capi-busybox", NULL, NULL), RCONTAINER_ERROR_NOT_FOUND, "capi-busybox");
    EXPECT_ERR(rcontainer_spec_set_image(spec, store, "capi-busybox", NULL, NULL), RCONTAINER_ERROR_NOT_FOUND, store_dir);

    /* Import: a NAME names one image only; the layout holds three. */
    rcontainer_image_list_t *imported = SENTINEL_LIST;
    EXPECT_ERR(rcontainer_image_import(store, layout, "one:name", &imported), RCONTAINER_ERROR_INVALID_CONFIG, "a NAME can only name one");
    CHECK(imported == SENTINEL_LIST);
    imported = NULL;
    if (FAILED(rcontainer_image_import(store, layout, NULL, &imported))) return 1;
    CHECK(rcontainer_image_list_count(imported) == 3);
    CHECK(find(imported, BUSYBOX) >= 0 && find(imported, EXTRA) >= 0);
    rcontainer_image_list_free(imported);

    /* The list and its accessors. */
    rcontainer_image_list_t *list = NULL;
    if (FAILED(rcontainer_image_list(store, &list))) return 1;
    CHECK(rcontainer_image_list_count(list) == 3);
    long i = find(list, BUSYBOX);
    CHECK(i >= 0);
    char image_id[80] = "";
    if (i >= 0) {
        size_t k = (size_t)i;
        CHECK(strcmp(rcontainer_image_list_repository(list, k), "capi-busybox") == 0);
        CHECK(strcmp(rcontainer_image_list_tag(list, k), "latest") == 0);
        CHECK(strncmp(rcontainer_image_list_id(list, k), "sha256:", 7) == 0 && strlen(rcontainer_image_list_id(list, k)) == 71);
        CHECK(strncmp(rcontainer_image_list_digest(list, k), "sha256:", 7) == 0);
        CHECK(strcmp(rcontainer_image_list_created(list, k), "2024-01-01T00:00:00Z") == 0);
        CHECK(rcontainer_image_list_size(list, k) > 100000);
        /* 16 hex digits of the id name the image too. */
        snprintf(image_id, sizeof image_id, "%.16s", rcontainer_image_list_id(list, k) + 7);
        printf("image %s %s %s %llu bytes\n", rcontainer_image_list_name(list, k), rcontainer_image_list_tag(list, k), image_id,
               (unsigned long long)rcontainer_image_list_size(list, k));
    }
    size_t n = rcontainer_image_list_count(list);
    CHECK(rcontainer_image_list_name(list, n) == NULL && rcontainer_image_list_id(list, n) == NULL && rcontainer_image_list_size(list, n) == 0);
    CHECK(rcontainer_image_list_name(NULL, 0) == NULL && rcontainer_image_list_count(NULL) == 0);
    rcontainer_image_list_free(list);
    rcontainer_image_list_free(NULL);
    /* A freed list reads as empty, never as memory. */
    CHECK(rcontainer_image_list_count(list) == 0 && rcontainer_image_list_name(list, 0) == NULL);

    /* Pull when missing: the store has it, so no registry is asked; the full name comes back. */
    char *full = NULL;
    if (!FAILED(rcontainer_image_pull(store, "capi-busybox", RCONTAINER_PULL_IF_MISSING, NULL, NULL, &full))) {
        CHECK(full != NULL && strcmp(full, BUSYBOX) == 0);
        rcontainer_string_free(full);
    }

    /* 1. The image's root and config with a Cmd override (docker run IMAGE CMD...); the caller's
     * env (set after) added; a writable root; the exit status. */
    const char *script[] = {"sh", "-c",
                            "echo pid $$; echo user $(id -u):$(id -g); echo cwd $(pwd); echo path $PATH; echo mine $MINE; "
                            "echo written > /written && cat /written; exit 7",
                            NULL};
    if (!FAILED(rcontainer_spec_set_image(spec, store, "capi-busybox", NULL, script)) && !FAILED(rcontainer_spec_set_env(spec, "MINE", "yes"))) {
        snprintf(id, sizeof id, "image-%d", (int)getpid());
        int code = run(spec, id, out, sizeof out, writable_root);
        printf("1: exit %d: %s", code, out);
        CHECK(code == 7);
        CHECK(strstr(out, "pid 1\n") != NULL);
        CHECK(strstr(out, "user 0:0\n") != NULL);
        CHECK(strstr(out, "cwd /\n") != NULL);
        CHECK(strstr(out, "path /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n") != NULL);
        CHECK(strstr(out, "mine yes\n") != NULL);
        CHECK(strstr(out, "written\n") != NULL);
        /* The spec is reusable: a second container gets a root of its own (a fresh upper). */
        const char *again[] = {"sh", "-c", "test -e /written && echo stale || echo fresh", NULL};
        if (!FAILED(rcontainer_spec_set_args(spec, again))) {
            CHECK(run(spec, NULL, out, sizeof out, NULL) == 0);
            CHECK(strcmp(out, "fresh\n") == 0);
        }
    }

    /* An id whose root is in the store already (a live container's): refused, and that root is
     * not touched. An invalid id: refused, nothing left in the store. */
    {
        const char *sleeper[] = {"sleep", "30", NULL};
        rcontainer_spec_t *s2 = rcontainer_spec_new();
        rcontainer_container_t *live = NULL, *dup = SENTINEL_CONTAINER;
        snprintf(id, sizeof id, "image-live-%d", (int)getpid());
        if (!FAILED(rcontainer_spec_set_image(s2, store, BUSYBOX, NULL, sleeper)) && !FAILED(rcontainer_container_create(s2, id, state_root, &live))) {
            EXPECT_ERR(rcontainer_container_create(s2, id, state_root, &dup), RCONTAINER_ERROR_ALREADY_EXISTS, id);
            CHECK(dup == SENTINEL_CONTAINER);
            CHECK(in_store(id, "upper"));
            CHECK(!FAILED(rcontainer_container_delete(live, true)));
            CHECK(!in_store(id, NULL));
        }
        rcontainer_container_free(live);
        EXPECT_ERR(rcontainer_container_create(s2, "bad/id", state_root, &dup), RCONTAINER_ERROR_INVALID_CONFIG, "bad/id");
        CHECK(!in_store("bad", NULL));
        rcontainer_spec_free(s2);
    }

    /* 2. An entrypoint override (docker run --entrypoint echo IMAGE from entrypoint), the image
     * named by 16 hex digits of its id, through run_pipes. */
    {
        rcontainer_spec_t *s2 = rcontainer_spec_new();
        const char *words[] = {"from", "entrypoint", NULL};
        rcontainer_container_t *c = NULL;
        int out_fd = -1;
        if (!FAILED(rcontainer_spec_set_image(s2, store, image_id, "echo", words)) &&
            !FAILED(rcontainer_container_run_pipes(s2, NULL, state_root, &c, NULL, &out_fd, NULL))) {
            read_all(out_fd, out, sizeof out);
            rcontainer_exit_status_t st = {0};
            CHECK(!FAILED(rcontainer_container_wait(c, 30000, &st)));
            printf("2: exit %d: %s", st.code, out);
            CHECK(st.code == 0 && strcmp(out, "from entrypoint\n") == 0);
            CHECK(!FAILED(rcontainer_container_delete(c, true)));
            close(out_fd);
        }
        rcontainer_container_free(c);
        rcontainer_spec_free(s2);
    }

    /* 3. busybox-extra: Entrypoint ["/bin/sh","-c"], Cmd, Env FOO=bar, WorkingDir /extra, User
     * app (a name, looked up in the image's /etc/passwd at create), a second layer. */
    {
        rcontainer_spec_t *s3 = rcontainer_spec_new();
        char *json = NULL;
        if (!FAILED(rcontainer_spec_set_image(s3, store, "capi-busybox:busybox-extra", NULL, NULL)) && !FAILED(rcontainer_spec_to_json(s3, &json))) {
            /* The image's command: Entrypoint then Cmd. */
            const char *sh = strstr(json, "\"/bin/sh\""), *c = sh ? strstr(sh, "\"-c\"") : NULL;
            CHECK(c != NULL && strstr(c, "\"echo from-extra; cat /extra/hello.txt\"") != NULL);
            CHECK(strstr(json, "\"FOO=bar\"") != NULL && strstr(json, "\"cwd\": \"/extra\"") != NULL);
            rcontainer_string_free(json);
            if (under_valgrind()) {
                rcontainer_container_t *c = SENTINEL_CONTAINER;
                rcontainer_error_t *err = rcontainer_container_create(s3, NULL, state_root, &c);
                CHECK(rcontainer_error_errno(err) == ENOSYS && c == SENTINEL_CONTAINER);
                EXPECT_ERR(err, RCONTAINER_ERROR_OS, "/etc/passwd");
                printf("3: valgrind has no openat2: the image's User is not looked up\n");
            } else {
                int code = run(s3, NULL, out, sizeof out, NULL);
                printf("3: exit %d: %s", code, out);
                CHECK(code == 0 && strcmp(out, "from-extra\nhello from layer 2\n") == 0);
            }
        }
        /* A Cmd override keeps the Entrypoint (sh -c). */
        const char *cmd[] = {"echo $(id -u):$(id -g) $(pwd) $FOO", NULL};
        if (!under_valgrind() && !FAILED(rcontainer_spec_set_image(s3, store, EXTRA, NULL, cmd))) {
            int code = run(s3, NULL, out, sizeof out, NULL);
            printf("3: exit %d: %s", code, out);
            CHECK(code == 0 && strcmp(out, "1000:1000 /extra bar\n") == 0);
        }
        /* The caller's user wins over the image's, set before the image as after it. */
        if (!FAILED(rcontainer_spec_set_user(s3, 0, 0)) && !FAILED(rcontainer_spec_set_image(s3, store, EXTRA, NULL, cmd))) {
            CHECK(run(s3, NULL, out, sizeof out, NULL) == 0);
            CHECK(strcmp(out, "0:0 /extra bar\n") == 0);
        }
        rcontainer_spec_free(s3);
    }

    /* 4. A read-only root (chosen before the image): the layers alone, no upper directory. */
    {
        rcontainer_spec_t *s4 = rcontainer_spec_new();
        const char *touch[] = {"sh", "-c", "touch /x 2>/dev/null && echo wrote || echo read-only", NULL};
        if (!FAILED(rcontainer_spec_set_readonly_root(s4, true)) && !FAILED(rcontainer_spec_set_image(s4, store, BUSYBOX, NULL, touch))) {
            CHECK(run(s4, NULL, out, sizeof out, read_only_root) == 0);
            printf("4: %s", out);
            CHECK(strcmp(out, "read-only\n") == 0);
        }
        rcontainer_spec_free(s4);
    }

    /* Bad input: NULLs, bad UTF-8, unknown flags, half credentials, a default-root spec. */
    {
        rcontainer_store_t *none = SENTINEL_STORE;
        EXPECT_ERR(rcontainer_store_open(NULL, NULL), RCONTAINER_ERROR_INVALID_ARGUMENT, "out");
        EXPECT_ERR(rcontainer_store_open("/tmp/a,b", &none), RCONTAINER_ERROR_INVALID_CONFIG, "/tmp/a,b");
        CHECK(none == SENTINEL_STORE);
        EXPECT_ERR(rcontainer_spec_set_image(spec, NULL, "x", NULL, NULL), RCONTAINER_ERROR_INVALID_ARGUMENT, "store is NULL");
        EXPECT_ERR(rcontainer_spec_set_image(NULL, store, "x", NULL, NULL), RCONTAINER_ERROR_INVALID_ARGUMENT, "spec is NULL");
        EXPECT_ERR(rcontainer_spec_set_image(spec, store, NULL, NULL, NULL), RCONTAINER_ERROR_INVALID_ARGUMENT, "image is NULL");
        EXPECT_ERR(rcontainer_spec_set_image(spec, store, "\xff", NULL, NULL), RCONTAINER_ERROR_INVALID_ARGUMENT, "UTF-8");
        const char *bad_args[] = {"ok", "\xfe", NULL};
        EXPECT_ERR(rcontainer_spec_set_image(spec, store, BUSYBOX, NULL, bad_args), RCONTAINER_ERROR_INVALID_ARGUMENT, "args[1]");
        EXPECT_ERR(rcontainer_spec_set_image(spec, (rcontainer_store_t *)spec, BUSYBOX, NULL, NULL), RCONTAINER_ERROR_INVALID_ARGUMENT,
                   "is a rcontainer_spec_t, not a rcontainer_store_t");
        EXPECT_ERR(rcontainer_image_pull(store, BUSYBOX, 1u << 7, NULL, NULL, NULL), RCONTAINER_ERROR_INVALID_ARGUMENT, "flags");
        EXPECT_ERR(rcontainer_image_pull(store, BUSYBOX, 0, "user", NULL, NULL), RCONTAINER_ERROR_INVALID_ARGUMENT, "password");
        EXPECT_ERR(rcontainer_image_pull(store, "Not A Reference", 0, NULL, NULL, NULL), RCONTAINER_ERROR_INVALID_CONFIG, "Not A Reference");
        EXPECT_ERR(rcontainer_image_import(store, NULL, NULL, NULL), RCONTAINER_ERROR_INVALID_ARGUMENT, "path is NULL");
        EXPECT_ERR(rcontainer_image_import(store, "/nonexistent/layout", NULL, NULL), RCONTAINER_ERROR_OS, "/nonexistent/layout");
        EXPECT_ERR(rcontainer_image_list(store, NULL), RCONTAINER_ERROR_INVALID_ARGUMENT, "out");
        EXPECT_ERR(rcontainer_image_remove(store, NULL, NULL), RCONTAINER_ERROR_INVALID_ARGUMENT, "image is NULL");
        rcontainer_spec_t *dr = rcontainer_spec_new();
        if (!FAILED(rcontainer_spec_set_default_root(dr, state_root)))
            EXPECT_ERR(rcontainer_spec_set_image(dr, store, BUSYBOX, NULL, NULL), RCONTAINER_ERROR_INVALID_ARGUMENT, "default root");
        rcontainer_spec_free(dr);
        /* An image with no command left: --entrypoint "" and no args. */
        EXPECT_ERR(rcontainer_spec_set_image(spec, store, BUSYBOX, "", NULL), RCONTAINER_ERROR_INVALID_CONFIG, "no command");
    }

    /* Remove: the name goes, then what nothing uses any more; a second remove finds nothing. */
    if (!FAILED(rcontainer_image_remove(store, BUSYBOX, state_root))) {
        EXPECT_ERR(rcontainer_spec_set_image(spec, store, "capi-busybox", NULL, NULL), RCONTAINER_ERROR_NOT_FOUND, "capi-busybox");
        EXPECT_ERR(rcontainer_image_remove(store, BUSYBOX, state_root), RCONTAINER_ERROR_NOT_FOUND, "capi-busybox");
    }
    CHECK(!FAILED(rcontainer_image_remove(store, "capi-busybox:busybox-extra", NULL)));
    CHECK(!FAILED(rcontainer_image_remove(store, "capi-busybox:multi", NULL)));
    list = NULL;
    if (!FAILED(rcontainer_image_list(store, &list))) CHECK(rcontainer_image_list_count(list) == 0);
    rcontainer_image_list_free(list);
    {
        /* No layer is left unpacked. */
        char path[4096];
        snprintf(path, sizeof path, "%s/layers", store_dir);
        DIR *d = opendir(path);
        int layers = 0;
        for (struct dirent *e; d && (e = readdir(d)) != NULL;)
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) layers++;
        if (d) closedir(d);
        CHECK(d != NULL && layers == 0);
    }

    rcontainer_spec_free(spec);
    rcontainer_store_free(store);
    rcontainer_store_free(store); /* freed already: ignored */
    rcontainer_store_free(NULL);
    printf("%d passed, %d failed\n", passed, failures);
    return failures != 0;
}
