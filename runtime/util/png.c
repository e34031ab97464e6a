/* PNG writer on libpng; see rv_png.h. */
#include <errno.h>
#include <png.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rv_png.h"

/* libpng's errors: the message and errno at that moment (a full disk shows
 * as libpng's "Write Error" with ENOSPC), then the jump back */
typedef struct png_failure {
    char msg[160];
    int errnum;
    FILE *f;
} png_failure;

static void on_png_error(png_structp png, png_const_charp msg)
{
    png_failure *f = png_get_error_ptr(png);
    f->errnum = f->f && ferror(f->f) ? errno : 0;
    snprintf(f->msg, sizeof(f->msg), "%s", msg);
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

rv_status rv_png_write(const char *path, const uint32_t *rgba, uint32_t w, uint32_t h, const rv_png_text *text,
                       int ntext, rv_error *err)
{
    if (w == 0 || h == 0 || w > 65536 || h > 65536)
        return rv_error_set(err, RV_ERR_INVALID, "PNG: %s: bad image size %ux%u", path, w, h);
    FILE *f = fopen(path, "wb");
    if (!f)
        return rv_error_set(err, RV_ERR_IO, "PNG: cannot create %s: %s", path, strerror(errno));
    /* on the heap: what the error handler writes must survive the longjmp */
    png_failure *failure = calloc(1, sizeof(*failure));
    if (failure)
        failure->f = f;
    png_structp png = failure ? png_create_write_struct(PNG_LIBPNG_VER_STRING, failure, on_png_error, on_png_warning)
                              : NULL;
    png_infop info = png ? png_create_info_struct(png) : NULL;
    png_textp chunks = ntext > 0 ? calloc((size_t)ntext, sizeof(png_text)) : NULL;
    png_bytep *rows = malloc(h * sizeof(png_bytep));
    if (!png || !info || !rows || (ntext > 0 && !chunks)) {
        png_destroy_write_struct(&png, &info);
        free(chunks);
        free(rows);
        free(failure);
        fclose(f);
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "PNG: out of memory writing %s", path);
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(chunks);
        free(rows);
        fclose(f);
        rv_status s = failure->errnum ? rv_error_set(err, RV_ERR_IO, "PNG: cannot write %s: %s (libpng: %s)", path,
                                                     strerror(failure->errnum), failure->msg)
                                      : rv_error_set(err, RV_ERR_IO, "PNG: cannot write %s: libpng: %s", path,
                                                     failure->msg);
        free(failure);
        return s;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, w, h, 8, PNG_COLOR_TYPE_RGB_ALPHA, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    for (int i = 0; i < ntext; i++) {
        /* tEXt is Latin-1: text with other bytes (a UTF-8 prompt) goes in an iTXt chunk;
         * XMP always does (the XMP spec names iTXt "XML:com.adobe.xmp") */
        bool ascii = strcmp(text[i].key, "XML:com.adobe.xmp") != 0;
        for (const unsigned char *c = (const unsigned char *)text[i].value; *c && ascii; c++)
            ascii = *c < 0x80;
        chunks[i].compression = ascii ? PNG_TEXT_COMPRESSION_NONE : PNG_ITXT_COMPRESSION_NONE;
        chunks[i].key = (png_charp)text[i].key;
        chunks[i].text = (png_charp)text[i].value;
        chunks[i].lang = ascii ? NULL : (png_charp) "";
        chunks[i].lang_key = ascii ? NULL : (png_charp) "";
    }
    if (ntext > 0)
        png_set_text(png, info, chunks, ntext);
    png_write_info(png, info);
    /* RGBA8 words are little-endian in memory: bytes R, G, B, A as PNG wants
     * on little-endian hosts. */
    for (uint32_t y = 0; y < h; y++)
        rows[y] = (png_bytep)(rgba + (size_t)y * w);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(chunks);
    free(rows);
    free(failure);
    if (fclose(f) != 0)
        return rv_error_set(err, RV_ERR_IO, "PNG: error closing %s: %s", path, strerror(errno));
    return RV_OK;
}
