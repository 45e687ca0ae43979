/* The checks the C test programs of capi/tests/c share: CHECK(cond), FAILED(call) for a call
 * that must succeed (reports and frees its error; true when it failed) and EXPECT_ERR(call,
 * kind, needle) for one that must fail with `kind` and a message containing `needle` (any
 * message when NULL). Each program prints "<passed> passed, <failures> failed" at the end. */
#ifndef RCONTAINER_TEST_CHECK_H
#define RCONTAINER_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

#include "container_core.h"

static int passed, failures;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (cond) {                                                                   \
            passed++;                                                                 \
        } else {                                                                      \
            failures++;                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                             \
    } while (0)

/* Reports and frees an error; returns 1 when there was one. */
static inline int failed(int line, rcontainer_error_t *err) {
    if (err == NULL) {
        passed++;
        return 0;
    }
    failures++;
    fprintf(stderr, "line %d: %s (kind %d, errno %d)\n", line, rcontainer_error_message(err), (int)rcontainer_error_kind(err),
            rcontainer_error_errno(err));
    rcontainer_error_free(err);
    return 1;
}
#define FAILED(call) failed(__LINE__, (call))

/* Expects an error of `kind` whose message contains `needle` (when not NULL); frees it. */
static inline void expect_err(int line, rcontainer_error_t *err, int kind, const char *needle) {
    if (err == NULL) {
        failures++;
        fprintf(stderr, "line %d: expected error kind %d, got success\n", line, kind);
        return;
    }
    const char *msg = rcontainer_error_message(err);
    if (rcontainer_error_kind(err) != kind || msg == NULL || (needle && strstr(msg, needle) == NULL)) {
        failures++;
        fprintf(stderr, "line %d: expected kind %d containing \"%s\", got kind %d: %s\n", line, kind, needle ? needle : "",
                (int)rcontainer_error_kind(err), msg ? msg : "(null)");
    } else {
        passed++;
    }
    rcontainer_error_free(err);
}
#define EXPECT_ERR(call, kind, needle) expect_err(__LINE__, (call), (kind), (needle))

#endif
