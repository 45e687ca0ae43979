/*
 * container_core.h: the C ABI of rcontainer (libcontainer_core.so / libcontainer_core.a).
 *
 * Run Linux processes in namespaces and cgroups:
 *
 *   rcontainer_spec_t *spec = rcontainer_spec_new();           // runc's defaults
 *   const char *argv[] = {"ps", NULL};
 *   rcontainer_container_t *c = NULL;
 *   rcontainer_error_t *err = rcontainer_spec_set_args(spec, argv);
 *   if (!err) err = rcontainer_spec_set_rootfs(spec, "/path/to/rootfs");
 *   if (!err) err = rcontainer_container_create(spec, NULL, NULL, &c);  // NULL: a new id
 *   if (!err) err = rcontainer_container_start(c);
 *   rcontainer_exit_status_t st;
 *   if (!err) err = rcontainer_container_wait(c, -1, &st);
 *   if (err) { fprintf(stderr, "%s\n", rcontainer_error_message(err)); rcontainer_error_free(err); }
 *   if (c) { rcontainer_error_free(rcontainer_container_delete(c, true)); rcontainer_container_free(c); }
 *   rcontainer_spec_free(spec);
 *
 * From an image instead of a root filesystem directory (the command's store and images):
 *
 *   rcontainer_store_t *store = NULL;
 *   err = rcontainer_store_open(NULL, &store);                  // NULL: /var/lib/rcontainer
 *   if (!err) err = rcontainer_image_pull(store, "busybox", RCONTAINER_PULL_IF_MISSING, NULL, NULL, NULL);
 *   if (!err) err = rcontainer_spec_set_image(spec, store, "busybox", NULL, argv);  // argv: Cmd
 *   ... rcontainer_container_create(spec, ...) as above; delete removes its copy-on-write root
 *   rcontainer_store_free(store);
 *
 * Link: gcc app.c $(pkg-config --cflags --libs container_core)
 *
 * CONVENTIONS
 * - Errors: a fallible function returns rcontainer_error_t * : NULL on success, else an error the
 *   CALLER OWNS and frees with rcontainer_error_free() (RCONTAINER_NODISCARD: compilers warn when
 *   the result is ignored). rcontainer_error_message(),
 *   rcontainer_error_kind() (RCONTAINER_ERROR_*) and rcontainer_error_errno() read it. On failure,
 *   out parameters are left untouched.
 * - Bad arguments never crash: a NULL handle or pointer, a string that is not UTF-8, or a handle
 *   freed already (where detectable: handles are looked up in a registry before use) gives
 *   RCONTAINER_ERROR_INVALID_ARGUMENT; a wrong lifecycle state RCONTAINER_ERROR_WRONG_STATE.
 *   Internal errors are caught and reported as RCONTAINER_ERROR_INTERNAL.
 * - Ownership of pointers:
 *   - Handles (rcontainer_spec_t, rcontainer_container_t, rcontainer_exec_options_t,
 *     rcontainer_process_t, rcontainer_store_t, rcontainer_image_list_t, rcontainer_error_t) are
 *     owned by the caller who received them and freed with their _free function (NULL is
 *     accepted; freeing a freed handle is ignored). rcontainer_container_free() does not delete
 *     the container, rcontainer_process_free() does not kill the process,
 *     rcontainer_store_free() removes no image.
 *   - const char * results (rcontainer_error_message(), rcontainer_container_id(),
 *     rcontainer_store_path(), rcontainer_image_list_name() and the other list accessors) are
 *     borrowed from their handle and valid until it is freed; rcontainer_version() and
 *     rcontainer_namespace_name() return static strings. Never free these.
 *   - char * results (rcontainer_spec_to_json(), rcontainer_container_state_json(),
 *     rcontainer_image_pull()'s name) are owned by the caller: free them with
 *     rcontainer_string_free().
 *   - String and array arguments are only read during the call and copied where kept.
 *   - Plain value structs (rcontainer_exit_status_t, rcontainer_stats_t, rcontainer_limits_t,
 *     rcontainer_id_map_t) are the caller's, usually on its stack; rcontainer fills the first two
 *     and only reads the others (and the strings in rcontainer_limits_t) during the call.
 * - Ownership of file descriptors:
 *   - stdio fds given to rcontainer_spec_set_stdio() stay the caller's; they are only used
 *     (duplicated into the container) during rcontainer_container_create().
 *   - The pidfd from rcontainer_container_pidfd() belongs to the container handle: never close
 *     it; it is valid until rcontainer_container_delete() or rcontainer_container_free(). The same
 *     holds for rcontainer_process_pidfd() (until reaped or freed) and for the pty masters from
 *     rcontainer_container_pty_fd() and rcontainer_process_pty_fd(); a master taken with
 *     rcontainer_container_take_pty() or rcontainer_process_take_pty() is the caller's to close.
 *   - stdio fds given to rcontainer_exec_options_set_stdio() stay the caller's; they are only
 *     used during rcontainer_container_exec().
 *   - All fds rcontainer opens itself are close-on-exec.
 * - Threads: different handles may be used from different threads at once; one handle must not
 *   be used by two threads at the same time. The library never installs signal handlers.
 * - Privilege: creating containers needs root (or a user namespace with id maps).
 */


#ifndef CONTAINER_CORE_H
#define CONTAINER_CORE_H

/* Generated by cbindgen from capi/src (capi/cbindgen.toml); do not edit by hand.
 * Regenerate: UPDATE_HEADER=1 cargo test -p rcontainer-capi --test header */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Marks the functions whose result (an error object the caller owns) must not be ignored. */
#if defined(__GNUC__) || defined(__clang__)
#define RCONTAINER_NODISCARD __attribute__((warn_unused_result))
#else
#define RCONTAINER_NODISCARD
#endif

/**
 * Major version of the library this header belongs to (the SONAME is libcontainer_core.so.MAJOR).
 */
#define RCONTAINER_VERSION_MAJOR 0

/**
 * Minor version of the library this header belongs to.
 */
#define RCONTAINER_VERSION_MINOR 1

/**
 * Patch version of the library this header belongs to.
 */
#define RCONTAINER_VERSION_PATCH 0

/**
 * Error kind: the configuration (spec, id, option) is invalid; nothing was created.
 */
#define RCONTAINER_ERROR_INVALID_CONFIG 1

/**
 * Error kind: no container with that id (or, from the image functions, no image of that name in
 * the store or the registry).
 */
#define RCONTAINER_ERROR_NOT_FOUND 2

/**
 * Error kind: a container with that id exists already.
 */
#define RCONTAINER_ERROR_ALREADY_EXISTS 3

/**
 * Error kind: the call is not allowed in the container's current lifecycle state.
 */
#define RCONTAINER_ERROR_WRONG_STATE 4

/**
 * Error kind: a system call failed; rcontainer_error_errno() says which errno.
 */
#define RCONTAINER_ERROR_OS 5

/**
 * Error kind: a wait ran out of time (errno ETIMEDOUT).
 */
#define RCONTAINER_ERROR_TIMEOUT 6

/**
 * Error kind: the request is valid but this build or kernel cannot do it.
 */
#define RCONTAINER_ERROR_UNSUPPORTED 7

/**
 * Error kind: a bad argument to the C ABI itself: a NULL pointer, a string that is not UTF-8, a
 * handle that was freed already (where detectable) or is of the wrong type.
 */
#define RCONTAINER_ERROR_INVALID_ARGUMENT 8

/**
 * Error kind: an internal error (a bug in rcontainer, caught before it crossed the ABI).
 */
#define RCONTAINER_ERROR_INTERNAL 9

/**
 * Namespace bit (rcontainer_available_namespaces()): mount namespaces.
 */
#define RCONTAINER_NS_MOUNT (1 << 0)

/**
 * Namespace bit: pid namespaces.
 */
#define RCONTAINER_NS_PID (1 << 1)

/**
 * Namespace bit: network namespaces.
 */
#define RCONTAINER_NS_NETWORK (1 << 2)

/**
 * Namespace bit: ipc namespaces.
 */
#define RCONTAINER_NS_IPC (1 << 3)

/**
 * Namespace bit: uts (hostname) namespaces.
 */
#define RCONTAINER_NS_UTS (1 << 4)

/**
 * Namespace bit: user namespaces.
 */
#define RCONTAINER_NS_USER (1 << 5)

/**
 * Namespace bit: cgroup namespaces.
 */
#define RCONTAINER_NS_CGROUP (1 << 6)

/**
 * Namespace bit: time namespaces.
 */
#define RCONTAINER_NS_TIME (1 << 7)

/**
 * Cgroup layout (rcontainer_cgroup_layout()): only cgroup v1 hierarchies.
 */
#define RCONTAINER_CGROUP_V1 1

/**
 * Cgroup layout: only the unified cgroup v2 hierarchy at /sys/fs/cgroup.
 */
#define RCONTAINER_CGROUP_V2 2

/**
 * Cgroup layout: hybrid, v1 controllers plus a cgroup2 tree at /sys/fs/cgroup/unified.
 */
#define RCONTAINER_CGROUP_HYBRID 3

/**
 * Container status (rcontainer_container_status()): being set up.
 */
#define RCONTAINER_STATUS_CREATING 1

/**
 * Container status: set up, its process waits for rcontainer_container_start() before exec.
 */
#define RCONTAINER_STATUS_CREATED 2

/**
 * Container status: its process runs.
 */
#define RCONTAINER_STATUS_RUNNING 3

/**
 * Container status: frozen.
 */
#define RCONTAINER_STATUS_PAUSED 4

/**
 * Container status: its process has ended.
 */
#define RCONTAINER_STATUS_STOPPED 5

/**
 * Pull flag (rcontainer_image_pull()): talk plain http to the registry instead of https (a
 * local registry you trust, e.g. 127.0.0.1:5000).
 */
#define RCONTAINER_PULL_PLAIN_HTTP (1 << 0)

/**
 * Pull flag: do nothing when the store already has an image of that name (as `rcontainer run
 * IMAGE` does before it runs one); without it the registry is always asked (a tag may have
 * moved).
 */
#define RCONTAINER_PULL_IF_MISSING (1 << 1)

/**
 * A handle on one container, made by rcontainer_container_create() (a new container) or
 * rcontainer_container_load() (one created earlier, maybe by another process).
 *
 * Ownership: the caller owns the handle and frees it with rcontainer_container_free(). Freeing
 * the handle does not delete the container: call rcontainer_container_delete() first (a
 * container that is neither deleted nor waited for stays, as its state directory and, in the
 * creating process, a zombie until that process exits). A handle must not be used by two
 * threads at once (it may move between threads).
 */
typedef struct rcontainer_container_t rcontainer_container_t;

/**
 * An error returned by a fallible rcontainer call: a message, a kind (RCONTAINER_ERROR_*) and,
 * for OS errors, an errno.
 *
 * Ownership: the caller owns every error returned to it and frees it with rcontainer_error_free().
 */
typedef struct rcontainer_error_t rcontainer_error_t;

/**
 * How to exec a process into a container (rcontainer_container_exec()). Without changes it runs
 * as `runc exec` and `docker exec` do: the container's own process (its environment, working
 * directory, user, capabilities, no_new_privileges, rlimits) with the new command, no terminal,
 * and the caller's stdin, stdout and stderr.
 *
 * Ownership: the caller owns it (rcontainer_exec_options_new()) and frees it with
 * rcontainer_exec_options_free(). rcontainer_container_exec() only reads it: it can be used
 * again, or freed, right after. It must not be used by two threads at once.
 */
typedef struct rcontainer_exec_options_t rcontainer_exec_options_t;

/**
 * A list of images (rcontainer_image_list(), rcontainer_image_import()): a snapshot, read with
 * rcontainer_image_list_count() and the accessors rcontainer_image_list_name(), _repository(),
 * _tag(), _id(), _digest(), _created() and _size(), which take an index from 0 to count - 1.
 *
 * Ownership: the caller owns the list and frees it with rcontainer_image_list_free(); the
 * strings the accessors return are borrowed from it (valid until then; never free them).
 */
typedef struct rcontainer_image_list_t rcontainer_image_list_t;

/**
 * A process exec'd into a container by rcontainer_container_exec(). It is this program's child:
 * the library reaps it when it ends (do not waitpid() it yourself) and keeps its status for
 * rcontainer_process_wait().
 *
 * Ownership: the caller owns the handle and frees it with rcontainer_process_free(). Only this
 * process can wait for it. A handle must not be used by two threads at once (it may move
 * between threads). The handle does not refer to its container's handle: either may be freed
 * first.
 */
typedef struct rcontainer_process_t rcontainer_process_t;

/**
 * A container configuration: an OCI runtime spec (config.json), the bundle directory its relative
 * paths resolve against, and the stdio fds the container gets.
 *
 * Ownership: the caller owns a spec it got from rcontainer_spec_new(),
 * rcontainer_spec_from_json() or rcontainer_spec_from_bundle() and frees it with
 * rcontainer_spec_free(). rcontainer_container_create() only reads it: the spec can be changed
 * and used again, or freed, right after. A spec must not be used by two threads at once.
 */
typedef struct rcontainer_spec_t rcontainer_spec_t;

/**
 * The local image store: a directory of content-addressed blobs, unpacked layers, image names
 * and the copy-on-write roots of containers made from images (the same store, format and
 * locking as the `rcontainer` command's: `rcontainer images` lists what a program pulled).
 *
 * Ownership: the caller owns a store from rcontainer_store_open() and frees it with
 * rcontainer_store_free(). A spec given the store by rcontainer_spec_set_image() keeps what it
 * needs of it: the store handle may be freed before the containers are created. A store must
 * not be used by two threads at once (two handles on the same directory may: the store locks
 * what it changes, also against other processes).
 */
typedef struct rcontainer_store_t rcontainer_store_t;

/**
 * How a container's process (or an exec'd process) ended (filled by rcontainer_container_wait()
 * and rcontainer_process_wait()).
 */
typedef struct {
  /**
   * The exit code when the process exited; -1 when a signal killed it.
   */
  int32_t code;
  /**
   * The signal that killed the process; 0 when it exited.
   */
  int32_t signal;
  /**
   * Whether the kernel's OOM killer killed a process of the container (needs a memory limit).
   */
  bool oom_killed;
} rcontainer_exit_status_t;

/**
 * Cgroup limits, for rcontainer_spec_set_limits() (at creation) and rcontainer_container_limit()
 * (on a live container). A plain value struct: zero-initialize it (`rcontainer_limits_t l = {0};`)
 * and set only the fields wanted. In every field 0 (or NULL) means "not set: leave as it is";
 * where a field says so, -1 means "unlimited" (as in OCI's linux.resources).
 *
 * Ownership: the struct and its strings belong to the caller; they are only read during the call
 * (and copied where kept).
 */
typedef struct {
  /**
   * Memory limit in bytes (at least 1 MiB); -1: unlimited.
   */
  int64_t memory;
  /**
   * Memory plus swap limit in bytes (at least `memory`, as runc's --memory-swap); -1: unlimited swap.
   */
  int64_t memory_swap;
  /**
   * Memory soft limit (reservation) in bytes; -1: none.
   */
  int64_t memory_reservation;
  /**
   * CPU limit in CPUs (0.5 = half a CPU): a quota over `cpu_period` (default 100 ms), as `docker --cpus`.
   */
  double cpus;
  /**
   * Relative CPU weight (cgroup v1 cpu.shares; converted to cpu.weight on v2).
   */
  uint64_t cpu_shares;
  /**
   * CPU time in microseconds the container may use per `cpu_period`; -1: unlimited.
   */
  int64_t cpu_quota;
  /**
   * CPU period in microseconds.
   */
  uint64_t cpu_period;
  /**
   * CPUs the container may run on, e.g. "0-1" or "0,2"; NULL: not set.
   */
  const char *cpuset_cpus;
  /**
   * Memory nodes the container may use, e.g. "0"; NULL: not set.
   */
  const char *cpuset_mems;
  /**
   * Maximum number of processes; -1: unlimited.
   */
  int64_t pids;
} rcontainer_limits_t;

/**
 * A snapshot of a container's cgroup accounting (filled by rcontainer_container_stats()).
 */
typedef struct {
  /**
   * Memory charged now, bytes.
   */
  uint64_t memory_usage;
  /**
   * Highest memory charge seen, bytes (0 when the kernel does not track it).
   */
  uint64_t memory_peak;
  /**
   * The memory limit in force, bytes; -1 when unlimited.
   */
  int64_t memory_limit;
  /**
   * CPU time used on all CPUs, nanoseconds.
   */
  uint64_t cpu_usage_ns;
  /**
   * User-mode part of cpu_usage_ns.
   */
  uint64_t cpu_user_ns;
  /**
   * Kernel-mode part of cpu_usage_ns.
   */
  uint64_t cpu_system_ns;
  /**
   * Processes in the container's cgroup now.
   */
  uint64_t pids_current;
  /**
   * The process limit in force; -1 when unlimited.
   */
  int64_t pids_limit;
  /**
   * How many processes the kernel's OOM killer ended in the container's cgroup.
   */
  uint64_t oom_kills;
} rcontainer_stats_t;

/**
 * One line of a uid or gid map: `size` ids starting at `container_id` inside the container are
 * `host_id`... outside (as /proc/PID/uid_map).
 */
typedef struct {
  uint32_t container_id;
  uint32_t host_id;
  uint32_t size;
} rcontainer_id_map_t;

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/**
 * The library's version as "MAJOR.MINOR.PATCH" (the version of the library actually loaded,
 * which may differ from the RCONTAINER_VERSION_* macros the program was compiled with).
 *
 * Ownership: a static string; never free it.
 */
const char *rcontainer_version(void);

/**
 * Frees a string that an rcontainer function returned as `char *` with "free it with
 * rcontainer_string_free()" (e.g. rcontainer_spec_to_json()). NULL is ignored.
 *
 * # Safety
 * `s` is NULL or a string returned by rcontainer and not freed yet.
 */
void rcontainer_string_free(char *s);

/**
 * Makes an error (e.g. for a program's own functions that report errors the same way).
 * `kind` is an RCONTAINER_ERROR_* value, `errnum` an errno or 0; `message` is copied (NULL gives
 * an empty message).
 *
 * Returns a new error that the caller owns (free it with rcontainer_error_free()); never NULL
 * (NULL means success everywhere else). Bytes of `message` that are not UTF-8 become U+FFFD.
 *
 * # Safety
 * `message` is NULL or a NUL-terminated string.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_error_new(int32_t kind,
                                         int errnum,
                                         const char *message);

/**
 * Frees an error. NULL and an error freed already are ignored.
 *
 * # Safety
 * `err` is NULL or a pointer that rcontainer returned as an error.
 */
void rcontainer_error_free(rcontainer_error_t *err);

/**
 * The error's message: one line that names what failed and the input that caused it.
 *
 * Ownership: borrowed from `err`; valid until rcontainer_error_free(err). Never NULL: for a NULL
 * or freed `err` it is a static text saying so.
 *
 * # Safety
 * `err` is NULL or a pointer that rcontainer returned as an error.
 */
const char *rcontainer_error_message(const rcontainer_error_t *err);

/**
 * The error's kind: one of RCONTAINER_ERROR_*; RCONTAINER_ERROR_INVALID_ARGUMENT for a NULL or
 * freed `err`.
 *
 * # Safety
 * `err` is NULL or a pointer that rcontainer returned as an error.
 */
int32_t rcontainer_error_kind(const rcontainer_error_t *err);

/**
 * The errno behind the error (e.g. EPERM for a failed mount), or 0 when there is none.
 * Timeouts give ETIMEDOUT, invalid arguments EINVAL.
 *
 * # Safety
 * `err` is NULL or a pointer that rcontainer returned as an error.
 */
int rcontainer_error_errno(const rcontainer_error_t *err);

/**
 * The namespace types this kernel offers (those listed in /proc/self/ns), as a bit set of
 * RCONTAINER_NS_*. 0 when /proc is not mounted.
 */
uint32_t rcontainer_available_namespaces(void);

/**
 * The name of one RCONTAINER_NS_* bit as config.json and rcontainer_spec_set_namespace() spell
 * it ("mount", "pid", "network", "ipc", "uts", "user", "cgroup", "time"); NULL for anything else.
 *
 * Ownership: a static string; never free it.
 */
const char *rcontainer_namespace_name(uint32_t ns);

/**
 * The host's cgroup layout: RCONTAINER_CGROUP_V1, _V2 or _HYBRID.
 */
int32_t rcontainer_cgroup_layout(void);

/**
 * Creates a container named `id` (letters, digits, `_ + . -`; NULL: a new one, `rc-` and 12 hex
 * digits, which rcontainer_container_id() tells) from `spec`: validates the spec,
 * makes the namespaces, mounts and root filesystem, and leaves the process blocked just before
 * exec until rcontainer_container_start(). Its state directory goes under `state_root` (NULL:
 * /run/rcontainer, or for an ordinary user $XDG_RUNTIME_DIR/rcontainer or /tmp/rcontainer-UID;
 * as runc's --root), so other processes can find it by id. Run by an ordinary user, a spec
 * from rcontainer_spec_new() gets a user namespace where the caller is root (rootless).
 *
 * On success `*out` receives a new handle the caller owns. On failure nothing is left behind.
 * `spec` is only read; the stdio fds set on it must stay open until this returns. A spec with an
 * image (rcontainer_spec_set_image()) gives each container a copy-on-write root of its own in
 * the image store, which rcontainer_container_delete() removes.
 *
 * During this call the container's process runs on this process's memory (x86_64, when the
 * container has a pid namespace of its own: clone with CLONE_VM|CLONE_VFORK, so a big host does
 * not pay for copying its page tables), and this process is non-dumpable meanwhile (the flag
 * belongs to the shared memory; the container's process must be non-dumpable until it execs).
 * Both end before this returns: a created container's process is rcontainer's exec stub (a
 * sealed memfd), which waits for rcontainer_container_start() and then execs the command, so
 * it never runs this program's binary nor holds anything of this process. A handle freed
 * before start leaves the container waiting for start, as runc's create does.
 *
 * # Safety
 * `spec` is NULL or a pointer returned by rcontainer; `id` and `state_root` NULL or
 * NUL-terminated; `out` NULL or writable.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_container_create(const rcontainer_spec_t *spec,
                                                const char *id,
                                                const char *state_root,
                                                rcontainer_container_t **out);

/**
 * Creates and starts a container (as rcontainer_container_create() then
 * rcontainer_container_start()) whose stdin, stdout and stderr are new pipes, as minijail's
 * minijail_run_pid_pipes(): for each of `stdin_fd`, `stdout_fd`, `stderr_fd` that is not NULL,
 * the stream is a pipe and `*fd` receives this process's end (write to stdin, read stdout and
 * stderr; close-on-exec; the caller closes them). A NULL pointer leaves that stream as the spec
 * says. Read stdout and stderr while the container runs (poll(2) on them, or a thread each): a
 * container that fills a pipe nobody reads blocks. Then rcontainer_container_wait().
 *
 * On success `*out` receives a new handle the caller owns and the fds are set; on failure
 * nothing is left behind (no container, no fd) and `*out` and the fds are untouched.
 *
 * # Safety
 * As rcontainer_container_create(); `stdin_fd`, `stdout_fd` and `stderr_fd` NULL or writable.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_container_run_pipes(const rcontainer_spec_t *spec,
                                                   const char *id,
                                                   const char *state_root,
                                                   rcontainer_container_t **out,
                                                   int *stdin_fd,
                                                   int *stdout_fd,
                                                   int *stderr_fd);

/**
 * A handle on the container `id` under `state_root` (NULL: /run/rcontainer, or an ordinary user's own state root), created earlier by
 * this or another process. Such a handle can start, kill, inspect and delete the container;
 * only the creating process can learn the exit status (rcontainer_container_wait() fails with
 * RCONTAINER_ERROR_UNSUPPORTED elsewhere, but the pidfd still tells when it exits).
 *
 * On success `*out` receives a new handle the caller owns. RCONTAINER_ERROR_NOT_FOUND when there
 * is no such container.
 *
 * # Safety
 * `state_root` and `id` NULL or NUL-terminated; `out` NULL or writable.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_container_load(const char *state_root,
                                              const char *id,
                                              rcontainer_container_t **out);

/**
 * Frees the handle (and closes its pidfd). Does not delete the container (see
 * rcontainer_container_create() for freeing one that was never started). NULL and a handle freed
 * already are ignored.
 *
 * # Safety
 * `container` is NULL or a pointer returned by rcontainer.
 */
void rcontainer_container_free(rcontainer_container_t *container);

/**
 * The container's id.
 *
 * Ownership: borrowed from `container`; valid until rcontainer_container_free(). NULL for a NULL
 * or freed handle.
 *
 * # Safety
 * `container` is NULL or a pointer returned by rcontainer.
 */
const char *rcontainer_container_id(const rcontainer_container_t *container);

/**
 * Releases the container's process into exec (created → running). In the creating process it
 * returns once the exec happened, or fails with the exec's error (e.g. command not found).
 * RCONTAINER_ERROR_WRONG_STATE unless the container is created.
 *
 * # Safety
 * `container` is NULL or a pointer returned by rcontainer.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_container_start(rcontainer_container_t *container);

/**
 * Waits for the container's process to end, at most `timeout_ms` milliseconds (negative: no
 * limit; 0: just check), and reaps it. On success `*status` (when not NULL) says how it ended;
 * waiting again returns the same status. RCONTAINER_ERROR_TIMEOUT when it still runs.
 * Only the process that created the container can wait for it.
 *
 * # Safety
 * `container` is NULL or a pointer returned by rcontainer; `status` NULL or writable.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_container_wait(rcontainer_container_t *container,
                                              int64_t timeout_ms,
                                              rcontainer_exit_status_t *status);

/**
 * Sends signal `sig` (e.g. SIGTERM) to the container's init process (through its pidfd, so never
 * to a recycled pid). RCONTAINER_ERROR_WRONG_STATE when the container is stopped.
 *
 * # Safety
 * `container` is NULL or a pointer returned by rcontainer.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_container_kill(rcontainer_container_t *container,
                                              int sig);

/**
 * Deletes the container: removes its state directory (and cgroup). A created or running container
 * needs `force` (it is killed with SIGKILL and reaped first); without it that is
 * RCONTAINER_ERROR_WRONG_STATE. Deleting again is harmless. The handle stays valid (free it with
 * rcontainer_container_free()); its pidfd is closed.
 *
 * # Safety
 * `container` is NULL or a pointer returned by rcontainer.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_container_delete(rcontainer_container_t *container,
                                                bool force);

/**
 * The pidfd of the container's init process: it becomes readable (POLLIN) when the process exits,
 * so an event loop can poll() many containers, then call rcontainer_container_wait(c, 0, ...).
 *
 * Ownership: the fd belongs to the handle: do not close it. It stays valid until
 * rcontainer_container_delete() or rcontainer_container_free(); dup() it to keep it longer.
 * RCONTAINER_ERROR_WRONG_STATE when there is none (deleted, or loaded after the process ended).
 *
 * # Safety
 * `container` is NULL or a pointer returned by rcontainer; `fd` NULL or writable.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_container_pidfd(const rcontainer_container_t *container,
                                               int *fd);

/**
 * The pty master of a container created with a terminal (rcontainer_spec_set_terminal(), or
 * `process.terminal` in its JSON): read it for the container's output (the terminal's echo
 * included), write it for its input. Reading it gives EIO once every process of the container
 * has closed the terminal (the usual end of a pty).
 *
 * Ownership: the fd belongs to the handle: do not close it. It stays valid until
 * rcontainer_container_take_pty() or rcontainer_container_free() (rcontainer_container_delete()
 * leaves it open); dup() it to keep it longer. RCONTAINER_ERROR_UNSUPPORTED when the handle has
 * none (no terminal, a handle from rcontainer_container_load(), or taken already).
 *
 * # Safety
 * `container` is NULL or a pointer returned by rcontainer; `fd` NULL or writable.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_container_pty_fd(const rcontainer_container_t *container,
                                                int *fd);

/**
 * Takes the pty master out of the handle (see rcontainer_container_pty_fd()).
 *
 * Ownership: on success `*fd` is the caller's: close it when done. The handle has no pty master
 * afterwards (rcontainer_container_pty_fd() and rcontainer_container_resize_pty() fail with
 * RCONTAINER_ERROR_UNSUPPORTED; resize with ioctl(fd, TIOCSWINSZ) instead).
 *
 * # Safety
 * `container` is NULL or a pointer returned by rcontainer; `fd` NULL or writable.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_container_take_pty(rcontainer_container_t *container,
                                                  int *fd);

/**
 * Sets the size of the container's terminal (`rows` lines of `cols` columns), as a terminal
 * window's resize does: the container's foreground process group gets SIGWINCH.
 * RCONTAINER_ERROR_UNSUPPORTED when the handle holds no pty master (see
 * rcontainer_container_pty_fd()); RCONTAINER_ERROR_INVALID_ARGUMENT for a 0 size.
 *
 * # Safety
 * `container` is NULL or a pointer returned by rcontainer.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_container_resize_pty(rcontainer_container_t *container,
                                                    uint16_t rows,
                                                    uint16_t cols);

/**
 * The host pid of the container's init process (as seen from the caller's pid namespace).
 *
 * # Safety
 * `container` is NULL or a pointer returned by rcontainer; `pid` NULL or writable.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_container_pid(const rcontainer_container_t *container,
                                             int32_t *pid);

/**
 * The container's current status (RCONTAINER_STATUS_*), recomputed from its process.
 * RCONTAINER_ERROR_NOT_FOUND once deleted.
 *
 * # Safety
 * `container` is NULL or a pointer returned by rcontainer; `status` NULL or writable.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_container_status(rcontainer_container_t *container,
                                                int32_t *status);

/**
 * The container's OCI state as JSON (id, status, pid, bundle, rootfs, created, annotations), as
 * `rcontainer state` prints it. RCONTAINER_ERROR_NOT_FOUND once deleted.
 *
 * On success `*out` receives a string the caller owns: free it with rcontainer_string_free().
 *
 * # Safety
 * `container` is NULL or a pointer returned by rcontainer; `out` NULL or writable.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_container_state_json(rcontainer_container_t *container,
                                                    char **out);

/**
 * Changes the cgroup limits of a created, running or paused container; only the fields set in
 * `limits` change (see rcontainer_limits_t). A limit the kernel refuses (e.g. a memory limit below
 * what the container uses now) gives RCONTAINER_ERROR_OS or _INVALID_CONFIG; invalid values
 * RCONTAINER_ERROR_INVALID_ARGUMENT or _INVALID_CONFIG; a stopped container
 * RCONTAINER_ERROR_WRONG_STATE.
 *
 * # Safety
 * `container` is NULL or a pointer returned by rcontainer; `limits` NULL or readable, its strings
 * NULL or NUL-terminated.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_container_limit(rcontainer_container_t *container,
                                               const rcontainer_limits_t *limits);

/**
 * Reads the container's cgroup accounting into `*stats` (memory, cpu, pids, OOM kills). Works in
 * any state until the container is deleted (then RCONTAINER_ERROR_NOT_FOUND).
 *
 * # Safety
 * `container` is NULL or a pointer returned by rcontainer; `stats` NULL or writable.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_container_stats(rcontainer_container_t *container,
                                               rcontainer_stats_t *stats);

/**
 * Freezes every process of a running container (its status becomes RCONTAINER_STATUS_PAUSED).
 * RCONTAINER_ERROR_WRONG_STATE unless it is running.
 *
 * # Safety
 * `container` is NULL or a pointer returned by rcontainer.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_container_pause(rcontainer_container_t *container);

/**
 * Thaws a paused container (back to RCONTAINER_STATUS_RUNNING). RCONTAINER_ERROR_WRONG_STATE
 * unless it is paused.
 *
 * # Safety
 * `container` is NULL or a pointer returned by rcontainer.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_container_resume(rcontainer_container_t *container);

/**
 * Sends signal `sig` to every process of the container (all of its cgroup), not only its init.
 * RCONTAINER_ERROR_WRONG_STATE when the container is stopped.
 *
 * # Safety
 * `container` is NULL or a pointer returned by rcontainer.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_container_kill_all(rcontainer_container_t *container,
                                                  int sig);

/**
 * Opens the image store at `path`, creating the directory when missing. NULL opens the default
 * store: $RCONTAINER_STORE when set and not empty, else /var/lib/rcontainer (the command's
 * default, so both see the same images). The path may not contain ',', ':' or '\\' (the store's
 * directories become overlayfs mount options).
 *
 * On success `*out` receives a new store handle the caller owns (free it with
 * rcontainer_store_free()). RCONTAINER_ERROR_INVALID_CONFIG for a path the store cannot use,
 * RCONTAINER_ERROR_OS when it cannot be created (e.g. EACCES without root).
 *
 * # Safety
 * `path` is NULL or a NUL-terminated string; `out` NULL or writable.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_store_open(const char *path,
                                          rcontainer_store_t **out);

/**
 * Frees a store handle (the store's directory and images stay). NULL and a store freed
 * already are ignored.
 *
 * # Safety
 * `store` is NULL or a pointer returned by rcontainer.
 */
void rcontainer_store_free(rcontainer_store_t *store);

/**
 * The store's directory (absolute).
 *
 * Ownership: borrowed from `store`; valid until rcontainer_store_free(). NULL for a NULL or
 * freed handle.
 *
 * # Safety
 * `store` is NULL or a pointer returned by rcontainer.
 */
const char *rcontainer_store_path(const rcontainer_store_t *store);

/**
 * Pulls `reference` (e.g. "busybox", "busybox:1.36", "127.0.0.1:5000/app@sha256:...") from its
 * registry into `store` and names it there: the manifest (from a manifest list, this machine's
 * platform), the config and the layers, each verified against its digest, then the layers
 * unpacked. `flags` is 0 or RCONTAINER_PULL_* or'ed. `username` and `password` (both or
 * neither; NULL: anonymous) are for basic auth or the registry's token service. Blocks until
 * done (no progress is reported; run it on a thread of its own to keep a loop going).
 *
 * On success, when `name` is not NULL, `*name` receives the image's full name (e.g.
 * "docker.io/library/busybox:latest"), a string the caller owns: free it with
 * rcontainer_string_free(). Errors (the message names the reference; kinds as the runtime's):
 * - RCONTAINER_ERROR_INVALID_CONFIG: a reference that does not parse, or content that is not a
 *   valid image;
 * - RCONTAINER_ERROR_NOT_FOUND: the registry has no such repository, tag or manifest;
 * - RCONTAINER_ERROR_OS: the registry cannot be reached (errno: the connection's, e.g.
 *   ECONNREFUSED; EHOSTUNREACH when unknown), refuses the credentials (EACCES), fails otherwise
 *   (EIO), or sends content that does not match its digest (EIO; nothing of it is kept).
 *
 * # Safety
 * `store` is NULL or a pointer returned by rcontainer; the strings NULL or NUL-terminated;
 * `name` NULL or writable.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_image_pull(rcontainer_store_t *store,
                                          const char *reference,
                                          uint32_t flags,
                                          const char *username,
                                          const char *password,
                                          char **name);

/**
 * Imports the images of `path`: an OCI image layout (a directory with index.json, or a tar of
 * one) or a `docker save` archive, each blob verified against its digest, the layers unpacked.
 * `name` (NULL: the names the archive gives; a layout's bare tag gets the file's or directory's
 * name as repository) names the image, e.g. "myapp:1.0"; only for an archive of one image.
 *
 * On success, when `out` is not NULL, `*out` receives the list of what was imported (a new list
 * the caller owns: rcontainer_image_list_free()). Errors: RCONTAINER_ERROR_OS when `path`
 * cannot be read, RCONTAINER_ERROR_INVALID_CONFIG when it is not a valid image archive or for a
 * `name` that does not parse; the message names the path or the name.
 *
 * # Safety
 * `store` is NULL or a pointer returned by rcontainer; `path` and `name` NULL or
 * NUL-terminated; `out` NULL or writable.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_image_import(rcontainer_store_t *store,
                                            const char *path,
                                            const char *name,
                                            rcontainer_image_list_t **out);

/**
 * The images in the store, by name (an image with two names is listed twice, with the same id).
 *
 * On success `*out` receives a new list the caller owns: free it with
 * rcontainer_image_list_free().
 *
 * # Safety
 * `store` is NULL or a pointer returned by rcontainer; `out` NULL or writable.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_image_list(rcontainer_store_t *store,
                                          rcontainer_image_list_t **out);

/**
 * Frees a list of images. NULL and a list freed already are ignored.
 *
 * # Safety
 * `list` is NULL or a pointer returned by rcontainer.
 */
void rcontainer_image_list_free(rcontainer_image_list_t *list);

/**
 * How many images `list` holds (0 for a NULL or freed list).
 *
 * # Safety
 * `list` is NULL or a pointer returned by rcontainer.
 */
size_t rcontainer_image_list_count(const rcontainer_image_list_t *list);

/**
 * The full name of image `index`, e.g. "docker.io/library/busybox:latest": what the store is
 * keyed by, and what rcontainer_spec_set_image() and rcontainer_image_remove() accept (as they
 * accept the short forms).
 *
 * Ownership: borrowed from `list`; valid until rcontainer_image_list_free(). NULL for a NULL or
 * freed list or an index out of range.
 *
 * # Safety
 * `list` is NULL or a pointer returned by rcontainer.
 */
const char *rcontainer_image_list_name(const rcontainer_image_list_t *list, size_t index);

/**
 * The repository of image `index` as Docker shows it: "busybox" for Docker Hub's official
 * images, "user/app", "registry:5000/app" otherwise.
 *
 * Ownership and NULL: as rcontainer_image_list_name().
 *
 * # Safety
 * `list` is NULL or a pointer returned by rcontainer.
 */
const char *rcontainer_image_list_repository(const rcontainer_image_list_t *list, size_t index);

/**
 * The tag of image `index` (e.g. "latest"); NULL also when the image is named by digest
 * ("repo@sha256:...": rcontainer_image_list_digest() is then its digest).
 *
 * Ownership: as rcontainer_image_list_name().
 *
 * # Safety
 * `list` is NULL or a pointer returned by rcontainer.
 */
const char *rcontainer_image_list_tag(const rcontainer_image_list_t *list, size_t index);

/**
 * The id of image `index`: its config's digest, "sha256:" and 64 hex digits (Docker's IMAGE
 * ID is the first 12 of them). rcontainer_spec_set_image() accepts it, or 12 or more of its
 * hex digits, in place of a name.
 *
 * Ownership and NULL: as rcontainer_image_list_name().
 *
 * # Safety
 * `list` is NULL or a pointer returned by rcontainer.
 */
const char *rcontainer_image_list_id(const rcontainer_image_list_t *list, size_t index);

/**
 * The digest of image `index`'s manifest ("sha256:..."), as its registry or archive names it.
 *
 * Ownership and NULL: as rcontainer_image_list_name().
 *
 * # Safety
 * `list` is NULL or a pointer returned by rcontainer.
 */
const char *rcontainer_image_list_digest(const rcontainer_image_list_t *list, size_t index);

/**
 * When image `index` was built (its config's `created`, RFC 3339, e.g.
 * "2024-01-01T00:00:00Z"); NULL also when the config does not say.
 *
 * Ownership: as rcontainer_image_list_name().
 *
 * # Safety
 * `list` is NULL or a pointer returned by rcontainer.
 */
const char *rcontainer_image_list_created(const rcontainer_image_list_t *list, size_t index);

/**
 * The size of image `index`'s layers as stored (compressed), in bytes; 0 for a NULL or freed
 * list or an index out of range.
 *
 * # Safety
 * `list` is NULL or a pointer returned by rcontainer.
 */
uint64_t rcontainer_image_list_size(const rcontainer_image_list_t *list, size_t index);

/**
 * Removes the name `image` (a name, or an id as rcontainer_image_list_id() gives it) from the
 * store, then, as `rcontainer rmi` does, what no image and no container uses any more: blobs,
 * unpacked layers, and the copy-on-write roots left by containers that no longer exist. A
 * container counts as existing when it is under `state_root` (NULL: /run/rcontainer, or an ordinary user's own state root) or
 * /run/rcontainer, or while the process that created it runs: the layers of such containers
 * stay, so removing the image of a running container is safe. Containers created from a spec
 * that holds the image (rcontainer_spec_set_image()) after this fail.
 *
 * RCONTAINER_ERROR_NOT_FOUND when the store has no such image.
 *
 * # Safety
 * `store` is NULL or a pointer returned by rcontainer; `image` and `state_root` NULL or
 * NUL-terminated.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_image_remove(rcontainer_store_t *store,
                                            const char *image,
                                            const char *state_root);

/**
 * Makes the spec's containers from an image of `store`: `image` is a name ("busybox",
 * "busybox:1.36", "registry:5000/app@sha256:...") or an id (see rcontainer_image_list_id()).
 * The image must be in the store already: this never pulls (rcontainer_image_pull() with
 * RCONTAINER_PULL_IF_MISSING first does what `rcontainer run IMAGE` does).
 *
 * Applied to the spec now, as `docker run` does (setters called after it win, as docker's flags
 * win over the image):
 * - the command: the image's Entrypoint followed by its Cmd. `args` (a NULL-terminated array,
 *   as execv's; NULL or empty: keep the image's Cmd) replaces the Cmd; `entrypoint` (NULL: keep
 *   the image's) replaces the Entrypoint, and then the image's Cmd is not used; "" clears it.
 *   RCONTAINER_ERROR_INVALID_CONFIG when no command is left.
 * - the environment: each of the image's Env variables is set (replacing the spec's, e.g. PATH;
 *   the others stay).
 * - the working directory: the image's WorkingDir, when it has one.
 * - the user: the image's User (numbers; a name is looked up in the image's /etc/passwd and
 *   /etc/group at create), unless the caller chose the user with rcontainer_spec_set_user() or
 *   rcontainer_spec_set_sandbox(), before or after this call: the image never replaces the
 *   caller's choice.
 * - the root: writable (copy-on-write: see below), unless the caller chose with
 *   rcontainer_spec_set_readonly_root() or rcontainer_spec_set_sandbox(), before or after.
 *
 * At each rcontainer_container_create() (and rcontainer_container_run_pipes()) the container
 * gets a root of its own: the image's layers as an overlay, with (unless the root is read-only)
 * a writable upper directory under the store's containers/ID/, which
 * rcontainer_container_delete() removes (a failed create leaves nothing). The image's StopSignal
 * is recorded as the annotation org.opencontainers.image.stopSignal (`rcontainer kill ID`
 * sends it). The image's ExposedPorts and Volumes are not applied (the network is the spec's;
 * volumes are part of the root). The spec needs a mount namespace of the container's own (the
 * defaults have one). rcontainer_spec_to_json() shows the spec without the image's root.
 * rcontainer_spec_set_rootfs() after this goes back to a directory root (the config stays
 * applied). A spec given rcontainer_spec_set_default_root() (whose mounts are the host's) is
 * refused: start from a new spec.
 *
 * Errors: RCONTAINER_ERROR_NOT_FOUND when the store has no such image (the message names it
 * and the store), RCONTAINER_ERROR_INVALID_CONFIG when its config is not usable; the spec is then
 * unchanged. The strings are copied; `store` may be freed right after (the spec keeps what it
 * needs).
 *
 * # Safety
 * `spec` and `store` are NULL or pointers returned by rcontainer; `image` and `entrypoint` NULL
 * or NUL-terminated; `args` NULL or a NULL-terminated array of NUL-terminated strings.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_spec_set_image(rcontainer_spec_t *spec,
                                              rcontainer_store_t *store,
                                              const char *image,
                                              const char *entrypoint,
                                              const char *const *args);

/**
 * New exec options: no changes to the container's process, the caller's stdio.
 *
 * Ownership: returns a handle the caller owns; free it with rcontainer_exec_options_free().
 * NULL only if memory ran out.
 */
rcontainer_exec_options_t *rcontainer_exec_options_new(void);

/**
 * Frees exec options. NULL and options freed already are ignored.
 *
 * # Safety
 * `options` is NULL or a pointer returned by rcontainer.
 */
void rcontainer_exec_options_free(rcontainer_exec_options_t *options);

/**
 * Sets (or replaces) the environment variable `key` to `value`, over the container's
 * environment. The strings are copied.
 *
 * # Safety
 * `options` is NULL or a pointer returned by rcontainer; `key` and `value` NULL or NUL-terminated.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_exec_options_set_env(rcontainer_exec_options_t *options,
                                                    const char *key,
                                                    const char *value);

/**
 * Sets the working directory (an absolute path inside the container; default: the container's).
 *
 * # Safety
 * `options` is NULL or a pointer returned by rcontainer; `dir` NULL or NUL-terminated.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_exec_options_set_cwd(rcontainer_exec_options_t *options,
                                                    const char *dir);

/**
 * Sets the user (uid and primary gid, as seen inside the container; default: the container's).
 *
 * # Safety
 * `options` is NULL or a pointer returned by rcontainer.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_exec_options_set_user(rcontainer_exec_options_t *options,
                                                     uint32_t uid,
                                                     uint32_t gid);

/**
 * Gives the process a terminal of its own (as `docker exec -t`): a new pty from the container's
 * devpts is its stdin, stdout, stderr and controlling terminal (the fds of
 * rcontainer_exec_options_set_stdio() are then not used); `rows` and `cols` set its initial size
 * (0 and 0: not set). The master stays with the process handle: rcontainer_process_pty_fd().
 *
 * # Safety
 * `options` is NULL or a pointer returned by rcontainer.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_exec_options_set_terminal(rcontainer_exec_options_t *options,
                                                         bool on,
                                                         uint16_t rows,
                                                         uint16_t cols);

/**
 * The process's stdin, stdout and stderr: open fds of the caller, or -1 for the caller's own
 * (the default).
 *
 * Ownership: the fds stay the caller's. They are only used (duplicated into the process) during
 * rcontainer_container_exec(), so they must stay open until that returns; close your copy of an
 * output pipe's write end after it, to see EOF when the process ends.
 *
 * # Safety
 * `options` is NULL or a pointer returned by rcontainer.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_exec_options_set_stdio(rcontainer_exec_options_t *options,
                                                      int stdin_fd,
                                                      int stdout_fd,
                                                      int stderr_fd);

/**
 * Runs `argv` (a NULL-terminated array, as execv's; argv[0] is looked up in the container's PATH)
 * as a new process inside the created or running container: in all of its namespaces and its
 * cgroup, under its seccomp profile, as the container's own process does unless `options` (NULL:
 * none) changes it. Returns once the command has exec'd, or fails with why it could not (e.g.
 * RCONTAINER_ERROR_OS with ENOENT for a missing command; RCONTAINER_ERROR_WRONG_STATE for a
 * paused or stopped container; RCONTAINER_ERROR_NOT_FOUND once deleted).
 *
 * On success `*out` receives a new handle the caller owns (rcontainer_process_free()). `argv`
 * and `options` are only read during the call.
 *
 * # Safety
 * `container` and `options` NULL or pointers returned by rcontainer; `argv` NULL or a
 * NULL-terminated array of NUL-terminated strings; `out` NULL or writable.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_container_exec(rcontainer_container_t *container,
                                              const char *const *argv,
                                              const rcontainer_exec_options_t *options,
                                              rcontainer_process_t **out);

/**
 * Frees the handle (closing its pidfd and pty master). It does not kill the process: one that
 * was not waited for keeps running. Either way no zombie is left: the library reaps every exec'd
 * process as soon as it ends (a thread of its own waits for it; a zombie in the container's pid
 * namespace would keep the container's init from ending). NULL and a handle freed already are
 * ignored.
 *
 * # Safety
 * `process` is NULL or a pointer returned by rcontainer.
 */
void rcontainer_process_free(rcontainer_process_t *process);

/**
 * The process's host pid (as seen from the caller's pid namespace).
 *
 * # Safety
 * `process` is NULL or a pointer returned by rcontainer; `pid` NULL or writable.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_process_pid(const rcontainer_process_t *process,
                                           int32_t *pid);

/**
 * The process's pidfd: readable (POLLIN) once it has ended, for an event loop; then
 * rcontainer_process_wait(p, 0, ...) reaps it.
 *
 * Ownership: the fd belongs to the handle: do not close it. It is valid until the process is
 * reaped (rcontainer_process_wait() succeeded) or the handle is freed; dup() it to keep it.
 * RCONTAINER_ERROR_WRONG_STATE once reaped.
 *
 * # Safety
 * `process` is NULL or a pointer returned by rcontainer; `fd` NULL or writable.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_process_pidfd(const rcontainer_process_t *process,
                                             int *fd);

/**
 * Waits for the process to end, at most `timeout_ms` milliseconds (negative: no limit; 0: just
 * check), and reaps it. On success `*status` (when not NULL) says how it ended; waiting again
 * returns the same status. RCONTAINER_ERROR_TIMEOUT when it still runs.
 *
 * # Safety
 * `process` is NULL or a pointer returned by rcontainer; `status` NULL or writable.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_process_wait(rcontainer_process_t *process,
                                            int64_t timeout_ms,
                                            rcontainer_exit_status_t *status);

/**
 * Sends signal `sig` to the process (through its pidfd, so never to a recycled pid).
 * RCONTAINER_ERROR_WRONG_STATE once it was reaped.
 *
 * # Safety
 * `process` is NULL or a pointer returned by rcontainer.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_process_kill(rcontainer_process_t *process,
                                            int sig);

/**
 * The pty master of a process exec'd with a terminal (rcontainer_exec_options_set_terminal()):
 * read it for the process's output, write it for its input; reads give EIO once the process
 * (and whatever it started on the terminal) has closed it.
 *
 * Ownership: the fd belongs to the handle: do not close it. It stays valid until
 * rcontainer_process_take_pty() or rcontainer_process_free(). RCONTAINER_ERROR_UNSUPPORTED when
 * the handle has none (no terminal, or taken already).
 *
 * # Safety
 * `process` is NULL or a pointer returned by rcontainer; `fd` NULL or writable.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_process_pty_fd(const rcontainer_process_t *process,
                                              int *fd);

/**
 * Takes the pty master out of the handle (see rcontainer_process_pty_fd()).
 *
 * Ownership: on success `*fd` is the caller's: close it when done. The handle has no pty master
 * afterwards (rcontainer_process_pty_fd() and rcontainer_process_resize_pty() fail with
 * RCONTAINER_ERROR_UNSUPPORTED).
 *
 * # Safety
 * `process` is NULL or a pointer returned by rcontainer; `fd` NULL or writable.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_process_take_pty(rcontainer_process_t *process,
                                                int *fd);

/**
 * Sets the size of the process's terminal (`rows` lines of `cols` columns); its foreground
 * process group gets SIGWINCH. RCONTAINER_ERROR_UNSUPPORTED when the handle holds no pty master;
 * RCONTAINER_ERROR_INVALID_ARGUMENT for a 0 size.
 *
 * # Safety
 * `process` is NULL or a pointer returned by rcontainer.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_process_resize_pty(rcontainer_process_t *process,
                                                  uint16_t rows,
                                                  uint16_t cols);

/**
 * A new spec with `runc spec`'s defaults (terminal off): runs "sh" in new pid, network, ipc,
 * uts, mount and cgroup namespaces, hostname the container's id (runc's is "runc"; set one with
 * rcontainer_spec_set_hostname()), root filesystem "rootfs" relative to the
 * current directory (read-only), Docker's default capabilities, no_new_privileges, and the
 * caller's stdin, stdout and stderr.
 *
 * Returns a spec the caller owns (free it with rcontainer_spec_free()); NULL only if it could
 * not be allocated.
 */
rcontainer_spec_t *rcontainer_spec_new(void);

/**
 * Frees a spec. NULL and a spec freed already are ignored.
 *
 * # Safety
 * `spec` is NULL or a pointer returned by rcontainer.
 */
void rcontainer_spec_free(rcontainer_spec_t *spec);

/**
 * Parses OCI runtime config JSON (the text of a config.json). Relative paths in it (root.path,
 * bind mount sources) resolve against `bundle_dir`; NULL means the current directory.
 *
 * On success `*out` receives a new spec the caller owns. Fails with RCONTAINER_ERROR_INVALID_CONFIG
 * for text that is not a valid OCI config (the message says where).
 *
 * # Safety
 * `json` and `bundle_dir` are NULL or NUL-terminated strings; `out` is NULL or writable.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_spec_from_json(const char *json,
                                              const char *bundle_dir,
                                              rcontainer_spec_t **out);

/**
 * Reads `<bundle_dir>/config.json` (an OCI bundle, as runc's --bundle).
 *
 * On success `*out` receives a new spec the caller owns.
 *
 * # Safety
 * `bundle_dir` is NULL or a NUL-terminated string; `out` is NULL or writable.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_spec_from_bundle(const char *bundle_dir,
                                                rcontainer_spec_t **out);

/**
 * The spec as OCI config JSON (pretty-printed, as `rcontainer spec` writes it).
 *
 * On success `*out` receives a string the caller owns: free it with rcontainer_string_free().
 *
 * # Safety
 * `spec` is NULL or a pointer returned by rcontainer; `out` is NULL or writable.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_spec_to_json(const rcontainer_spec_t *spec,
                                            char **out);

/**
 * Sets the command: `argv` is a NULL-terminated array (as execv's), argv[0] is looked up in the
 * container's PATH. At least one element. The strings are copied.
 *
 * # Safety
 * `spec` is NULL or a pointer returned by rcontainer; `argv` is NULL or a NULL-terminated array
 * of NUL-terminated strings.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_spec_set_args(rcontainer_spec_t *spec,
                                             const char *const *argv);

/**
 * Sets (or replaces) the environment variable `key` to `value` in the container's process.
 *
 * # Safety
 * `spec` is NULL or a pointer returned by rcontainer; `key` and `value` NULL or NUL-terminated.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_spec_set_env(rcontainer_spec_t *spec,
                                            const char *key,
                                            const char *value);

/**
 * Sets the working directory of the container's process (an absolute path inside the container).
 *
 * # Safety
 * `spec` is NULL or a pointer returned by rcontainer; `dir` NULL or NUL-terminated.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_spec_set_cwd(rcontainer_spec_t *spec,
                                            const char *dir);

/**
 * Sets the user (uid and primary gid, as seen inside the container) of the container's process.
 * An image's User (rcontainer_spec_set_image()) never replaces it, whichever is called first.
 *
 * # Safety
 * `spec` is NULL or a pointer returned by rcontainer.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_spec_set_user(rcontainer_spec_t *spec,
                                             uint32_t uid,
                                             uint32_t gid);

/**
 * Gives the container a terminal of its own (`process.terminal`), as `docker run -t` does: a new
 * pty from the container's devpts is its stdin, stdout, stderr, controlling terminal and
 * /dev/console (the stdio fds of rcontainer_spec_set_stdio() are then not used). `rows` and
 * `cols` set its initial size (0 and 0: not set). `on` false removes the terminal again.
 *
 * The pty master stays with the container handle: rcontainer_container_pty_fd() borrows it,
 * rcontainer_container_take_pty() takes it, rcontainer_container_resize_pty() resizes it.
 *
 * # Safety
 * `spec` is NULL or a pointer returned by rcontainer.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_spec_set_terminal(rcontainer_spec_t *spec,
                                                 bool on,
                                                 uint16_t rows,
                                                 uint16_t cols);

/**
 * Sets the root filesystem directory: absolute, or relative to the bundle directory. It replaces
 * an image's root (rcontainer_spec_set_image(); what it applied of the image's config stays).
 *
 * # Safety
 * `spec` is NULL or a pointer returned by rcontainer; `dir` NULL or NUL-terminated.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_spec_set_rootfs(rcontainer_spec_t *spec,
                                               const char *dir);

/**
 * Whether the root filesystem is mounted read-only inside the container (the default: true;
 * rcontainer_spec_set_image() makes an image's root writable unless this was called, before or
 * after it: a read-only image root has no upper directory at all).
 *
 * # Safety
 * `spec` is NULL or a pointer returned by rcontainer.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_spec_set_readonly_root(rcontainer_spec_t *spec,
                                                      bool readonly);

/**
 * Uses the embedded default root instead of a root filesystem directory: a read-only view of the
 * host's /usr, /bin, /sbin, /lib* and /etc with a fresh /proc, /dev, /sys, /tmp and /run. This
 * replaces the spec's mounts (and an image's root: rcontainer_spec_set_image()). Its skeleton
 * directory lives under `state_root` (NULL: /run/rcontainer, or an ordinary user's own state root), which is created if needed.
 *
 * # Safety
 * `spec` is NULL or a pointer returned by rcontainer; `state_root` NULL or NUL-terminated.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_spec_set_default_root(rcontainer_spec_t *spec,
                                                     const char *state_root);

/**
 * Sets the container's hostname (needs a uts namespace, which the defaults have).
 *
 * # Safety
 * `spec` is NULL or a pointer returned by rcontainer; `hostname` NULL or NUL-terminated.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_spec_set_hostname(rcontainer_spec_t *spec,
                                                 const char *hostname);

/**
 * Adds (enabled) or removes (not enabled) a namespace. `type` is one of "pid", "network",
 * "mount", "ipc", "uts", "user", "cgroup", "time" (see rcontainer_namespace_name()). With a
 * `path` (e.g. "/proc/1234/ns/net") the container joins that namespace instead of getting a new
 * one; NULL means a new one.
 *
 * # Safety
 * `spec` is NULL or a pointer returned by rcontainer; `type` and `path` NULL or NUL-terminated.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_spec_set_namespace(rcontainer_spec_t *spec,
                                                  const char *type,
                                                  bool enabled,
                                                  const char *path);

/**
 * Gives the container a new user namespace with these uid and gid maps (each at least one line).
 * The process's uid and gid (rcontainer_spec_set_user()) must be mapped.
 *
 * # Safety
 * `spec` is NULL or a pointer returned by rcontainer; `uid_maps` and `gid_maps` are NULL or point
 * to `n_uid_maps` and `n_gid_maps` elements. The arrays are copied.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_spec_set_id_maps(rcontainer_spec_t *spec,
                                                const rcontainer_id_map_t *uid_maps,
                                                size_t n_uid_maps,
                                                const rcontainer_id_map_t *gid_maps,
                                                size_t n_gid_maps);

/**
 * Adds a mount: `type` (e.g. "tmpfs", "proc", "bind"), `source` (NULL for none), `destination`
 * (absolute, inside the container) and `options`, a NULL-terminated array of mount options
 * (e.g. {"nosuid", "size=64m", NULL}) or NULL for none. Mounts are made in the order added.
 *
 * # Safety
 * `spec` is NULL or a pointer returned by rcontainer; the strings are NULL or NUL-terminated;
 * `options` is NULL or a NULL-terminated array of strings.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_spec_add_mount(rcontainer_spec_t *spec,
                                              const char *type,
                                              const char *source,
                                              const char *destination,
                                              const char *const *options);

/**
 * Adds a bind mount of the host's `source` at `destination` inside the container (recursive;
 * read-only when `readonly`).
 *
 * # Safety
 * `spec` is NULL or a pointer returned by rcontainer; the strings are NULL or NUL-terminated.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_spec_add_bind(rcontainer_spec_t *spec,
                                             const char *source,
                                             const char *destination,
                                             bool readonly);

/**
 * Memory limit of the container's cgroup in bytes (linux.resources.memory.limit).
 *
 * # Safety
 * `spec` is NULL or a pointer returned by rcontainer.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_spec_set_memory(rcontainer_spec_t *spec,
                                               int64_t bytes);

/**
 * CPU limit in CPUs (0.5 = half a CPU): a quota over a 100 ms period, as `docker --cpus`.
 *
 * # Safety
 * `spec` is NULL or a pointer returned by rcontainer.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_spec_set_cpus(rcontainer_spec_t *spec,
                                             double cpus);

/**
 * Maximum number of processes in the container's cgroup (linux.resources.pids.limit).
 *
 * # Safety
 * `spec` is NULL or a pointer returned by rcontainer.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_spec_set_pids(rcontainer_spec_t *spec,
                                             int64_t max);

/**
 * Sets the cgroup limits given in `limits` (see rcontainer_limits_t: fields that are 0 or NULL are
 * left as they are), as linux.resources. The values are checked at
 * rcontainer_container_create().
 *
 * # Safety
 * `spec` is NULL or a pointer returned by rcontainer; `limits` NULL or readable, its strings
 * NULL or NUL-terminated.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_spec_set_limits(rcontainer_spec_t *spec,
                                               const rcontainer_limits_t *limits);

/**
 * The sandbox preset, for code you do not trust (as `rcontainer run --sandbox`, Python's
 * `sandbox=True` and Node's `sandbox: true`): uid and gid 65534, no capabilities at all,
 * no_new_privileges, a network namespace with only lo, 256 MiB of memory without swap, one CPU,
 * 64 processes, and a read-only root (writable: tmpfs only, a fresh 64 MiB /tmp, /dev/shm). It is
 * applied now: setters called after it win (e.g. rcontainer_spec_set_user,
 * rcontainer_spec_set_limits), except rcontainer_spec_set_image(), which keeps the preset's user
 * and read-only root whatever the order.
 *
 * # Safety
 * `spec` is NULL or a pointer returned by rcontainer.
 */
RCONTAINER_NODISCARD rcontainer_error_t *rcontainer_spec_set_sandbox(rcontainer_spec_t *spec);

/**
 * Docker's security defaults: its default capability set, no_new_privileges, and its default
 * seccomp profile (generated when the container is created, for the final capabilities).
 *
 * # Safety
 * `spec` is NULL or a pointer returned by rcontainer.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_spec_set_docker_defaults(rcontainer_spec_t *spec);

/**
 * The container's stdin, stdout and stderr: open fds of the caller, or -1 to inherit the
 * caller's own (the default).
 *
 * Ownership: the fds stay the caller's. They are borrowed (duplicated into the container) only
 * during rcontainer_container_create(), so they must stay open until that returns; the caller
 * closes its copies whenever it likes after that (e.g. the write end of an output pipe, to see
 * EOF when the container exits).
 *
 * # Safety
 * `spec` is NULL or a pointer returned by rcontainer.
 */
RCONTAINER_NODISCARD
rcontainer_error_t *rcontainer_spec_set_stdio(rcontainer_spec_t *spec,
                                              int stdin_fd,
                                              int stdout_fd,
                                              int stderr_fd);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* CONTAINER_CORE_H */
