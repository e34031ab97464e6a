/* Generation parameters as the A1111 `parameters` text and provenance as an
 * XMP packet (IPTC digital source type). Text building only; the PNG and
 * video writers decide where the text goes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rv_media.h"

#ifndef RV_VERSION_STRING
#define RV_VERSION_STRING "0.1.0"
#endif

const char *rv_media_version(void)
{
    return RV_VERSION_STRING;
}

/* a growing string; `oom` is sticky so the builders need no checks per append */
typedef struct sbuf {
    char *s;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *t = realloc(b->s, cap);
        if (!t) {
            b->oom = 1;
            return;
        }
        b->s = t;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

static void sb_str(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static char *sb_take(sbuf *b)
{
    if (b->oom) {
        free(b->s);
        return NULL;
    }
    if (!b->s)
        sb_put(b, "", 0);
    return b->oom ? NULL : b->s;
}

/* A1111 quotes a setting value that holds ',' ':' or '"' (as a JSON string) */
static void sb_value(sbuf *b, const char *v)
{
    if (!strpbrk(v, ",:\"\n")) {
        sb_str(b, v);
        return;
    }
    sb_str(b, "\"");
    for (const char *c = v; *c; c++) {
        if (*c == '"' || *c == '\\') {
            char e[2] = {'\\', *c};
            sb_put(b, e, 2);
        } else if (*c == '\n') {
            sb_str(b, "\\n");
        } else {
            sb_put(b, c, 1);
        }
    }
    sb_str(b, "\"");
}

static void sb_setting(sbuf *b, int *first, const char *key, const char *v)
{
    sb_str(b, *first ? "" : ", ");
    *first = 0;
    sb_str(b, key);
    sb_str(b, ": ");
    sb_value(b, v);
}

static const char *software(const rv_media_params *p, char *buf, size_t cap)
{
    if (p && p->software && p->software[0])
        return p->software;
    snprintf(buf, cap, "Reverie %s", rv_media_version());
    return buf;
}

char *rv_media_parameters_text(const rv_media_params *p)
{
    sbuf b = {0};
    char num[64], sw[96];
    int first = 1;
    sb_str(&b, p->prompt ? p->prompt : "");
    if (p->negative && p->negative[0]) {
        sb_str(&b, "\nNegative prompt: ");
        sb_str(&b, p->negative);
    }
    sb_str(&b, "\n");
    if (p->steps > 0) {
        snprintf(num, sizeof(num), "%d", p->steps);
        sb_setting(&b, &first, "Steps", num);
    }
    if (p->scheduler && p->scheduler[0])
        sb_setting(&b, &first, "Sampler", p->scheduler);
    if (p->guidance != 0) {
        snprintf(num, sizeof(num), "%g", (double)p->guidance);
        sb_setting(&b, &first, "CFG scale", num);
    }
    if (p->has_seed || p->seed) {
        snprintf(num, sizeof(num), "%llu", (unsigned long long)p->seed);
        sb_setting(&b, &first, "Seed", num);
    }
    if (p->width && p->height) {
        snprintf(num, sizeof(num), "%ux%u", p->width, p->height);
        sb_setting(&b, &first, "Size", num);
    }
    if (p->model_hash && p->model_hash[0])
        sb_setting(&b, &first, "Model hash", p->model_hash);
    if (p->model && p->model[0])
        sb_setting(&b, &first, "Model", p->model);
    if (p->strength != 0) {
        snprintf(num, sizeof(num), "%g", (double)p->strength);
        sb_setting(&b, &first, "Denoising strength", num);
    }
    sb_setting(&b, &first, "Version", software(p, sw, sizeof(sw)));
    if (p->extra && p->extra[0]) {
        sb_str(&b, ", ");
        sb_str(&b, p->extra);
    }
    return sb_take(&b);
}

/* XML text: the five entities, and control characters (not allowed in XML
 * 1.0) as spaces; newlines and tabs stay */
static void sb_xml(sbuf *b, const char *s)
{
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        switch (*c) {
        case '&': sb_str(b, "&amp;"); break;
        case '<': sb_str(b, "&lt;"); break;
        case '>': sb_str(b, "&gt;"); break;
        case '"': sb_str(b, "&quot;"); break;
        case '\'': sb_str(b, "&apos;"); break;
        default:
            if (*c < 0x20 && *c != '\n' && *c != '\t')
                sb_str(b, " ");
            else
                sb_put(b, (const char *)c, 1);
        }
    }
}

char *rv_media_xmp(const rv_media_params *p)
{
    rv_media_params none = {0};
    if (!p)
        p = &none;
    char sw[96];
    char *params = p->prompt ? rv_media_parameters_text(p) : NULL;
    if (p->prompt && !params)
        return NULL;
    sbuf b = {0};
    /* the packet wrapper lets editors find and rewrite XMP in place; the BOM is UTF-8 */
    sb_str(&b, "<?xpacket begin=\"\xEF\xBB\xBF\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n"
               "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\">\n"
               " <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n"
               "  <rdf:Description rdf:about=\"\"\n"
               "    xmlns:Iptc4xmpExt=\"http://iptc.org/std/Iptc4xmpExt/2008-02-29/\"\n"
               "    xmlns:xmp=\"http://ns.adobe.com/xap/1.0/\"\n"
               "    xmlns:dc=\"http://purl.org/dc/elements/1.1/\"\n"
               "    Iptc4xmpExt:DigitalSourceType=\"" RV_MEDIA_DIGITAL_SOURCE_TYPE "\"\n"
               "    xmp:CreatorTool=\"");
    sb_xml(&b, software(p, sw, sizeof(sw)));
    sb_str(&b, "\">\n");
    if (params) {
        sb_str(&b, "   <dc:description>\n    <rdf:Alt>\n     <rdf:li xml:lang=\"x-default\">");
        sb_xml(&b, params);
        sb_str(&b, "</rdf:li>\n    </rdf:Alt>\n   </dc:description>\n");
    }
    sb_str(&b, "  </rdf:Description>\n </rdf:RDF>\n</x:xmpmeta>\n<?xpacket end=\"r\"?>");
    free(params);
    return sb_take(&b);
}
