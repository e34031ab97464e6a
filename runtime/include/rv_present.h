/* Presentation to a window through a Vulkan swapchain, for front ends that
 * own the window (the SDL player): the front end hands over a callback
 * that makes the window's surface from an instance handle, so Vulkan stays
 * in runtime/gpu and the windowing library in frontend/. Presents
 * window-sized RGBA8 pictures composed by the caller. Not the compute
 * device: it uses its own instance and queue, never the engine's. */
#ifndef RV_PRESENT_H
#define RV_PRESENT_H

#include <stdbool.h>
#include <stdint.h>

#include "rv_status.h"

typedef struct rv_present rv_present;

/* Makes the window's VkSurfaceKHR for the VkInstance `instance` (both as
 * integer handles); returns 0 on failure. */
typedef uint64_t (*rv_present_surface_fn)(void *user, uint64_t instance);

typedef struct rv_present_desc {
    const char *const *instance_extensions;  /* what the window needs (e.g. VK_KHR_surface, VK_KHR_xlib_surface) */
    int n_instance_extensions;
    rv_present_surface_fn create_surface;
    void *user;
    bool vsync;                /* FIFO; else MAILBOX or IMMEDIATE where offered */
    bool validation;           /* Khronos validation layer; messages go to stderr as "VK: validation: ..." */
} rv_present_desc;

/* Loads Vulkan, makes the instance, the surface, a device that can present
 * to it and the swapchain. Errors say which step failed. */
rv_status rv_present_create(rv_present **out, const rv_present_desc *desc, rv_error *err);
void rv_present_destroy(rv_present *p); /* accepts NULL */

/* Whether pictures must be in B, G, R, A byte order (the swapchain's
 * format) rather than R, G, B, A. */
bool rv_present_bgra(const rv_present *p);
/* The device presenting ("llvmpipe (LLVM 15.0.6, 256 bits)"). */
const char *rv_present_device(const rv_present *p);

/* Presents one picture of width x height pixels (rows of width words, in
 * the byte order rv_present_bgra says). The swapchain is made again when
 * the window's size changes or it is out of date; a picture of another
 * size than the window is copied into its top-left corner. A lost surface
 * is RV_ERR_DEVICE_LOST naming it (the caller may create a new presenter). */
rv_status rv_present_frame(rv_present *p, const uint32_t *pixels, uint32_t width, uint32_t height, rv_error *err);

#endif
