/* `docker run IMAGE [CMD...]` in C: a container from an image of the store (the `rcontainer`
 * command's), its root a copy-on-write overlay of the image's layers, its command, environment,
 * working directory and user the image's (CMD replaces the image's Cmd), with Docker's security
 * defaults. The image is pulled when the store lacks it; -i imports an OCI layout or `docker
 * save` archive first (offline).
 *
 *   image_run [-s STORE] [-r STATE_ROOT] [-i ARCHIVE] [-e ENTRYPOINT] [-p] IMAGE [CMD...]
 *
 *   -s  the image store (default: $RCONTAINER_STORE, else /var/lib/rcontainer)
 *   -r  the state root (default: /run/rcontainer)
 *   -p  plain http to the registry (a local one, e.g. 127.0.0.1:5000/busybox)
 *
 * e.g. sudo ./image_run busybox echo hello      (needs root; pulls busybox from Docker Hub once)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <container_core.h>

static int usage(const char *prog) {
    fprintf(stderr, "usage: %s [-s STORE] [-r STATE_ROOT] [-i ARCHIVE] [-e ENTRYPOINT] [-p] IMAGE [CMD...]\n", prog);
    return 2;
}

int main(int argc, char **argv) {
    const char *store_path = NULL, *state_root = NULL, *archive = NULL, *entrypoint = NULL;
    unsigned flags = RCONTAINER_PULL_IF_MISSING;
    for (int opt; (opt = getopt(argc, argv, "+s:r:i:e:p")) != -1;) {
        switch (opt) {
        case 's': store_path = optarg; break;
        case 'r': state_root = optarg; break;
        case 'i': archive = optarg; break;
        case 'e': entrypoint = optarg; break;
        case 'p': flags |= RCONTAINER_PULL_PLAIN_HTTP; break;
        default: return usage(argv[0]);
        }
    }
    if (optind >= argc) return usage(argv[0]);
    const char *image = argv[optind];
    /* The rest replaces the image's Cmd: argv is NULL-terminated already. NULL: the image's. */
    const char *const *cmd = optind + 1 < argc ? (const char *const *)&argv[optind + 1] : NULL;

    rcontainer_store_t *store = NULL;
    rcontainer_image_list_t *imported = NULL;
    rcontainer_spec_t *spec = rcontainer_spec_new();
    rcontainer_container_t *c = NULL;
    rcontainer_exit_status_t st = {0};
    char *name = NULL;

    rcontainer_error_t *err = rcontainer_store_open(store_path, &store);
    if (!err && archive) err = rcontainer_image_import(store, archive, NULL, &imported);
    if (!err && imported) {
        for (size_t i = 0; i < rcontainer_image_list_count(imported); i++)
            fprintf(stderr, "imported %s (%.19s)\n", rcontainer_image_list_name(imported, i), rcontainer_image_list_id(imported, i));
    }
    /* What `rcontainer run IMAGE` does: pull only when the store lacks it. */
    if (!err) err = rcontainer_image_pull(store, image, flags, NULL, NULL, &name);
    if (!err) err = rcontainer_spec_set_docker_defaults(spec);
    /* The image's config onto the spec; each container gets its own copy-on-write root at create. */
    if (!err) err = rcontainer_spec_set_image(spec, store, name, entrypoint, cmd);
    if (!err) err = rcontainer_container_create(spec, NULL, state_root, &c);
    if (!err) err = rcontainer_container_start(c);
    if (!err) err = rcontainer_container_wait(c, -1, &st);
    int failed = err != NULL;
    if (failed) fprintf(stderr, "image_run: %s\n", rcontainer_error_message(err));
    rcontainer_error_free(err);
    /* delete also removes the container's root (its upper directory) from the store. */
    if (c) rcontainer_error_free(rcontainer_container_delete(c, true));
    rcontainer_container_free(c);
    rcontainer_spec_free(spec);
    rcontainer_string_free(name);
    rcontainer_image_list_free(imported);
    rcontainer_store_free(store);
    if (failed) return 125;
    return st.signal ? 128 + st.signal : st.code;
}
