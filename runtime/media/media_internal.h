/* Shared inside runtime/media: temporary names for write-then-rename, the
 * whole-file reader, and PNG text reading for rv_media_probe. Not public. */
#ifndef RV_MEDIA_INTERNAL_H
#define RV_MEDIA_INTERNAL_H

#include <stddef.h>

#include "rv_media.h"

/* Creates an empty file `<dir>/.<name>.part-XXXXXX` beside path (mode 0644)
 * and returns its open descriptor, or -1 with err set naming path. */
int rv_media_temp_create(const char *path, char *tmp, size_t cap, rv_error *err);
/* Renames tmp to path; on failure removes tmp and sets err. */
rv_status rv_media_commit(const char *tmp, const char *path, rv_error *err);

/* Reads a whole file (at most max bytes) into a malloc'd buffer. */
rv_status rv_media_read_file(const char *path, size_t max, unsigned char **data, size_t *size, rv_error *err);

/* Decodes a PNG and collects its text chunks (key/value pairs, malloc'd). */
rv_status rv_png_decode_text(rv_image *out, rv_media_tag **tags, int *ntags, const void *data, size_t size,
                             const char *name, const rv_png_read_desc *desc, rv_error *err);

/* Pulls the attribute Iptc4xmpExt:DigitalSourceType (or the element of that
 * name) out of an XMP packet into out; "" when absent. */
void rv_media_xmp_source_type(const char *xmp, char *out, size_t cap);

#endif
