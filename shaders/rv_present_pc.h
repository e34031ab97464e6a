/* The presenter's composite pass (shaders/composite.comp, runtime/gpu/present.c):
 * its push constants, declared once for C and GLSL. Not the compute ops'
 * rv_pc.h: the presenter has its own device and pipeline. Only 32-bit
 * scalars, so C and std430 layouts agree. */
#ifndef RV_PRESENT_PC_H
#define RV_PRESENT_PC_H

#ifndef VULKAN
#include <stdint.h>
typedef uint32_t uint;
#endif

#define RV_COMPOSITE_GROUP 16   /* 16 x 16 pixels a workgroup */

struct rv_pc_composite {
    uint out_w, out_h;          /* the target, pixels */
    uint frame_w, frame_h;      /* the generated frame; 0 x 0: none (black) */
    uint dst_x, dst_y, dst_w, dst_h; /* where the frame lands, aspect kept */
    uint step_x, step_y;        /* frame pixels per target pixel, 16.16 fixed point */
    uint ov_x, ov_y, ov_w, ov_h; /* the overlay's rectangle in the target; 0 x 0: none */
    uint bgra;                  /* 1: write B, G, R, A bytes (the swapchain's order) */
};

#endif
