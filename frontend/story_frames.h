/* The story engine's schedule (rv_story_frame: prompts with weights, the
 * last scene's prompts during a transition, seed drift, strength, motion as
 * rates per second) as the frame loop's description (rv_frame_desc: prompt
 * handles, per-frame motion). Shared by `render` and `play`; the story and
 * the engine never include each other. */
#ifndef RV_STORY_FRAMES_H
#define RV_STORY_FRAMES_H

#include "rv_engine.h"
#include "rv_story.h"

typedef struct rv_story_frames_desc {
    double dt;                 /* seconds of story time per frame (1 / fps) */
    int max_steps;             /* the stream's; the story's steps are clamped to it */
    bool cfg;                  /* the stream runs guidance: the negative prompt is used */
} rv_story_frames_desc;

/* Fills `out` for the schedule `sf`: prompt handles from the engine (each
 * distinct prompt is encoded once), weights blended across a transition
 * (slerp for one prompt on each side, linear otherwise), zero weights
 * dropped; strength 0 becomes a warp-only frame. */
rv_status rv_story_frames_describe(rv_engine *e, const rv_story_frame *sf, const rv_story_frames_desc *d,
                                   rv_frame_desc *out, rv_error *err);

#endif
