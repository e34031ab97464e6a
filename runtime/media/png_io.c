/* PNG files for media: a reader (libpng, any PNG to RGBA8, with limits and
 * clear errors; init images, inspect) and a writer that adds parameters and
 * XMP provenance and writes through a temporary name. The pixel writer
 * itself is util/png.c (rv_png_write), which `reverie gen` uses directly. */
#include <errno.h>
#include <fcntl.h>
#include <png.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "media_internal.h"
#include "util/rv_png.h"

void rv_image_free(rv_image *img)
{
    if (!img)
        return;
    free(img->rgba);
    img->rgba = NULL;
    img->width = img->height = 0;
}

/* ---- temporary names and whole files (shared with video.c) -------------- */

int rv_media_temp_create(const char *path, char *tmp, size_t cap, rv_error *err)
{
    const char *slash = strrchr(path, '/');
    int dirlen = slash ? (int)(slash - path + 1) : 0;
    const char *base = slash ? slash + 1 : path;
    tmp[0] = 0;
    if (!*base) {
        rv_error_set(err, RV_ERR_INVALID, "media: output %s names a folder, not a file", path);
        return -1;
    }
    int n = snprintf(tmp, cap, "%.*s.%s.part-XXXXXX", dirlen, path, base);
    if (n < 0 || (size_t)n >= cap) {
        tmp[0] = 0;
        rv_error_set(err, RV_ERR_INVALID, "media: output path too long: %s", path);
        return -1;
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        rv_error_set(err, RV_ERR_IO, "media: cannot write %s: cannot create a file in its folder (%s)", path,
                     strerror(errno));
        tmp[0] = 0;
        return -1;
    }
    /* mkstemp makes 0600; an output is an ordinary file */
    (void)fchmod(fd, 0644);
    return fd;
}

rv_status rv_media_commit(const char *tmp, const char *path, rv_error *err)
{
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return rv_error_set(err, RV_ERR_IO, "media: cannot rename %s to %s: %s", tmp, path, strerror(e));
    }
    return RV_OK;
}

rv_status rv_media_read_file(const char *path, size_t max, unsigned char **data, size_t *size, rv_error *err)
{
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return rv_error_set(err, RV_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return rv_error_set(err, RV_ERR_IO, "%s is not a regular file", path);
    }
    if ((uint64_t)st.st_size > max) {
        fclose(f);
        return rv_error_set(err, RV_ERR_INVALID, "%s is too large (%lld bytes; the limit is %zu)", path,
                            (long long)st.st_size, max);
    }
    unsigned char *buf = malloc(st.st_size ? (size_t)st.st_size : 1);
    if (!buf) {
        fclose(f);
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "out of memory reading %s", path);
    }
    size_t got = fread(buf, 1, (size_t)st.st_size, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || got != (size_t)st.st_size) {
        free(buf);
        return rv_error_set(err, RV_ERR_IO, "cannot read %s", path);
    }
    *data = buf;
    *size = got;
    return RV_OK;
}

/* ---- reader ------------------------------------------------------------- */

/* Everything the libpng callbacks and the longjmp path share lives here, not
 * in locals, so nothing is clobbered by the jump. */
typedef struct png_ctx {
    const unsigned char *data;
    size_t size, pos;
    char msg[200];
    png_bytep *rows;
    uint32_t *pixels;
    rv_media_tag *tags;
    int ntags;
} png_ctx;

static void on_error(png_structp png, png_const_charp msg)
{
    png_ctx *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof(c->msg), "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static void on_read(png_structp png, png_bytep out, size_t n)
{
    png_ctx *c = png_get_io_ptr(png);
    if (n > c->size - c->pos)
        png_error(png, "file ends early (truncated)");
    memcpy(out, c->data + c->pos, n);
    c->pos += n;
}

static void free_tags(rv_media_tag *tags, int n)
{
    for (int i = 0; i < n; i++) {
        free(tags[i].key);
        free(tags[i].value);
    }
    free(tags);
}

rv_status rv_png_decode_text(rv_image *out, rv_media_tag **tags, int *ntags, const void *data, size_t size,
                             const char *name, const rv_png_read_desc *desc, rv_error *err)
{
    memset(out, 0, sizeof(*out));
    if (tags) {
        *tags = NULL;
        *ntags = 0;
    }
    rv_png_read_desc d = desc ? *desc : (rv_png_read_desc){0};
    uint32_t max_side = d.max_side ? d.max_side : RV_PNG_MAX_SIDE_DEFAULT;
    if (size < 8 || png_sig_cmp((png_const_bytep)data, 0, 8) != 0)
        return rv_error_set(err, RV_ERR_FORMAT, "%s is not a PNG file (no PNG signature)", name);
    /* every chunk must fit in the bytes we have: libpng allocates a chunk's
     * declared length before reading it (a 1 GiB iTXt in a 1 KiB file, found
     * by fuzz_png), so lengths are checked here first */
    const unsigned char *b = data;
    for (size_t pos = 8; pos < size;) {
        if (size - pos < 12)
            return rv_error_set(err, RV_ERR_FORMAT, "%s: damaged PNG: file ends inside a chunk header (truncated)",
                                name);
        uint32_t len = (uint32_t)b[pos] << 24 | (uint32_t)b[pos + 1] << 16 | (uint32_t)b[pos + 2] << 8 | b[pos + 3];
        char type[5] = {0};
        for (int i = 0; i < 4; i++)
            type[i] = (b[pos + 4 + i] >= 'A' && b[pos + 4 + i] <= 'z') ? (char)b[pos + 4 + i] : '?';
        if (len > size - pos - 12)
            return rv_error_set(err, RV_ERR_FORMAT,
                                "%s: damaged PNG: chunk %s at byte %zu says %u bytes, the file has %zu left (truncated)",
                                name, type, pos, len, size - pos - 12);
        pos += 12 + (size_t)len;
        if (memcmp(type, "IEND", 4) == 0)
            break;
    }
    png_ctx c = {.data = data, .size = size};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &c, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_read_struct(&png, &info, NULL);
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "out of memory reading %s", name);
    }
    rv_status st = RV_OK;
    if (setjmp(png_jmpbuf(png))) {
        st = rv_error_set(err, RV_ERR_FORMAT, "%s: damaged PNG: %s", name, c.msg);
        goto done;
    }
    /* sizes are checked by us below with a message naming the limit; libpng's
     * own limits only stop absurd headers and huge ancillary chunks */
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    png_set_chunk_malloc_max(png, 16u << 20);
    png_set_read_fn(png, &c, on_read);
    png_read_info(png, info);
    uint32_t w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    if (w > max_side || h > max_side) {
        st = rv_error_set(err, RV_ERR_INVALID, "%s is %ux%u: too large (the limit is %u pixels a side)", name, w, h,
                          max_side);
        goto done;
    }
    if ((d.width && w != d.width) || (d.height && h != d.height)) {
        st = rv_error_set(err, RV_ERR_INVALID, "%s is %ux%u, but %ux%u is needed", name, w, h,
                          d.width ? d.width : w, d.height ? d.height : h);
        goto done;
    }
    int ct = png_get_color_type(png, info);
    png_set_expand(png); /* palette to RGB, grey below 8 bits to 8, tRNS to alpha */
    png_set_strip_16(png);
    if (ct == PNG_COLOR_TYPE_GRAY || ct == PNG_COLOR_TYPE_GRAY_ALPHA)
        png_set_gray_to_rgb(png);
    if (!(ct & PNG_COLOR_MASK_ALPHA) && !png_get_valid(png, info, PNG_INFO_tRNS))
        png_set_add_alpha(png, 0xff, PNG_FILLER_AFTER);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != (size_t)w * 4) {
        snprintf(c.msg, sizeof(c.msg), "unexpected row size %zu for width %u", png_get_rowbytes(png, info), w);
        st = rv_error_set(err, RV_ERR_FORMAT, "%s: damaged PNG: %s", name, c.msg);
        goto done;
    }
    c.pixels = malloc((size_t)w * h * 4);
    c.rows = malloc(h * sizeof(png_bytep));
    if (!c.pixels || !c.rows) {
        st = rv_error_set(err, RV_ERR_HOST_MEMORY, "out of memory reading %s (%ux%u)", name, w, h);
        goto done;
    }
    for (uint32_t y = 0; y < h; y++)
        c.rows[y] = (png_bytep)(c.pixels + (size_t)y * w);
    png_read_image(png, c.rows);
    png_read_end(png, info);
    if (tags) {
        png_textp text = NULL;
        int n = png_get_text(png, info, &text, NULL);
        if (n > 0) {
            c.tags = calloc((size_t)n, sizeof(rv_media_tag));
            if (!c.tags) {
                st = rv_error_set(err, RV_ERR_HOST_MEMORY, "out of memory reading %s", name);
                goto done;
            }
            for (int i = 0; i < n; i++) {
                c.tags[i].key = strdup(text[i].key ? text[i].key : "");
                c.tags[i].value = strdup(text[i].text ? text[i].text : "");
                c.ntags++;
                if (!c.tags[i].key || !c.tags[i].value) {
                    st = rv_error_set(err, RV_ERR_HOST_MEMORY, "out of memory reading %s", name);
                    goto done;
                }
            }
        }
    }
    out->width = w;
    out->height = h;
    out->rgba = c.pixels;
    c.pixels = NULL;
    if (tags) {
        *tags = c.tags;
        *ntags = c.ntags;
        c.tags = NULL;
        c.ntags = 0;
    }
done:
    png_destroy_read_struct(&png, &info, NULL);
    free(c.rows);
    free(c.pixels);
    free_tags(c.tags, c.ntags);
    return st;
}

rv_status rv_png_decode(rv_image *out, const void *data, size_t size, const char *name, const rv_png_read_desc *desc,
                        rv_error *err)
{
    return rv_png_decode_text(out, NULL, NULL, data, size, name, desc, err);
}

/* a PNG of the largest allowed side compresses to far less than this; the
 * bound only keeps a mistaken path (a video, a disk image) from being read */
#define PNG_MAX_FILE (512u << 20)

rv_status rv_png_read(rv_image *out, const char *path, const rv_png_read_desc *desc, rv_error *err)
{
    memset(out, 0, sizeof(*out));
    unsigned char *data;
    size_t size;
    rv_status s = rv_media_read_file(path, PNG_MAX_FILE, &data, &size, err);
    if (s)
        return s;
    s = rv_png_decode(out, data, size, path, desc, err);
    free(data);
    return s;
}

/* ---- writer with metadata ----------------------------------------------- */

rv_status rv_png_write_media(const char *path, const uint32_t *rgba, uint32_t width, uint32_t height,
                             const rv_media_params *meta, const rv_media_text *extra, int nextra, rv_error *err)
{
    char tmp[4096];
    int fd = rv_media_temp_create(path, tmp, sizeof(tmp), err);
    if (fd < 0)
        return err ? err->code : RV_ERR_IO;
    close(fd); /* rv_png_write opens it again by name */
    char *params = meta ? rv_media_parameters_text(meta) : NULL;
    char *xmp = meta ? rv_media_xmp(meta) : NULL;
    char sw[96];
    snprintf(sw, sizeof(sw), "Reverie %s", rv_media_version());
    rv_png_text *text = malloc((size_t)(3 + (nextra > 0 ? nextra : 0)) * sizeof(rv_png_text));
    int n = 0;
    rv_status s = RV_OK;
    if (!text || (meta && (!params || !xmp))) {
        s = rv_error_set(err, RV_ERR_HOST_MEMORY, "PNG: out of memory writing %s", path);
        goto fail;
    }
    if (meta) {
        text[n++] = (rv_png_text){"parameters", params};
        text[n++] = (rv_png_text){RV_MEDIA_XMP_PNG_KEY, xmp};
        text[n++] = (rv_png_text){"Software", meta->software && meta->software[0] ? meta->software : sw};
    }
    for (int i = 0; i < nextra; i++) {
        bool dup = !extra[i].key || !extra[i].value;
        for (int k = 0; meta && !dup && k < 3; k++)
            dup |= strcmp(extra[i].key, text[k].key) == 0;
        if (!dup)
            text[n++] = (rv_png_text){extra[i].key, extra[i].value};
    }
    rv_error e2 = {0};
    s = rv_png_write(tmp, rgba, width, height, text, n, &e2);
    if (s) {
        /* name the file the caller asked for, not the temporary one */
        const char *why = strstr(e2.msg, tmp);
        why = why && strncmp(why + strlen(tmp), ": ", 2) == 0 ? why + strlen(tmp) + 2 : e2.msg;
        s = rv_error_set(err, s, "PNG: cannot write %s: %s", path, why);
        goto fail;
    }
    free(text);
    free(params);
    free(xmp);
    return rv_media_commit(tmp, path, err);
fail:
    unlink(tmp);
    free(text);
    free(params);
    free(xmp);
    return s;
}
