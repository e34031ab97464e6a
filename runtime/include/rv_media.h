/* Public media API: PNG and video files in and out, with the generation
 * parameters and provenance every output carries, and colour coherence.
 * Plain data and opaque handles only; no GPU, no engine types. */
#ifndef RV_MEDIA_H
#define RV_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rv_status.h"

/* Images are packed RGBA8 words, R in the low byte (bytes R, G, B, A in
 * memory on little-endian hosts), rows of `width` pixels, no padding. */

/* ---- generation parameters and provenance ------------------------------ */

/* What made a picture. Zero / NULL fields are left out of the text. */
typedef struct rv_media_params {
    const char *prompt;
    const char *negative;
    int steps;
    uint64_t seed;
    bool has_seed;           /* a seed of 0 is a seed: say so */
    uint32_t width, height;
    const char *model;       /* model name (folder name) */
    const char *model_hash;  /* e.g. the first 10 hex digits of a weights hash */
    const char *scheduler;   /* written as "Sampler:" (A1111's key) */
    float guidance;          /* CFG scale; 0 = not written */
    float strength;          /* denoising strength; 0 = not written (txt2img) */
    const char *software;    /* NULL: "Reverie <version>" */
    const char *extra;       /* appended to the settings line as is: "Frames: 240, FPS: 24" */
} rv_media_params;

/* The AUTOMATIC1111-style `parameters` text:
 *   prompt\nNegative prompt: negative\nSteps: 4, Sampler: euler, CFG scale: 1,
 *   Seed: 7, Size: 256x256, Model hash: abc, Model: name, Denoising strength:
 *   0.5, Version: Reverie 0.1.0[, extra]
 * Values holding ',' ':' or '"' are quoted as A1111 does. Returns a malloc'd
 * string (the caller frees), NULL when out of memory. */
char *rv_media_parameters_text(const rv_media_params *p);

#define RV_MEDIA_DIGITAL_SOURCE_TYPE "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
#define RV_MEDIA_XMP_PNG_KEY "XML:com.adobe.xmp"

/* An XMP packet: Iptc4xmpExt:DigitalSourceType = trainedAlgorithmicMedia,
 * xmp:CreatorTool, and the parameters text as dc:description. malloc'd. */
char *rv_media_xmp(const rv_media_params *p);

/* SHA-256 of a file as 64 hex digits; A1111's "Model hash" is the first
 * 10 of the weights file's. */
rv_status rv_media_sha256_file(const char *path, char hex[65], rv_error *err);

/* The Reverie version this library was built as ("0.1.0"). */
const char *rv_media_version(void);

/* ---- images ------------------------------------------------------------- */

typedef struct rv_image {
    uint32_t width, height;
    uint32_t *rgba;          /* width*height words, malloc'd */
} rv_image;

void rv_image_free(rv_image *img);

#define RV_PNG_MAX_SIDE_DEFAULT 8192u   /* 8192x8192 RGBA8 = 256 MiB */

typedef struct rv_png_read_desc {
    uint32_t width, height;  /* required size; 0 = any */
    uint32_t max_side;       /* refuse larger images; 0 = RV_PNG_MAX_SIDE_DEFAULT */
} rv_png_read_desc;

/* Reads any PNG (grey, palette, 16-bit, with or without alpha) as RGBA8.
 * Errors name the file: missing/unreadable (RV_ERR_IO), not a PNG or
 * damaged (RV_ERR_FORMAT), too large or not the required size
 * (RV_ERR_INVALID). desc may be NULL. */
rv_status rv_png_read(rv_image *out, const char *path, const rv_png_read_desc *desc, rv_error *err);
/* The same from memory; `name` is used in messages (fuzzing, embedded files). */
rv_status rv_png_decode(rv_image *out, const void *data, size_t size, const char *name, const rv_png_read_desc *desc,
                        rv_error *err);

/* One more text chunk for a PNG (tEXt when ASCII, iTXt otherwise). */
typedef struct rv_media_text {
    const char *key, *value;
} rv_media_text;

/* Writes a PNG with the `parameters` tEXt chunk (iTXt when not ASCII), the
 * XMP iTXt chunk `XML:com.adobe.xmp`, "Software", then the extra chunks
 * (those with one of the first three keys are skipped). Written to a
 * temporary name in the same folder and renamed at the end: a failed write
 * leaves nothing under either name. meta may be NULL (no parameters, no
 * XMP: only the extra chunks). */
rv_status rv_png_write_media(const char *path, const uint32_t *rgba, uint32_t width, uint32_t height,
                             const rv_media_params *meta, const rv_media_text *extra, int nextra, rv_error *err);

/* ---- video -------------------------------------------------------------- */

typedef enum rv_video_codec {
    RV_VIDEO_AUTO = 0,       /* by extension: .webm VP9; otherwise H.264 (VP9 in MP4 if no libx264) */
    RV_VIDEO_H264,           /* libx264, yuv420p, MP4 (faststart: moov before mdat) */
    RV_VIDEO_VP9,            /* libvpx-vp9, yuv420p, WebM (or MP4 if the path says .mp4) */
} rv_video_codec;

typedef enum rv_video_even {
    RV_VIDEO_EVEN_PAD = 0,   /* odd width/height: repeat the last column/row (nothing lost) */
    RV_VIDEO_EVEN_CROP,      /* odd width/height: drop the last column/row */
} rv_video_even;

typedef struct rv_video_desc {
    const char *path;        /* .mp4 or .webm */
    uint32_t width, height;  /* of the RGBA8 frames given to rv_video_write */
    uint32_t fps_num, fps_den;  /* frame rate; 0 = 24/1 (den 0 = 1) */
    int crf;                 /* quality (lower is better): 0 = default (x264 20, VP9 31);
                                x264 1..51, VP9 1..63 */
    rv_video_codec codec;
    rv_video_even even;
    const rv_media_params *meta;  /* NULL: no parameters, provenance still written */
    /* Test hooks. write_limit > 0: writes past this many bytes fail as a
     * full disk (ENOSPC) would. encoder: an encoder name to use instead of
     * the codec's (an unknown name tests the "encoder missing" path). */
    int64_t write_limit;
    const char *encoder;
} rv_video_desc;

typedef struct rv_video rv_video;

/* Opens the encoder and a temporary file `.<name>.part-XXXXXX` beside path.
 * Errors (encoder missing: RV_ERR_UNSUPPORTED; folder not writable:
 * RV_ERR_IO; bad size or rate: RV_ERR_INVALID) name the file and leave
 * nothing behind. */
rv_status rv_video_create(rv_video **out, const rv_video_desc *desc, rv_error *err);
/* Encodes one frame of desc->width x desc->height RGBA8. On error the
 * temporary file is removed at once; the writer then only accepts destroy. */
rv_status rv_video_write(rv_video *v, const uint32_t *rgba, rv_error *err);
/* Flushes the encoder, writes the trailer, metadata and XMP, and renames the
 * temporary file to path: a playable file of every frame written so far
 * (also the way to end on Ctrl-C). At least one frame is needed. On error
 * nothing is left under either name. */
rv_status rv_video_finish(rv_video *v, rv_error *err);
/* Frees; if not finished, removes the temporary file. NULL is fine. */
void rv_video_destroy(rv_video *v);

typedef struct rv_video_stats {
    int64_t frames;          /* frames given */
    uint32_t coded_width, coded_height;  /* after the even-size rule */
    const char *encoder;     /* "libx264", "libvpx-vp9" */
    const char *container;   /* "mp4", "webm" */
    const char *temp_path;   /* the temporary file while writing */
} rv_video_stats;
void rv_video_get_stats(const rv_video *v, rv_video_stats *out);

/* Decoding a video back to RGBA8 frames (tests, init clips). */
typedef struct rv_video_reader rv_video_reader;
rv_status rv_video_reader_open(rv_video_reader **out, const char *path, rv_error *err);
/* Frame size and rate of the first video stream. */
void rv_video_reader_size(const rv_video_reader *r, uint32_t *width, uint32_t *height, double *fps);
/* Decodes the next frame into rgba (width*height words). *got = false at
 * the end of the stream. */
rv_status rv_video_reader_next(rv_video_reader *r, uint32_t *rgba, bool *got, rv_error *err);
void rv_video_reader_close(rv_video_reader *r);

/* ---- one output for a render: video, PNG sequence or one PNG ----------- */

typedef enum rv_media_out_kind {
    RV_MEDIA_OUT_VIDEO = 1,        /* .mp4 / .webm (.mkv .mov .m4v): rv_video */
    RV_MEDIA_OUT_PNG_SEQUENCE,     /* a path with one %d / %04d, ending .png */
    RV_MEDIA_OUT_PNG,              /* x.png: one frame */
} rv_media_out_kind;

typedef struct rv_media_out_desc {
    const char *path;              /* "out.mp4", "out/frame_%04d.png", "out.png" */
    uint32_t width, height;
    uint32_t fps_num, fps_den;     /* video only; as rv_video_desc */
    int crf;                       /* video only */
    rv_video_codec codec;          /* video only */
    rv_video_even even;            /* video only */
    const rv_media_params *meta;   /* the video's; each PNG's unless write() gives one */
    uint32_t first_index;          /* PNG sequence: the first frame's number (0) */
    int64_t write_limit;           /* video test hooks, passed on */
    const char *encoder;
} rv_media_out_desc;

typedef struct rv_media_out rv_media_out;

/* Picks the writer by the path. A PNG sequence's folder is made if missing
 * (one level). Every PNG is written through a temporary name. */
rv_status rv_media_out_create(rv_media_out **out, const rv_media_out_desc *desc, rv_error *err);
/* One frame of desc's size. meta: this frame's parameters for a PNG (the
 * prompt of a schedule changes); NULL uses desc->meta; ignored for video. */
rv_status rv_media_out_write(rv_media_out *o, const uint32_t *rgba, const rv_media_params *meta, rv_error *err);
/* Ends the output with every frame written so far (also on Ctrl-C). */
rv_status rv_media_out_finish(rv_media_out *o, rv_error *err);
/* Unfinished (an error, an abandoned render): removes every file it made,
 * and the folder it made if that is empty. NULL is fine. */
void rv_media_out_destroy(rv_media_out *o);
rv_media_out_kind rv_media_out_get_kind(const rv_media_out *o);
int64_t rv_media_out_frames(const rv_media_out *o);

/* ---- what a file says about itself -------------------------------------- */

typedef struct rv_media_tag {
    char *key, *value;
} rv_media_tag;

typedef struct rv_media_info {
    char container[16];      /* "png", "mp4", "webm" (or libavformat's name) */
    char codec[32];          /* "png", "h264", "vp9" */
    uint32_t width, height;
    int64_t frames;          /* 1 for a PNG */
    double fps;              /* 0 for a PNG */
    double seconds;
    char *parameters;        /* the `parameters` text / comment tag, or NULL */
    char *xmp;               /* the XMP packet, or NULL */
    char source_type[160];   /* Iptc4xmpExt:DigitalSourceType from the XMP, or "" */
    rv_media_tag *tags;      /* every other text chunk / metadata tag */
    int ntags;
} rv_media_info;

/* PNG (by signature) or anything libavformat opens. */
rv_status rv_media_probe(rv_media_info *info, const char *path, rv_error *err);
void rv_media_info_free(rv_media_info *info);

/* ---- colour coherence --------------------------------------------------- */

/* Matches frame's colour distribution to ref's in CIELAB (D65), each of L*,
 * a*, b* by histogram matching (quantile mapping over 1024 bins per
 * channel), in place; alpha is kept. The two images may differ in size.
 * amount in [0,1] blends the matched colour with the original (1 = fully
 * matched). Returns RV_ERR_HOST_MEMORY or RV_ERR_INVALID on bad sizes. */
rv_status rv_color_match_lab(uint32_t *frame, uint32_t width, uint32_t height, const uint32_t *ref,
                             uint32_t ref_width, uint32_t ref_height, float amount, rv_error *err);

#endif
