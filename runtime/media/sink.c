/* One door for `render -o`: a video file (.mp4/.webm), a numbered PNG
 * sequence (a path with one %d, e.g. out/frame_%04d.png) or a single PNG,
 * chosen by the path. A render that is abandoned (destroy without finish)
 * takes back every file it made. Not an encoder: video.c and png_io.c are. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rv_media.h"

struct rv_media_out {
    rv_media_out_desc d;
    rv_media_out_kind kind;
    char *path;
    rv_video *video;
    char prefix[4096], suffix[256];  /* PNG sequence: prefix, number, suffix */
    int width_digits;
    int64_t frames;
    bool finished;
    char made_dir[4096];             /* a folder this sink created, removed again on abort */
};

/* Splits a pattern with exactly one %d / %Nd / %0Nd (and any %%) into the
 * parts around it; false if it has none, two, or another conversion. */
static bool parse_pattern(const char *p, char *pre, size_t precap, char *suf, size_t sufcap, int *digits)
{
    size_t o = 0;
    char *out = pre;
    size_t cap = precap;
    int found = 0;
    *digits = 0;
    for (const char *c = p; *c; c++) {
        if (*c != '%') {
            if (o + 1 >= cap)
                return false;
            out[o++] = *c;
            continue;
        }
        if (c[1] == '%') {
            if (o + 1 >= cap)
                return false;
            out[o++] = '%';
            c++;
            continue;
        }
        const char *q = c + 1;
        int w = 0;
        while (*q >= '0' && *q <= '9' && w < 100)
            w = w * 10 + (*q++ - '0');
        if (*q != 'd' || w > 9 || found++)
            return false;
        *digits = w;
        out[o] = 0;
        out = suf, cap = sufcap, o = 0;
        c = q;
    }
    out[o] = 0;
    return found == 1;
}

static void frame_path(const rv_media_out *o, int64_t index, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s%0*lld%s", o->prefix, o->width_digits, (long long)index, o->suffix);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

rv_status rv_media_out_create(rv_media_out **out, const rv_media_out_desc *desc, rv_error *err)
{
    *out = NULL;
    if (!desc->path || !desc->path[0])
        return rv_error_set(err, RV_ERR_INVALID, "output: no path");
    rv_media_out *o = calloc(1, sizeof(*o));
    if (!o || !(o->path = strdup(desc->path))) {
        free(o);
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "output: out of memory");
    }
    o->d = *desc;
    o->d.path = o->path;
    rv_status s = RV_OK;
    if (strchr(o->path, '%')) {
        o->kind = RV_MEDIA_OUT_PNG_SEQUENCE;
        if (!parse_pattern(o->path, o->prefix, sizeof(o->prefix), o->suffix, sizeof(o->suffix), &o->width_digits) ||
            !ends_with(o->suffix, ".png")) {
            s = rv_error_set(err, RV_ERR_INVALID,
                             "output: %s: a frame pattern needs exactly one %%d (or %%04d) and to end in .png, "
                             "like out/frame_%%04d.png",
                             o->path);
            goto fail;
        }
        /* the folder of the frames: made if missing (one level), unmade on abort */
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s", o->prefix);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
            *slash = 0;
            struct stat st;
            if (stat(dir, &st) != 0) {
                if (mkdir(dir, 0755) != 0) {
                    s = rv_error_set(err, RV_ERR_IO, "output: cannot make the folder %s for %s: %s", dir, o->path,
                                     strerror(errno));
                    goto fail;
                }
                snprintf(o->made_dir, sizeof(o->made_dir), "%s", dir);
            } else if (!S_ISDIR(st.st_mode)) {
                s = rv_error_set(err, RV_ERR_IO, "output: %s is not a folder (for %s)", dir, o->path);
                goto fail;
            }
        }
    } else if (ends_with(o->path, ".png")) {
        o->kind = RV_MEDIA_OUT_PNG;
    } else {
        o->kind = RV_MEDIA_OUT_VIDEO;
        rv_video_desc vd = {
            .path = o->path, .width = desc->width, .height = desc->height, .fps_num = desc->fps_num,
            .fps_den = desc->fps_den, .crf = desc->crf, .codec = desc->codec, .even = desc->even,
            .meta = desc->meta, .write_limit = desc->write_limit, .encoder = desc->encoder,
        };
        if (!ends_with(o->path, ".mp4") && !ends_with(o->path, ".webm") && !ends_with(o->path, ".mkv") &&
            !ends_with(o->path, ".mov") && !ends_with(o->path, ".m4v")) {
            s = rv_error_set(err, RV_ERR_INVALID,
                             "output: %s: name a video (.mp4, .webm), a PNG (.png) or frames (out/frame_%%04d.png)",
                             o->path);
            goto fail;
        }
        s = rv_video_create(&o->video, &vd, err);
        if (s)
            goto fail;
    }
    if (desc->width == 0 || desc->height == 0) {
        s = rv_error_set(err, RV_ERR_INVALID, "output: %s: no frame size", o->path);
        goto fail;
    }
    *out = o;
    return RV_OK;
fail:
    rv_media_out_destroy(o);
    return s;
}

rv_media_out_kind rv_media_out_get_kind(const rv_media_out *o)
{
    return o->kind;
}

rv_status rv_media_out_write(rv_media_out *o, const uint32_t *rgba, const rv_media_params *meta, rv_error *err)
{
    if (o->finished)
        return rv_error_set(err, RV_ERR_INVALID, "output: %s is finished", o->path);
    rv_status s;
    char path[4400];
    switch (o->kind) {
    case RV_MEDIA_OUT_VIDEO:
        s = rv_video_write(o->video, rgba, err);
        break;
    case RV_MEDIA_OUT_PNG:
        if (o->frames > 0)
            return rv_error_set(err, RV_ERR_INVALID,
                                "output: %s holds one frame; for more, name frames like out/frame_%%04d.png or a "
                                ".mp4",
                                o->path);
        s = rv_png_write_media(o->path, rgba, o->d.width, o->d.height, meta ? meta : o->d.meta, NULL, 0, err);
        break;
    default:
        frame_path(o, (int64_t)o->d.first_index + o->frames, path, sizeof(path));
        s = rv_png_write_media(path, rgba, o->d.width, o->d.height, meta ? meta : o->d.meta, NULL, 0, err);
        break;
    }
    if (s == RV_OK)
        o->frames++;
    return s;
}

rv_status rv_media_out_finish(rv_media_out *o, rv_error *err)
{
    if (o->finished)
        return RV_OK;
    if (o->frames == 0)
        return rv_error_set(err, RV_ERR_INVALID, "output: %s: no frames were written", o->path);
    if (o->kind == RV_MEDIA_OUT_VIDEO) {
        rv_status s = rv_video_finish(o->video, err);
        if (s)
            return s;
    }
    o->finished = true;
    return RV_OK;
}

int64_t rv_media_out_frames(const rv_media_out *o)
{
    return o->frames;
}

void rv_media_out_destroy(rv_media_out *o)
{
    if (!o)
        return;
    rv_video_destroy(o->video); /* unfinished: its temporary file goes */
    if (!o->finished) {
        char path[4400];
        if (o->kind == RV_MEDIA_OUT_PNG && o->frames > 0)
            unlink(o->path);
        for (int64_t i = 0; o->kind == RV_MEDIA_OUT_PNG_SEQUENCE && i < o->frames; i++) {
            frame_path(o, (int64_t)o->d.first_index + i, path, sizeof(path));
            unlink(path);
        }
        if (o->made_dir[0])
            rmdir(o->made_dir); /* only if empty: someone else's files stay */
    }
    free(o->path);
    free(o);
}
