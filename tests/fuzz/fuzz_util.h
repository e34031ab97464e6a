/* Helpers shared by the fuzz targets: a private scratch folder (on tmpfs
 * when there is one) for loaders that only take paths, removed at exit, and
 * NUL-terminated copies of the input. Not a target itself. */
#ifndef RV_FUZZ_UTIL_H
#define RV_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz_dir_[64];
static char fuzz_files_[8][32];
static int fuzz_nfiles_;

static inline void fuzz_cleanup_(void)
{
    char path[512];
    for (int i = 0; i < fuzz_nfiles_; i++) {
        snprintf(path, sizeof(path), "%s/%s", fuzz_dir_, fuzz_files_[i]);
        unlink(path);
    }
    rmdir(fuzz_dir_);
}

/* The scratch folder, made on first use. */
static inline const char *fuzz_dir(void)
{
    if (!fuzz_dir_[0]) {
        snprintf(fuzz_dir_, sizeof(fuzz_dir_), "%s/rv_fuzz_XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        if (!mkdtemp(fuzz_dir_)) {
            perror("mkdtemp");
            abort();
        }
        atexit(fuzz_cleanup_);
    }
    return fuzz_dir_;
}

/* Writes `name` (a plain file name) in the scratch folder; returns its path
 * (a static buffer per call site is the caller's business: copy it). */
static inline void fuzz_write(const char *name, const void *data, size_t size, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", fuzz_dir(), name);
    int known = 0;
    for (int i = 0; i < fuzz_nfiles_; i++)
        known |= strcmp(fuzz_files_[i], name) == 0;
    if (!known && fuzz_nfiles_ < 8)
        snprintf(fuzz_files_[fuzz_nfiles_++], sizeof(fuzz_files_[0]), "%s", name);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size)) {
        perror(path);
        abort();
    }
    fclose(f);
}

static inline void fuzz_remove(const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", fuzz_dir(), name);
    unlink(path);
}

/* malloc'd NUL-terminated copy (free()). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = 0;
    return s;
}

#endif
