/* Fuzz target: the PNG reader (init images, `reverie inspect FILE.png`) on
 * arbitrary bytes, with its text chunks and the XMP source-type scan. Not a
 * test of libpng itself: our limits, conversions and error paths. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "media/media_internal.h"

static volatile uint32_t pixel_sum; /* keeps the pixel reads from being optimised away */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rv_image img;
    rv_media_tag *tags = NULL;
    int ntags = 0;
    rv_error err = {0};
    /* a small side limit keeps each input's allocation bounded (1024x1024 RGBA = 4 MiB) */
    rv_png_read_desc desc = {.max_side = 1024};
    if (rv_png_decode_text(&img, &tags, &ntags, data, size, "fuzz.png", &desc, &err) == RV_OK) {
        /* every pixel was written: reading them must be defined */
        uint32_t sum = 0;
        for (size_t i = 0; i < (size_t)img.width * img.height; i++)
            sum += img.rgba[i];
        pixel_sum = sum;
        char st[160];
        for (int i = 0; i < ntags; i++) {
            rv_media_xmp_source_type(tags[i].value, st, sizeof(st));
            free(tags[i].key);
            free(tags[i].value);
        }
        free(tags);
        rv_image_free(&img);
    }
    return 0;
}
