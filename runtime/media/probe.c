/* Reading media back: what a PNG or video file says about itself (size,
 * frames, rate, codec, parameters, XMP source type) and a frame-by-frame
 * RGBA8 decoder for videos. Not a player: no timing, no audio. */
#include <errno.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "media_internal.h"

void rv_media_info_free(rv_media_info *info)
{
    if (!info)
        return;
    free(info->parameters);
    free(info->xmp);
    for (int i = 0; i < info->ntags; i++) {
        free(info->tags[i].key);
        free(info->tags[i].value);
    }
    free(info->tags);
    memset(info, 0, sizeof(*info));
}

void rv_media_xmp_source_type(const char *xmp, char *out, size_t cap)
{
    out[0] = 0;
    if (!xmp || cap == 0)
        return;
    for (const char *p = strstr(xmp, "DigitalSourceType"); p; p = strstr(p + 1, "DigitalSourceType")) {
        const char *q = p + strlen("DigitalSourceType");
        while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
            q++;
        const char *start = NULL, *stop = NULL;
        if (*q == '=' ) { /* attribute form */
            q++;
            while (*q == ' ')
                q++;
            char quote = *q;
            if (quote != '"' && quote != '\'')
                continue;
            start = q + 1;
            stop = strchr(start, quote);
        } else if (*q == '>') { /* element with text */
            start = q + 1;
            stop = strchr(start, '<');
        } else { /* element with rdf:resource="..." */
            const char *gt = strchr(q, '>');
            const char *res = strstr(q, "resource=\"");
            if (!res || (gt && res > gt))
                continue;
            start = res + strlen("resource=\"");
            stop = strchr(start, '"');
        }
        if (!start || !stop)
            continue;
        while (start < stop && (*start == ' ' || *start == '\n'))
            start++;
        while (stop > start && (stop[-1] == ' ' || stop[-1] == '\n'))
            stop--;
        size_t n = (size_t)(stop - start);
        if (n >= cap)
            n = cap - 1;
        memcpy(out, start, n);
        out[n] = 0;
        return;
    }
}

static rv_status add_tag(rv_media_info *info, const char *key, const char *value, rv_error *err, const char *path)
{
    rv_media_tag *t = realloc(info->tags, (size_t)(info->ntags + 1) * sizeof(*t));
    if (!t)
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "out of memory reading %s", path);
    info->tags = t;
    t[info->ntags].key = strdup(key);
    t[info->ntags].value = strdup(value);
    info->ntags++;
    if (!t[info->ntags - 1].key || !t[info->ntags - 1].value)
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "out of memory reading %s", path);
    return RV_OK;
}

static rv_status probe_png(rv_media_info *info, const char *path, const unsigned char *data, size_t size,
                           rv_error *err)
{
    rv_image img;
    rv_media_tag *tags = NULL;
    int n = 0;
    rv_status s = rv_png_decode_text(&img, &tags, &n, data, size, path, NULL, err);
    if (s)
        return s;
    snprintf(info->container, sizeof(info->container), "png");
    snprintf(info->codec, sizeof(info->codec), "png");
    info->width = img.width;
    info->height = img.height;
    info->frames = 1;
    rv_image_free(&img);
    for (int i = 0; i < n; i++) {
        if (!info->parameters && strcmp(tags[i].key, "parameters") == 0) {
            info->parameters = tags[i].value;
            tags[i].value = NULL;
        } else if (!info->xmp && strcmp(tags[i].key, RV_MEDIA_XMP_PNG_KEY) == 0) {
            info->xmp = tags[i].value;
            tags[i].value = NULL;
        } else if (s == RV_OK) {
            s = add_tag(info, tags[i].key, tags[i].value, err, path);
        }
    }
    for (int i = 0; i < n; i++) {
        free(tags[i].key);
        free(tags[i].value);
    }
    free(tags);
    return s;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The XMP packet of an ISO-BMFF file: a top-level 'uuid' box with the XMP
 * UUID. Walks the top-level boxes only; NULL when there is none. */
static char *bmff_xmp(const char *path)
{
    static const unsigned char uuid[16] = {0xBE, 0x7A, 0xCF, 0xCB, 0x97, 0xA9, 0x42, 0xE8,
                                           0x9C, 0x71, 0x99, 0x94, 0x91, 0xE3, 0xAF, 0xAC};
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *xmp = NULL;
    unsigned char h[32];
    int64_t pos = 0;
    for (int boxes = 0; boxes < 100000; boxes++) {
        if (fseeko(f, pos, SEEK_SET) != 0 || fread(h, 1, 8, f) != 8)
            break;
        uint64_t size = be32(h), head = 8;
        if (size == 1) {
            if (fread(h + 8, 1, 8, f) != 8)
                break;
            size = (uint64_t)be32(h + 8) << 32 | be32(h + 12);
            head = 16;
        } else if (size == 0) {
            break; /* to the end of the file: the last box, and media data */
        }
        if (size < head)
            break;
        if (memcmp(h + 4, "uuid", 4) == 0 && size >= head + 16 && size - head - 16 < (16u << 20)) {
            unsigned char id[16];
            if (fread(id, 1, 16, f) == 16 && memcmp(id, uuid, 16) == 0) {
                size_t n = (size_t)(size - head - 16);
                xmp = malloc(n + 1);
                if (xmp && fread(xmp, 1, n, f) == n) {
                    xmp[n] = 0;
                } else {
                    free(xmp);
                    xmp = NULL;
                }
                break;
            }
        }
        pos += (int64_t)size;
    }
    fclose(f);
    return xmp;
}

static rv_status probe_av(rv_media_info *info, const char *path, rv_error *err)
{
    AVFormatContext *fc = NULL;
    AVDictionary *opts = NULL;
    av_dict_set(&opts, "export_xmp", "1", 0);
    int r = avformat_open_input(&fc, path, NULL, &opts);
    av_dict_free(&opts);
    char m[128];
    if (r < 0) {
        av_strerror(r, m, sizeof(m));
        return rv_error_set(err, r == AVERROR(ENOENT) || r == AVERROR(EACCES) ? RV_ERR_IO : RV_ERR_FORMAT,
                            "cannot read %s: %s", path, m);
    }
    rv_status s = RV_OK;
    r = avformat_find_stream_info(fc, NULL);
    int vi = r < 0 ? r : av_find_best_stream(fc, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (vi < 0) {
        s = rv_error_set(err, RV_ERR_FORMAT, "%s: no video stream", path);
        goto done;
    }
    AVStream *st = fc->streams[vi];
    const char *fmt = fc->iformat->name;
    const char *dot = strrchr(path, '.');
    if (strncmp(fmt, "mov,", 4) == 0)
        snprintf(info->container, sizeof(info->container), "%s", dot && strcasecmp(dot, ".mov") == 0 ? "mov" : "mp4");
    else if (strncmp(fmt, "matroska", 8) == 0)
        snprintf(info->container, sizeof(info->container), "%s",
                 dot && strcasecmp(dot, ".mkv") == 0 ? "matroska" : "webm");
    else
        snprintf(info->container, sizeof(info->container), "%.*s", (int)strcspn(fmt, ","), fmt);
    snprintf(info->codec, sizeof(info->codec), "%s", avcodec_get_name(st->codecpar->codec_id));
    info->width = (uint32_t)st->codecpar->width;
    info->height = (uint32_t)st->codecpar->height;
    if (!info->width || !info->height) {
        s = rv_error_set(err, RV_ERR_FORMAT, "%s: no decodable video (the %s stream has no frame size)", path,
                         info->codec);
        goto done;
    }
    AVRational fr = st->avg_frame_rate.num ? st->avg_frame_rate : st->r_frame_rate;
    info->fps = fr.den ? av_q2d(fr) : 0;
    info->seconds = fc->duration > 0 ? (double)fc->duration / AV_TIME_BASE : 0;
    info->frames = st->nb_frames;
    if (info->frames <= 0) { /* WebM keeps no count: count the packets */
        AVPacket *pkt = av_packet_alloc();
        info->frames = 0;
        while (pkt && av_read_frame(fc, pkt) >= 0) {
            info->frames += pkt->stream_index == vi;
            av_packet_unref(pkt);
        }
        av_packet_free(&pkt);
    }
    const AVDictionaryEntry *e = NULL;
    for (int pass = 0; pass < 2; pass++) {
        AVDictionary *md = pass ? st->metadata : fc->metadata;
        while (s == RV_OK && (e = av_dict_get(md, "", e, AV_DICT_IGNORE_SUFFIX))) {
            if (!info->parameters && strcasecmp(e->key, "comment") == 0) {
                info->parameters = strdup(e->value);
            } else if (!info->xmp && strcasecmp(e->key, "xmp") == 0) {
                info->xmp = strdup(e->value);
            } else {
                s = add_tag(info, e->key, e->value, err, path);
            }
        }
    }
    if (!info->xmp && strcmp(info->container, "webm") != 0 && strcmp(info->container, "matroska") != 0)
        info->xmp = bmff_xmp(path);
    if (!info->source_type[0]) {
        for (int i = 0; i < info->ntags; i++)
            if (strcasecmp(info->tags[i].key, "digital_source_type") == 0)
                snprintf(info->source_type, sizeof(info->source_type), "%s", info->tags[i].value);
    }
done:
    avformat_close_input(&fc);
    return s;
}

rv_status rv_media_probe(rv_media_info *info, const char *path, rv_error *err)
{
    memset(info, 0, sizeof(*info));
    FILE *f = fopen(path, "rb");
    if (!f)
        return rv_error_set(err, RV_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    unsigned char sig[8];
    size_t got = fread(sig, 1, 8, f);
    fclose(f);
    rv_status s;
    const char *dot = strrchr(path, '.');
    bool png_name = dot && strcasecmp(dot, ".png") == 0;
    if ((got == 8 && memcmp(sig, "\x89PNG\r\n\x1a\n", 8) == 0) || png_name) {
        unsigned char *data;
        size_t size;
        s = rv_media_read_file(path, 512u << 20, &data, &size, err);
        if (s == RV_OK) {
            s = probe_png(info, path, data, size, err);
            free(data);
        }
    } else {
        s = probe_av(info, path, err);
    }
    if (s == RV_OK && info->xmp) {
        char st[sizeof(info->source_type)];
        rv_media_xmp_source_type(info->xmp, st, sizeof(st));
        if (st[0])
            memcpy(info->source_type, st, sizeof(st));
    }
    if (s)
        rv_media_info_free(info);
    return s;
}

/* ---- decoding frames ---------------------------------------------------- */

struct rv_video_reader {
    AVFormatContext *fc;
    AVCodecContext *dc;
    struct SwsContext *sws;
    AVPacket *pkt;
    AVFrame *frame;
    int vi;
    bool flushing, done;
    double fps;
    char *path;
};

rv_status rv_video_reader_open(rv_video_reader **out, const char *path, rv_error *err)
{
    *out = NULL;
    rv_video_reader *r = calloc(1, sizeof(*r));
    if (!r)
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "out of memory");
    r->path = strdup(path);
    char m[128];
    int e = avformat_open_input(&r->fc, path, NULL, NULL);
    if (e < 0) {
        av_strerror(e, m, sizeof(m));
        rv_video_reader_close(r);
        return rv_error_set(err, RV_ERR_IO, "cannot read %s: %s", path, m);
    }
    e = avformat_find_stream_info(r->fc, NULL);
    const AVCodec *dec = NULL;
    r->vi = e < 0 ? e : av_find_best_stream(r->fc, AVMEDIA_TYPE_VIDEO, -1, -1, &dec, 0);
    if (r->vi < 0 || !dec) {
        rv_video_reader_close(r);
        return rv_error_set(err, RV_ERR_FORMAT, "%s: no decodable video stream", path);
    }
    AVStream *st = r->fc->streams[r->vi];
    AVRational fr = st->avg_frame_rate.num ? st->avg_frame_rate : st->r_frame_rate;
    r->fps = fr.den ? av_q2d(fr) : 0;
    r->dc = avcodec_alloc_context3(dec);
    r->pkt = av_packet_alloc();
    r->frame = av_frame_alloc();
    if (!r->dc || !r->pkt || !r->frame || !r->path) {
        rv_video_reader_close(r);
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "out of memory reading %s", path);
    }
    avcodec_parameters_to_context(r->dc, st->codecpar);
    r->dc->thread_count = 1;
    e = avcodec_open2(r->dc, dec, NULL);
    if (e < 0) {
        av_strerror(e, m, sizeof(m));
        rv_video_reader_close(r);
        return rv_error_set(err, RV_ERR_UNSUPPORTED, "%s: cannot open the %s decoder: %s", path, dec->name, m);
    }
    *out = r;
    return RV_OK;
}

void rv_video_reader_size(const rv_video_reader *r, uint32_t *width, uint32_t *height, double *fps)
{
    const AVCodecParameters *p = r->fc->streams[r->vi]->codecpar;
    if (width)
        *width = (uint32_t)p->width;
    if (height)
        *height = (uint32_t)p->height;
    if (fps)
        *fps = r->fps;
}

static rv_status to_rgba(rv_video_reader *r, uint32_t *rgba, rv_error *err)
{
    AVFrame *f = r->frame;
    r->sws = sws_getCachedContext(r->sws, f->width, f->height, f->format, f->width, f->height, AV_PIX_FMT_RGBA,
                                  SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, NULL, NULL, NULL);
    if (!r->sws)
        return rv_error_set(err, RV_ERR_UNSUPPORTED, "%s: cannot convert %s frames", r->path,
                            av_get_pix_fmt_name(f->format));
    int cs = f->colorspace == AVCOL_SPC_BT709 ? SWS_CS_ITU709 : SWS_CS_DEFAULT;
    sws_setColorspaceDetails(r->sws, sws_getCoefficients(cs), f->color_range == AVCOL_RANGE_JPEG,
                             sws_getCoefficients(SWS_CS_ITU709), 1, 0, 1 << 16, 1 << 16);
    uint8_t *planes[1] = {(uint8_t *)rgba};
    int strides[1] = {f->width * 4};
    sws_scale(r->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, planes, strides);
    return RV_OK;
}

rv_status rv_video_reader_next(rv_video_reader *r, uint32_t *rgba, bool *got, rv_error *err)
{
    *got = false;
    char m[128];
    while (!r->done) {
        int e = avcodec_receive_frame(r->dc, r->frame);
        if (e == 0) {
            *got = true;
            rv_status s = to_rgba(r, rgba, err);
            av_frame_unref(r->frame);
            return s;
        }
        if (e == AVERROR_EOF) {
            r->done = true;
            break;
        }
        if (e != AVERROR(EAGAIN)) {
            av_strerror(e, m, sizeof(m));
            return rv_error_set(err, RV_ERR_FORMAT, "%s: decoding: %s", r->path, m);
        }
        if (r->flushing)
            return rv_error_set(err, RV_ERR_FORMAT, "%s: decoder stalled", r->path);
        e = av_read_frame(r->fc, r->pkt);
        if (e < 0) {
            r->flushing = true;
            avcodec_send_packet(r->dc, NULL);
            continue;
        }
        if (r->pkt->stream_index == r->vi) {
            e = avcodec_send_packet(r->dc, r->pkt);
            if (e < 0 && e != AVERROR(EAGAIN)) {
                av_packet_unref(r->pkt);
                av_strerror(e, m, sizeof(m));
                return rv_error_set(err, RV_ERR_FORMAT, "%s: decoding: %s", r->path, m);
            }
        }
        av_packet_unref(r->pkt);
    }
    return RV_OK;
}

void rv_video_reader_close(rv_video_reader *r)
{
    if (!r)
        return;
    sws_freeContext(r->sws);
    av_frame_free(&r->frame);
    av_packet_free(&r->pkt);
    avcodec_free_context(&r->dc);
    avformat_close_input(&r->fc);
    free(r->path);
    free(r);
}
