/* Tiny test harness shared by the test executables: checks that count
 * failures and a closing "N passed, N failed" line. Not a framework. */
#ifndef RV_TEST_H
#define RV_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rv_test_passed, rv_test_failed;

#define CHECK(cond, ...) do { \
    if (cond) { rv_test_passed++; } \
    else { rv_test_failed++; fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
           fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } \
} while (0)

static inline int rv_test_finish(const char *suite)
{
    printf("%s: %d passed, %d failed\n", suite, rv_test_passed, rv_test_failed);
    return rv_test_failed ? 1 : 0;
}

/* Path under ../shared (the RV_SHARED_DIR environment variable). */
static inline const char *rv_test_shared(const char *rel, char *buf, size_t cap)
{
    const char *dir = getenv("RV_SHARED_DIR");
    snprintf(buf, cap, "%s/%s", dir ? dir : "../../shared", rel);
    return buf;
}

#endif
