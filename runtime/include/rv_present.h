/* Presentation to a window through a Vulkan swapchain, for front ends that
 * own the window (the SDL player): the front end hands over a callback
 * that makes the window's surface from an instance handle, so Vulkan stays
 * in runtime/gpu and the windowing library in frontend/. The GPU composes
 * each picture: the generated frame scaled to the window (aspect kept) and
 * the caller's overlay layer blended over it. Without a callback it draws
 * into an offscreen target instead (tests). Not the compute device: it
 * uses its own instance and queue, never the engine's. */
#ifndef RV_PRESENT_H
#define RV_PRESENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rv_status.h"

typedef struct rv_present rv_present;

/* Makes the window's VkSurfaceKHR for the VkInstance `instance` (both as
 * integer handles); returns 0 on failure. */
typedef uint64_t (*rv_present_surface_fn)(void *user, uint64_t instance);

typedef struct rv_present_desc {
    const char *const *instance_extensions;  /* what the window needs (e.g. VK_KHR_surface, VK_KHR_xlib_surface) */
    int n_instance_extensions;
    rv_present_surface_fn create_surface; /* NULL: no window, an offscreen target of width x height */
    void *user;
    uint32_t width, height;    /* the offscreen target's size (0: 64) */
    bool vsync;                /* FIFO; else MAILBOX or IMMEDIATE where offered */
    bool validation;           /* Khronos validation layer; messages go to stderr as "VK: validation: ..." */
} rv_present_desc;

/* Loads Vulkan, makes the instance, the surface, a device that can present
 * to it and the swapchain. Errors say which step failed. */
rv_status rv_present_create(rv_present **out, const rv_present_desc *desc, rv_error *err);
void rv_present_destroy(rv_present *p); /* accepts NULL */

/* Whether the target's words are B, G, R, A bytes (the swapchain's
 * format) rather than R, G, B, A: rv_present_read's order. Inputs are
 * always R, G, B, A. */
bool rv_present_bgra(const rv_present *p);
/* The device presenting ("llvmpipe (LLVM 15.0.6, 256 bits)"). */
const char *rv_present_device(const rv_present *p);

/* The generated frame: width x height RGBA8 pixels (R in the lowest byte
 * of each word), copied now and uploaded to the GPU by the next draw; call
 * it when a new frame arrives, not every draw. NULL: no frame (black). */
rv_status rv_present_set_frame(rv_present *p, const uint32_t *rgba, uint32_t width, uint32_t height, rv_error *err);

/* The overlay: width x height premultiplied-alpha RGBA8 pixels placed at
 * (x, y) of the target; the rest of the target shows the frame. Copied now,
 * uploaded by the next draw; call it only when the overlay changes.
 * NULL or 0 x 0: no overlay. */
rv_status rv_present_set_overlay(rv_present *p, const uint32_t *rgba, uint32_t width, uint32_t height, uint32_t x,
                                 uint32_t y, rv_error *err);

/* Changes rows y .. y+n-1 of the current overlay (same size and place):
 * rows holds n rows of its width. Only those rows go to the GPU. */
rv_status rv_present_update_overlay(rv_present *p, const uint32_t *rows, uint32_t y, uint32_t n, rv_error *err);

/* Composes and presents: one compute pass (run only when a layer or the
 * target's size changed since the last one) writes every target pixel as
 *   frame: bilinear, the largest rectangle of the frame's aspect that fits,
 *          centred; black around it
 *   then:  out = overlay + frame * (255 - overlay.a) / 255   (per channel)
 * in integer arithmetic (shaders/composite.comp; tests/test_present.c holds
 * the C reference), then copies it into the next swapchain image (FIFO:
 * waits for vsync). The swapchain is made again when the window's size
 * changes or it is out of date. A lost surface is RV_ERR_DEVICE_LOST
 * naming it (the caller may create a new presenter). */
rv_status rv_present_draw(rv_present *p, rv_error *err);

/* The last composite, in the target's byte order (rv_present_bgra), into
 * out (cap pixels); its size in *width x *height. */
rv_status rv_present_read(rv_present *p, uint32_t *out, uint32_t *width, uint32_t *height, size_t cap,
                          rv_error *err);

typedef struct rv_present_stats {
    uint64_t draws;            /* pictures drawn (presented) */
    uint64_t composites;       /* composite passes run: only when a layer or the size changed */
    uint64_t frame_uploads;    /* frames copied to the GPU */
    uint64_t overlay_uploads;  /* overlays copied to the GPU */
    uint64_t overlay_bytes;    /* their bytes */
    uint64_t recreated;        /* swapchains made again (out of date, resized by the driver) */
    uint64_t validation_messages; /* warnings and errors of the validation layer (desc.validation) */
} rv_present_stats;
rv_present_stats rv_present_get_stats(const rv_present *p);

/* Tests: the next draw's image acquisition fails as a driver reports it. */
typedef enum rv_present_fault {
    RV_PRESENT_FAULT_NONE = 0,
    RV_PRESENT_FAULT_OUT_OF_DATE,  /* VK_ERROR_OUT_OF_DATE_KHR: the swapchain is made again, the draw goes on */
    RV_PRESENT_FAULT_SURFACE_LOST, /* VK_ERROR_SURFACE_LOST_KHR: the draw fails with RV_ERR_DEVICE_LOST */
} rv_present_fault;
void rv_present_inject(rv_present *p, rv_present_fault f);

#endif
