/* Video writer: RGBA8 frames to H.264 (libx264) MP4 or VP9 (libvpx-vp9)
 * WebM through libavcodec/libavformat/libswscale, with parameters and XMP
 * provenance, written to a temporary name and renamed at the end. Not a
 * renderer: it never sees the engine; frames come from the caller. */
#include <errno.h>
#include <fcntl.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "media_internal.h"

/* FFmpeg 6.1 made the AVIO write callback's buffer const */
#if LIBAVFORMAT_VERSION_MAJOR >= 61
#define RV_AVIO_BUF const uint8_t
#else
#define RV_AVIO_BUF uint8_t
#endif

enum { ST_OPEN, ST_FAILED, ST_FINISHED };

struct rv_video {
    rv_video_desc d;
    char *path;
    char tmp[4096];
    int fd;
    int64_t pos, end;        /* file position and size, for the write limit and the XMP box */
    int io_errno;            /* first write/seek failure (sticky) */
    int state;
    bool header_written;
    AVFormatContext *oc;
    AVIOContext *pb;
    const AVCodec *codec;
    AVCodecContext *cc;
    AVStream *st;
    struct SwsContext *sws;
    AVFrame *frame;
    AVPacket *pkt;
    uint32_t cw, ch;         /* coded size (even) */
    uint32_t *pad;           /* (w+1)x(h+1) staging for odd sizes in PAD mode */
    int64_t frames;
    const char *container;
};

/* ---- output through our own descriptor: errors and the write limit ------ */

static int io_write(void *opaque, RV_AVIO_BUF *buf, int n)
{
    rv_video *v = opaque;
    if (v->io_errno)
        return AVERROR(v->io_errno);
    if (v->d.write_limit > 0 && v->pos + n > v->d.write_limit) {
        v->io_errno = ENOSPC; /* the injected full disk */
        return AVERROR(ENOSPC);
    }
    size_t done = 0;
    while (done < (size_t)n) {
        ssize_t w = pwrite(v->fd, buf + done, (size_t)n - done, (off_t)(v->pos + (int64_t)done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            v->io_errno = w < 0 ? errno : EIO;
            return AVERROR(v->io_errno);
        }
        done += (size_t)w;
    }
    v->pos += n;
    if (v->pos > v->end)
        v->end = v->pos;
    return n;
}

static int64_t io_seek(void *opaque, int64_t off, int whence)
{
    rv_video *v = opaque;
    switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE: return v->end;
    case SEEK_SET: v->pos = off; break;
    case SEEK_CUR: v->pos += off; break;
    case SEEK_END: v->pos = v->end + off; break;
    default: return AVERROR(EINVAL);
    }
    return v->pos;
}

static void av_message(int code, char *out, size_t cap)
{
    if (av_strerror(code, out, cap) < 0)
        snprintf(out, cap, "libav error %d", code);
}

/* The writer fails for good: the temporary file goes at once. */
static rv_status fail(rv_video *v, rv_error *err, rv_status code, const char *what, int averr)
{
    char m[128];
    if (v->io_errno)
        snprintf(m, sizeof(m), "%s%s", strerror(v->io_errno), v->io_errno == ENOSPC ? " (disk full)" : "");
    else if (averr)
        av_message(averr, m, sizeof(m));
    else
        m[0] = 0;
    if (v->io_errno)
        code = RV_ERR_IO;
    rv_error_set(err, code, "video: cannot write %s: %s%s%s", v->path, what, m[0] ? ": " : "", m);
    v->state = ST_FAILED;
    if (v->fd >= 0) {
        close(v->fd);
        v->fd = -1;
    }
    if (v->tmp[0]) {
        unlink(v->tmp);
        v->tmp[0] = 0;
    }
    return code;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

void rv_video_destroy(rv_video *v)
{
    if (!v)
        return;
    if (v->oc) {
        /* not finished: the muxer's buffers are freed without a trailer */
        if (v->oc->pb == v->pb)
            v->oc->pb = NULL;
        avformat_free_context(v->oc);
    }
    if (v->pb) {
        av_freep(&v->pb->buffer);
        avio_context_free(&v->pb);
    }
    avcodec_free_context(&v->cc);
    sws_freeContext(v->sws);
    av_frame_free(&v->frame);
    av_packet_free(&v->pkt);
    if (v->fd >= 0)
        close(v->fd);
    if (v->state != ST_FINISHED && v->tmp[0])
        unlink(v->tmp);
    free(v->pad);
    free(v->path);
    free(v);
}

static rv_status set_metadata(rv_video *v, rv_error *err)
{
    const rv_media_params *m = v->d.meta;
    char sw[96];
    snprintf(sw, sizeof(sw), "Reverie %s", rv_media_version());
    if (m && m->prompt) {
        char *params = rv_media_parameters_text(m);
        if (!params)
            return rv_error_set(err, RV_ERR_HOST_MEMORY, "video: out of memory writing %s", v->path);
        /* "comment" becomes the MP4 ©cmt item and the Matroska COMMENT tag */
        av_dict_set(&v->oc->metadata, "comment", params, 0);
        free(params);
        av_dict_set(&v->oc->metadata, "description", m->prompt, 0);
    }
    av_dict_set(&v->oc->metadata, "encoding_tool",
                m && m->software && m->software[0] ? m->software : sw, 0);
    /* no XMP item in MP4 metadata: the packet goes in a uuid box after the
     * trailer (rv_video_finish); Matroska gets the source type as a tag */
    av_dict_set(&v->oc->metadata, "digital_source_type", RV_MEDIA_DIGITAL_SOURCE_TYPE, 0);
    return RV_OK;
}

rv_status rv_video_create(rv_video **out, const rv_video_desc *desc, rv_error *err)
{
    *out = NULL;
    if (!desc->path || !desc->path[0])
        return rv_error_set(err, RV_ERR_INVALID, "video: no output path");
    if (desc->width < 2 || desc->height < 2 || desc->width > 16384 || desc->height > 16384)
        return rv_error_set(err, RV_ERR_INVALID, "video: %s: frame size %ux%u is not 2 to 16384 a side", desc->path,
                            desc->width, desc->height);
    /* libx264 prints its whole configuration at the default (info) level;
     * the errors that matter come back to the caller in err */
    if (av_log_get_level() == AV_LOG_INFO)
        av_log_set_level(AV_LOG_ERROR);
    rv_video *v = calloc(1, sizeof(*v));
    if (!v)
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "video: out of memory");
    v->fd = -1;
    v->d = *desc;
    v->path = strdup(desc->path);
    if (!v->path) {
        free(v);
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "video: out of memory");
    }
    v->d.path = v->path;
    if (!v->d.fps_num)
        v->d.fps_num = 24, v->d.fps_den = 1;
    if (!v->d.fps_den)
        v->d.fps_den = 1;
    rv_status s = RV_OK;
    if ((uint64_t)v->d.fps_num > 1000ull * v->d.fps_den || v->d.fps_num > 1000000u || v->d.fps_den > 1000000u) {
        s = rv_error_set(err, RV_ERR_INVALID, "video: %s: frame rate %u/%u is above 1000 or too finely divided",
                         v->path, v->d.fps_num, v->d.fps_den);
        goto fail_early;
    }

    /* codec and container */
    bool webm = ends_with(v->path, ".webm") || ends_with(v->path, ".mkv");
    rv_video_codec codec = v->d.codec;
    if (codec == RV_VIDEO_AUTO)
        codec = webm ? RV_VIDEO_VP9 : RV_VIDEO_H264;
    if (codec == RV_VIDEO_H264 && webm) {
        s = rv_error_set(err, RV_ERR_INVALID, "video: %s: WebM holds VP9, not H.264 (name the file .mp4)", v->path);
        goto fail_early;
    }
    const char *enc = v->d.encoder ? v->d.encoder : codec == RV_VIDEO_H264 ? "libx264" : "libvpx-vp9";
    v->codec = avcodec_find_encoder_by_name(enc);
    if (!v->codec && !v->d.encoder && v->d.codec == RV_VIDEO_AUTO && codec == RV_VIDEO_H264) {
        /* no libx264 in this libavcodec: VP9 in the MP4 container plays in browsers too */
        codec = RV_VIDEO_VP9;
        enc = "libvpx-vp9";
        v->codec = avcodec_find_encoder_by_name(enc);
    }
    if (!v->codec || !av_codec_is_encoder(v->codec)) {
        s = rv_error_set(err, RV_ERR_UNSUPPORTED,
                         "video: cannot write %s: encoder %s is not available in this libavcodec%s", v->path, enc,
                         codec == RV_VIDEO_H264 ? " (write .webm for VP9)" : "");
        goto fail_early;
    }
    v->container = webm ? "webm" : "mp4";

    /* even size for yuv420p */
    v->cw = desc->width, v->ch = desc->height;
    if (v->d.even == RV_VIDEO_EVEN_CROP)
        v->cw &= ~1u, v->ch &= ~1u;
    else
        v->cw += v->cw & 1u, v->ch += v->ch & 1u;
    if ((v->cw != desc->width || v->ch != desc->height) && v->d.even == RV_VIDEO_EVEN_PAD) {
        v->pad = malloc((size_t)v->cw * v->ch * 4);
        if (!v->pad) {
            s = rv_error_set(err, RV_ERR_HOST_MEMORY, "video: out of memory");
            goto fail_early;
        }
    }

    /* the temporary file: this is where an unwritable folder shows */
    v->fd = rv_media_temp_create(v->path, v->tmp, sizeof(v->tmp), err);
    if (v->fd < 0) {
        s = err ? err->code : RV_ERR_IO;
        goto fail_early;
    }

    int r = avformat_alloc_output_context2(&v->oc, NULL, v->container, NULL);
    if (r < 0 || !v->oc) {
        s = fail(v, err, RV_ERR_UNSUPPORTED, "no muxer", r);
        goto fail_early;
    }
    v->cc = avcodec_alloc_context3(v->codec);
    v->frame = av_frame_alloc();
    v->pkt = av_packet_alloc();
    unsigned char *iobuf = av_malloc(1 << 16);
    if (iobuf)
        v->pb = avio_alloc_context(iobuf, 1 << 16, 1, v, NULL, io_write, io_seek);
    else
        iobuf = NULL;
    if (!v->cc || !v->frame || !v->pkt || !v->pb) {
        if (!v->pb)
            av_free(iobuf);
        s = fail(v, err, RV_ERR_HOST_MEMORY, "out of memory", 0);
        goto fail_early;
    }
    v->oc->pb = v->pb;
    v->oc->flags |= AVFMT_FLAG_CUSTOM_IO;

    AVCodecContext *cc = v->cc;
    cc->width = (int)v->cw;
    cc->height = (int)v->ch;
    cc->time_base = (AVRational){(int)v->d.fps_den, (int)v->d.fps_num};
    cc->framerate = (AVRational){(int)v->d.fps_num, (int)v->d.fps_den};
    cc->pix_fmt = AV_PIX_FMT_YUV420P;
    cc->sample_aspect_ratio = (AVRational){1, 1};
    /* BT.709 matrix, limited range, tagged so players convert back alike */
    cc->colorspace = AVCOL_SPC_BT709;
    cc->color_primaries = AVCOL_PRI_BT709;
    cc->color_trc = AVCOL_TRC_BT709;
    cc->color_range = AVCOL_RANGE_MPEG;
    if (v->oc->oformat->flags & AVFMT_GLOBALHEADER)
        cc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    bool vp9 = codec == RV_VIDEO_VP9;
    int crf = v->d.crf > 0 ? v->d.crf : vp9 ? 31 : 20;
    if (crf > (vp9 ? 63 : 51)) {
        s = fail(v, err, RV_ERR_INVALID, vp9 ? "quality (crf) must be 1 to 63 for VP9" : "quality (crf) must be 1 to 51 for H.264", 0);
        goto fail_early;
    }
    AVDictionary *opts = NULL;
    char crf_s[16];
    snprintf(crf_s, sizeof(crf_s), "%d", crf);
    av_dict_set(&opts, "crf", crf_s, 0);
    if (vp9) {
        cc->bit_rate = 0; /* constant quality */
        av_dict_set(&opts, "deadline", "good", 0);
        av_dict_set(&opts, "cpu-used", "4", 0);
        av_dict_set(&opts, "row-mt", "1", 0);
    } else if (!v->d.encoder) {
        av_dict_set(&opts, "preset", "medium", 0);
    }
    r = avcodec_open2(cc, v->codec, &opts);
    av_dict_free(&opts);
    if (r < 0) {
        s = fail(v, err, RV_ERR_UNSUPPORTED, "cannot open the encoder", r);
        goto fail_early;
    }
    v->st = avformat_new_stream(v->oc, NULL);
    if (!v->st) {
        s = fail(v, err, RV_ERR_HOST_MEMORY, "out of memory", 0);
        goto fail_early;
    }
    v->st->time_base = cc->time_base;
    v->st->avg_frame_rate = cc->framerate;
    r = avcodec_parameters_from_context(v->st->codecpar, cc);
    if (r < 0) {
        s = fail(v, err, RV_ERR_HOST_MEMORY, "codec parameters", r);
        goto fail_early;
    }
    s = set_metadata(v, err);
    if (s) {
        fail(v, err, s, "metadata", 0);
        goto fail_early;
    }
    AVDictionary *mux = NULL;
    if (strcmp(v->container, "mp4") == 0) {
        /* moov before mdat, so a browser plays the file while it downloads;
         * the muxer reads the temporary file back by name for that pass */
        size_t n = strlen(v->tmp) + 6;
        v->oc->url = av_malloc(n);
        if (v->oc->url)
            snprintf(v->oc->url, n, "file:%s", v->tmp);
        av_dict_set(&mux, "movflags", "+faststart", 0);
    }
    r = avformat_write_header(v->oc, &mux);
    av_dict_free(&mux);
    if (r < 0) {
        s = fail(v, err, RV_ERR_IO, "writing the header", r);
        goto fail_early;
    }
    v->header_written = true;

    v->frame->format = cc->pix_fmt;
    v->frame->width = cc->width;
    v->frame->height = cc->height;
    v->frame->color_range = cc->color_range;
    v->frame->colorspace = cc->colorspace;
    v->frame->color_primaries = cc->color_primaries;
    v->frame->color_trc = cc->color_trc;
    r = av_frame_get_buffer(v->frame, 0);
    v->sws = sws_getContext((int)v->cw, (int)v->ch, AV_PIX_FMT_RGBA, (int)v->cw, (int)v->ch, AV_PIX_FMT_YUV420P,
                            SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INP, NULL, NULL, NULL);
    if (r < 0 || !v->sws) {
        s = fail(v, err, RV_ERR_HOST_MEMORY, "out of memory (frame, scaler)", r);
        goto fail_early;
    }
    /* sRGB values are full range in; limited-range BT.709 out */
    sws_setColorspaceDetails(v->sws, sws_getCoefficients(SWS_CS_ITU709), 1, sws_getCoefficients(SWS_CS_ITU709), 0, 0,
                             1 << 16, 1 << 16);
    v->state = ST_OPEN;
    *out = v;
    return RV_OK;
fail_early:
    rv_video_destroy(v);
    return s;
}

/* Sends frame (NULL: flush) and writes every packet the encoder returns. */
static rv_status encode(rv_video *v, AVFrame *frame, rv_error *err)
{
    int r = avcodec_send_frame(v->cc, frame);
    if (r < 0)
        return fail(v, err, RV_ERR_IO, "encoding", r);
    for (;;) {
        r = avcodec_receive_packet(v->cc, v->pkt);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF)
            return RV_OK;
        if (r < 0)
            return fail(v, err, RV_ERR_IO, "encoding", r);
        av_packet_rescale_ts(v->pkt, v->cc->time_base, v->st->time_base);
        v->pkt->stream_index = v->st->index;
        r = av_interleaved_write_frame(v->oc, v->pkt);
        if (r < 0 || v->io_errno || v->pb->error)
            return fail(v, err, RV_ERR_IO, "writing a frame", r < 0 ? r : v->pb->error);
    }
}

rv_status rv_video_write(rv_video *v, const uint32_t *rgba, rv_error *err)
{
    if (v->state != ST_OPEN)
        return rv_error_set(err, RV_ERR_INVALID, "video: %s: writer is %s", v->path,
                            v->state == ST_FINISHED ? "finished" : "failed");
    const uint32_t *src = rgba;
    uint32_t w = v->d.width, h = v->d.height;
    if (v->pad) { /* odd size: repeat the last column and row */
        for (uint32_t y = 0; y < v->ch; y++) {
            const uint32_t *row = rgba + (size_t)(y < h ? y : h - 1) * w;
            uint32_t *o = v->pad + (size_t)y * v->cw;
            memcpy(o, row, (size_t)w * 4);
            if (v->cw > w)
                o[w] = row[w - 1];
        }
        src = v->pad;
        w = v->cw;
    }
    int r = av_frame_make_writable(v->frame);
    if (r < 0)
        return fail(v, err, RV_ERR_HOST_MEMORY, "frame buffer", r);
    const uint8_t *planes[1] = {(const uint8_t *)src};
    int strides[1] = {(int)(w * 4)};
    sws_scale(v->sws, planes, strides, 0, (int)v->ch, v->frame->data, v->frame->linesize);
    v->frame->pts = v->frames;
    rv_status s = encode(v, v->frame, err);
    if (s == RV_OK)
        v->frames++;
    return s;
}

static const uint8_t xmp_uuid[16] = {0xBE, 0x7A, 0xCF, 0xCB, 0x97, 0xA9, 0x42, 0xE8,
                                     0x9C, 0x71, 0x99, 0x94, 0x91, 0xE3, 0xAF, 0xAC};

/* ISO-BMFF: a top-level 'uuid' box with the XMP UUID holds the packet
 * (XMP spec part 3); appended after the muxer's boxes, so no offsets move */
static rv_status append_xmp_box(rv_video *v, rv_error *err)
{
    char *xmp = rv_media_xmp(v->d.meta);
    if (!xmp)
        return fail(v, err, RV_ERR_HOST_MEMORY, "out of memory (XMP)", 0);
    size_t n = strlen(xmp);
    uint32_t size = (uint32_t)(8 + 16 + n);
    uint8_t head[24] = {(uint8_t)(size >> 24), (uint8_t)(size >> 16), (uint8_t)(size >> 8), (uint8_t)size,
                        'u', 'u', 'i', 'd'};
    memcpy(head + 8, xmp_uuid, 16);
    v->pos = v->end;
    int r = io_write(v, head, 24);
    if (r >= 0)
        r = io_write(v, (uint8_t *)xmp, (int)n);
    free(xmp);
    if (r < 0)
        return fail(v, err, RV_ERR_IO, "writing the XMP box", r);
    return RV_OK;
}

rv_status rv_video_finish(rv_video *v, rv_error *err)
{
    if (v->state != ST_OPEN)
        return rv_error_set(err, RV_ERR_INVALID, "video: %s: writer is %s", v->path,
                            v->state == ST_FINISHED ? "finished" : "failed");
    if (v->frames == 0)
        return fail(v, err, RV_ERR_INVALID, "no frames were written", 0);
    rv_status s = encode(v, NULL, err);
    if (s)
        return s;
    int r = av_write_trailer(v->oc);
    avio_flush(v->pb);
    if (r < 0 || v->io_errno || v->pb->error)
        return fail(v, err, RV_ERR_IO, "writing the trailer", r < 0 ? r : v->pb->error);
    if (strcmp(v->container, "mp4") == 0) {
        s = append_xmp_box(v, err);
        if (s)
            return s;
    }
    int fd = v->fd;
    v->fd = -1;
    if (close(fd) != 0) {
        v->io_errno = errno;
        return fail(v, err, RV_ERR_IO, "closing", 0);
    }
    s = rv_media_commit(v->tmp, v->path, err);
    v->tmp[0] = 0;
    v->state = s ? ST_FAILED : ST_FINISHED;
    return s;
}

void rv_video_get_stats(const rv_video *v, rv_video_stats *out)
{
    out->frames = v->frames;
    out->coded_width = v->cw;
    out->coded_height = v->ch;
    out->encoder = v->codec ? v->codec->name : "";
    out->container = v->container ? v->container : "";
    out->temp_path = v->tmp;
}
