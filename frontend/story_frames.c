/* rv_story_frame -> rv_frame_desc (see story_frames.h). The conventions
 * differ on purpose: the story speaks of a camera (pan moves the view,
 * positive rotation turns the camera counter-clockwise), the frame loop of
 * the content it warps; this file is the one place that converts. */
#include <math.h>
#include <string.h>

#include "story_frames.h"

static rv_status add(rv_engine *e, rv_frame_desc *f, const char *text, float w, rv_error *err)
{
    if (!(w > 0.0f) || f->nprompts == RV_FRAME_MAX_PROMPTS)
        return RV_OK;
    rv_prompt h;
    rv_status s = rv_engine_prompt(e, text, 0, &h, NULL, err);
    if (s)
        return s;
    for (int i = 0; i < f->nprompts; i++)
        if (f->prompt[i] == h) { /* the same tokens on both sides of a transition */
            f->weight[i] += w;
            return RV_OK;
        }
    f->prompt[f->nprompts] = h;
    f->weight[f->nprompts++] = w;
    return RV_OK;
}

rv_status rv_story_frames_describe(rv_engine *e, const rv_story_frame *sf, const rv_story_frames_desc *d,
                                   rv_frame_desc *out, rv_error *err)
{
    memset(out, 0, sizeof(*out));
    rv_frame_desc *f = out;
    float blend = sf->n_from > 0 ? sf->blend : 1.0f;
    blend = blend < 0 ? 0 : blend > 1 ? 1 : blend;
    rv_status s = RV_OK;
    for (int i = 0; i < sf->n_from && !s && blend < 1.0f; i++)
        s = add(e, f, sf->from[i].text, (1.0f - blend) * sf->from[i].weight, err);
    int nfrom = f->nprompts;
    for (int i = 0; i < sf->n_prompts && !s; i++)
        s = add(e, f, sf->prompts[i].text, blend * sf->prompts[i].weight, err);
    if (s)
        return s;
    if (f->nprompts == 0) { /* every weight zero: the scene's first prompt, as written */
        s = add(e, f, sf->n_prompts ? sf->prompts[0].text : "", 1.0f, err);
        if (s)
            return s;
    }
    f->blend = nfrom == 1 && f->nprompts == 2 ? RV_BLEND_SLERP : RV_BLEND_LINEAR;
    if (d->cfg && sf->negative[0]) {
        s = rv_engine_prompt(e, sf->negative, 0, &f->negative, NULL, err);
        if (s)
            return s;
    }
    f->seed = sf->seed;
    f->seed_to = sf->seed + 1;
    f->seed_mix = sf->seed_blend < 0 ? 0 : sf->seed_blend > 1 ? 1 : sf->seed_blend;
    f->strength = sf->strength > 1 ? 1 : sf->strength;
    f->warp_only = !(sf->strength > 0);
    if (f->warp_only)
        f->strength = 1;
    int steps = sf->steps > 0 ? sf->steps : 1;
    f->steps = steps > d->max_steps ? d->max_steps : steps;
    /* camera rates per second -> content motion per frame */
    double dt = d->dt;
    f->motion.zoom = sf->motion.zoom > 0 ? (float)pow(sf->motion.zoom, dt) : 1.0f;
    f->motion.pan_x = (float)(-sf->motion.pan_x * dt);
    f->motion.pan_y = (float)(-sf->motion.pan_y * dt);
    f->motion.rotate = (float)(sf->motion.rotate * dt);
    return RV_OK;
}
