/* PNG output (libpng) with tEXt chunks for generation parameters and
 * provenance. Writing only (the reader is runtime/media/png_io.c); not an
 * image library. */
#ifndef RV_PNG_H
#define RV_PNG_H

#include <stdint.h>

#include "rv_status.h"

typedef struct rv_png_text {
    const char *key;
    const char *value;
} rv_png_text;

/* rgba: h rows of w packed RGBA8 pixels (R in the low byte). Text values
 * that are plain ASCII become tEXt chunks, others (UTF-8) iTXt chunks, and
 * the key "XML:com.adobe.xmp" always iTXt. Writes path directly; the media
 * layer's rv_png_write_media (rv_media.h) adds the parameters and XMP and
 * writes through a temporary name. */
rv_status rv_png_write(const char *path, const uint32_t *rgba, uint32_t w, uint32_t h, const rv_png_text *text,
                       int ntext, rv_error *err);

#endif
