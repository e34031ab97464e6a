/* rv_present (rv_present.h): a window's swapchain (or an offscreen target)
 * on its own Vulkan instance, device and queue, with its own function
 * table loaded from libvulkan (the runtime's volk pointers are global and
 * belong to the compute device, which may be loading on another thread).
 * Each draw runs one compute pass (shaders/composite.comp) that scales the
 * generated frame into the target and blends the overlay over it, then
 * copies the result into the swapchain image. Not the engine's compute. */
#ifndef VK_NO_PROTOTYPES
#define VK_NO_PROTOTYPES
#endif
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vulkan/vulkan.h>

#include "gpu/rv_shader_table.h"
#include "rv_present.h"
#include "rv_present_pc.h"

#define MAX_IMAGES 8

typedef struct vkfn {
    PFN_vkGetInstanceProcAddr GetInstanceProcAddr;
    PFN_vkCreateInstance CreateInstance;
    PFN_vkEnumerateInstanceLayerProperties EnumerateInstanceLayerProperties;
    PFN_vkDestroyInstance DestroyInstance;
    PFN_vkEnumeratePhysicalDevices EnumeratePhysicalDevices;
    PFN_vkGetPhysicalDeviceProperties GetPhysicalDeviceProperties;
    PFN_vkGetPhysicalDeviceQueueFamilyProperties GetPhysicalDeviceQueueFamilyProperties;
    PFN_vkGetPhysicalDeviceMemoryProperties GetPhysicalDeviceMemoryProperties;
    PFN_vkGetPhysicalDeviceSurfaceSupportKHR GetPhysicalDeviceSurfaceSupportKHR;
    PFN_vkGetPhysicalDeviceSurfaceCapabilitiesKHR GetPhysicalDeviceSurfaceCapabilitiesKHR;
    PFN_vkGetPhysicalDeviceSurfaceFormatsKHR GetPhysicalDeviceSurfaceFormatsKHR;
    PFN_vkGetPhysicalDeviceSurfacePresentModesKHR GetPhysicalDeviceSurfacePresentModesKHR;
    PFN_vkDestroySurfaceKHR DestroySurfaceKHR;
    PFN_vkCreateDevice CreateDevice;
    PFN_vkGetDeviceProcAddr GetDeviceProcAddr;
    PFN_vkCreateDebugUtilsMessengerEXT CreateDebugUtilsMessengerEXT;
    PFN_vkDestroyDebugUtilsMessengerEXT DestroyDebugUtilsMessengerEXT;
    /* device */
    PFN_vkDestroyDevice DestroyDevice;
    PFN_vkGetDeviceQueue GetDeviceQueue;
    PFN_vkDeviceWaitIdle DeviceWaitIdle;
    PFN_vkCreateSwapchainKHR CreateSwapchainKHR;
    PFN_vkDestroySwapchainKHR DestroySwapchainKHR;
    PFN_vkGetSwapchainImagesKHR GetSwapchainImagesKHR;
    PFN_vkAcquireNextImageKHR AcquireNextImageKHR;
    PFN_vkQueuePresentKHR QueuePresentKHR;
    PFN_vkQueueSubmit QueueSubmit;
    PFN_vkCreateCommandPool CreateCommandPool;
    PFN_vkDestroyCommandPool DestroyCommandPool;
    PFN_vkAllocateCommandBuffers AllocateCommandBuffers;
    PFN_vkBeginCommandBuffer BeginCommandBuffer;
    PFN_vkEndCommandBuffer EndCommandBuffer;
    PFN_vkResetCommandBuffer ResetCommandBuffer;
    PFN_vkCmdPipelineBarrier CmdPipelineBarrier;
    PFN_vkCmdCopyBufferToImage CmdCopyBufferToImage;
    PFN_vkCmdClearColorImage CmdClearColorImage;
    PFN_vkCreateSemaphore CreateSemaphore;
    PFN_vkDestroySemaphore DestroySemaphore;
    PFN_vkCreateFence CreateFence;
    PFN_vkDestroyFence DestroyFence;
    PFN_vkWaitForFences WaitForFences;
    PFN_vkResetFences ResetFences;
    PFN_vkCreateBuffer CreateBuffer;
    PFN_vkDestroyBuffer DestroyBuffer;
    PFN_vkGetBufferMemoryRequirements GetBufferMemoryRequirements;
    PFN_vkAllocateMemory AllocateMemory;
    PFN_vkFreeMemory FreeMemory;
    PFN_vkBindBufferMemory BindBufferMemory;
    PFN_vkMapMemory MapMemory;
    PFN_vkUnmapMemory UnmapMemory;
    PFN_vkCmdCopyBuffer CmdCopyBuffer;
    PFN_vkCreateShaderModule CreateShaderModule;
    PFN_vkDestroyShaderModule DestroyShaderModule;
    PFN_vkCreateDescriptorSetLayout CreateDescriptorSetLayout;
    PFN_vkDestroyDescriptorSetLayout DestroyDescriptorSetLayout;
    PFN_vkCreatePipelineLayout CreatePipelineLayout;
    PFN_vkDestroyPipelineLayout DestroyPipelineLayout;
    PFN_vkCreateComputePipelines CreateComputePipelines;
    PFN_vkDestroyPipeline DestroyPipeline;
    PFN_vkCreateDescriptorPool CreateDescriptorPool;
    PFN_vkDestroyDescriptorPool DestroyDescriptorPool;
    PFN_vkAllocateDescriptorSets AllocateDescriptorSets;
    PFN_vkUpdateDescriptorSets UpdateDescriptorSets;
    PFN_vkCmdBindPipeline CmdBindPipeline;
    PFN_vkCmdBindDescriptorSets CmdBindDescriptorSets;
    PFN_vkCmdPushConstants CmdPushConstants;
    PFN_vkCmdDispatch CmdDispatch;
} vkfn;

/* a buffer with its own memory; mapped when host-visible */
typedef struct pbuf {
    VkBuffer b;
    VkDeviceMemory m;
    void *map;
    VkDeviceSize size;
} pbuf;

struct rv_present {
    void *lib;
    vkfn f;
    VkInstance instance;
    VkDebugUtilsMessengerEXT messenger;
    VkSurfaceKHR surface;
    VkPhysicalDevice phys;
    VkDevice device;
    uint32_t family;
    VkQueue queue;
    VkCommandPool pool;
    VkCommandBuffer cmd;
    VkSemaphore acquired, rendered;
    VkFence fence;
    VkSurfaceFormatKHR format;
    VkPresentModeKHR mode;
    VkSwapchainKHR swapchain;
    VkExtent2D extent;
    uint32_t nimages;
    VkImage images[MAX_IMAGES];
    bool offscreen;            /* no surface: the composite stays in `target` */
    uint32_t off_w, off_h;
    /* the composite pass */
    VkShaderModule shader;
    VkDescriptorSetLayout dsl;
    VkPipelineLayout layout;
    VkPipeline pipe;
    VkDescriptorPool dpool;
    VkDescriptorSet set;
    bool set_stale;            /* a buffer was made again: the set must point at it */
    pbuf frame, frame_stage;   /* RGBA8 at the frame's size */
    pbuf overlay, overlay_stage; /* premultiplied RGBA8 at the overlay's size */
    pbuf target, readback;     /* packed words at the target's size */
    uint32_t fw, fh, ox, oy, ow, oh, tw, th;
    bool frame_dirty, overlay_dirty;
    uint32_t ov_lo, ov_hi;     /* the overlay's rows due for upload */
    bool composed;             /* target holds the composite of the current layers at tw x th */
    rv_present_fault fault;
    rv_present_stats stats;
    bool bgra, vsync;
    char device_name[VK_MAX_PHYSICAL_DEVICE_NAME_SIZE];
};

static const char *result_name(VkResult r)
{
    switch (r) {
    case VK_ERROR_SURFACE_LOST_KHR: return "VK_ERROR_SURFACE_LOST_KHR";
    case VK_ERROR_OUT_OF_DATE_KHR: return "VK_ERROR_OUT_OF_DATE_KHR";
    case VK_ERROR_DEVICE_LOST: return "VK_ERROR_DEVICE_LOST";
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
    case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_NATIVE_WINDOW_IN_USE_KHR: return "VK_ERROR_NATIVE_WINDOW_IN_USE_KHR";
    default: return "VkResult";
    }
}

static rv_status vkfail(rv_error *err, VkResult r, const char *what)
{
    rv_status s = r == VK_ERROR_DEVICE_LOST || r == VK_ERROR_SURFACE_LOST_KHR ? RV_ERR_DEVICE_LOST
                  : r == VK_ERROR_OUT_OF_HOST_MEMORY                          ? RV_ERR_HOST_MEMORY
                  : r == VK_ERROR_OUT_OF_DEVICE_MEMORY                        ? RV_ERR_DEVICE_MEMORY
                                                                              : RV_ERR_VULKAN;
    return rv_error_set(err, s, "presentation: %s failed (%s %d)", what, result_name(r), (int)r);
}

static VKAPI_ATTR VkBool32 VKAPI_CALL on_message(VkDebugUtilsMessageSeverityFlagBitsEXT sev,
                                                 VkDebugUtilsMessageTypeFlagsEXT type,
                                                 const VkDebugUtilsMessengerCallbackDataEXT *data, void *user)
{
    (void)type;
    if (sev >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT && user)
        ((rv_present *)user)->stats.validation_messages++;
    if (sev >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT)
        fprintf(stderr, "VK: validation: (presentation) %s\n", data && data->pMessage ? data->pMessage : "?");
    return VK_FALSE;
}

#define IPROC(name) p->f.name = (PFN_vk##name)p->f.GetInstanceProcAddr(p->instance, "vk" #name)
#define DPROC(name) p->f.name = (PFN_vk##name)p->f.GetDeviceProcAddr(p->device, "vk" #name)

static rv_status make_instance(rv_present *p, const rv_present_desc *d, rv_error *err)
{
    p->lib = dlopen("libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!p->lib)
        p->lib = dlopen("libvulkan.so", RTLD_NOW | RTLD_LOCAL);
    if (!p->lib)
        return rv_error_set(err, RV_ERR_NO_DEVICE, "presentation: cannot load libvulkan.so.1: %s", dlerror());
    p->f.GetInstanceProcAddr = (PFN_vkGetInstanceProcAddr)dlsym(p->lib, "vkGetInstanceProcAddr");
    if (!p->f.GetInstanceProcAddr)
        return rv_error_set(err, RV_ERR_NO_DEVICE, "presentation: libvulkan has no vkGetInstanceProcAddr");
    IPROC(CreateInstance);
    IPROC(EnumerateInstanceLayerProperties);
    const char *exts[16];
    uint32_t next = 0;
    for (int i = 0; i < d->n_instance_extensions && next < 14; i++)
        exts[next++] = d->instance_extensions[i];
    const char *layers[1];
    uint32_t nlayers = 0;
    if (d->validation) {
        uint32_t n = 0;
        p->f.EnumerateInstanceLayerProperties(&n, NULL);
        VkLayerProperties *lp = calloc(n ? n : 1, sizeof(*lp));
        if (lp && p->f.EnumerateInstanceLayerProperties(&n, lp) == VK_SUCCESS)
            for (uint32_t i = 0; i < n; i++)
                if (strcmp(lp[i].layerName, "VK_LAYER_KHRONOS_validation") == 0) {
                    layers[nlayers++] = "VK_LAYER_KHRONOS_validation";
                    exts[next++] = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
                    break;
                }
        free(lp);
    }
    VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO, .pApplicationName = "reverie play",
                             .pEngineName = "reverie", .apiVersion = VK_API_VERSION_1_2};
    VkInstanceCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, .pApplicationInfo = &app,
                               .enabledExtensionCount = next, .ppEnabledExtensionNames = exts,
                               .enabledLayerCount = nlayers, .ppEnabledLayerNames = layers};
    VkResult r = p->f.CreateInstance(&ci, NULL, &p->instance);
    if (r != VK_SUCCESS)
        return vkfail(err, r, "vkCreateInstance with the window's extensions");
    IPROC(DestroyInstance);
    IPROC(EnumeratePhysicalDevices);
    IPROC(GetPhysicalDeviceProperties);
    IPROC(GetPhysicalDeviceQueueFamilyProperties);
    IPROC(GetPhysicalDeviceMemoryProperties);
    IPROC(GetPhysicalDeviceSurfaceSupportKHR);
    IPROC(GetPhysicalDeviceSurfaceCapabilitiesKHR);
    IPROC(GetPhysicalDeviceSurfaceFormatsKHR);
    IPROC(GetPhysicalDeviceSurfacePresentModesKHR);
    IPROC(DestroySurfaceKHR);
    IPROC(CreateDevice);
    IPROC(GetDeviceProcAddr);
    if (nlayers) {
        IPROC(CreateDebugUtilsMessengerEXT);
        IPROC(DestroyDebugUtilsMessengerEXT);
        VkDebugUtilsMessengerCreateInfoEXT mi = {
            .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
            .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                               VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
            .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT,
            .pfnUserCallback = on_message, .pUserData = p};
        if (p->f.CreateDebugUtilsMessengerEXT)
            p->f.CreateDebugUtilsMessengerEXT(p->instance, &mi, NULL, &p->messenger);
    }
    if (!p->offscreen && (!p->f.GetPhysicalDeviceSurfaceSupportKHR || !p->f.CreateDevice))
        return rv_error_set(err, RV_ERR_UNSUPPORTED, "presentation: the Vulkan loader lacks VK_KHR_surface");
    return RV_OK;
}

static rv_status make_device(rv_present *p, rv_error *err)
{
    uint32_t n = 0;
    p->f.EnumeratePhysicalDevices(p->instance, &n, NULL);
    VkPhysicalDevice devs[16];
    n = n > 16 ? 16 : n;
    if (n == 0 || p->f.EnumeratePhysicalDevices(p->instance, &n, devs) < 0)
        return rv_error_set(err, RV_ERR_NO_DEVICE, "presentation: no Vulkan device");
    int best = -1, best_rank = -1;
    uint32_t best_family = 0;
    for (uint32_t i = 0; i < n; i++) {
        VkPhysicalDeviceProperties pr;
        p->f.GetPhysicalDeviceProperties(devs[i], &pr);
        uint32_t nf = 0;
        p->f.GetPhysicalDeviceQueueFamilyProperties(devs[i], &nf, NULL);
        VkQueueFamilyProperties qf[32];
        nf = nf > 32 ? 32 : nf;
        p->f.GetPhysicalDeviceQueueFamilyProperties(devs[i], &nf, qf);
        for (uint32_t q = 0; q < nf; q++) {
            VkBool32 ok = VK_FALSE;
            if (!(qf[q].queueFlags & VK_QUEUE_COMPUTE_BIT) || pr.apiVersion < VK_API_VERSION_1_2)
                continue; /* the composite pass is a compute shader built for Vulkan 1.2 */
            if (!p->offscreen &&
                (p->f.GetPhysicalDeviceSurfaceSupportKHR(devs[i], q, p->surface, &ok) != VK_SUCCESS || !ok))
                continue;
            int rank = pr.deviceType == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU     ? 3
                       : pr.deviceType == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU ? 2
                                                                                 : 1;
            if (rank > best_rank) {
                best = (int)i;
                best_rank = rank;
                best_family = q;
                snprintf(p->device_name, sizeof(p->device_name), "%s", pr.deviceName);
            }
            break;
        }
    }
    if (best < 0)
        return rv_error_set(err, RV_ERR_UNSUPPORTED, "presentation: no Vulkan 1.2 device with a compute queue %s",
                            p->offscreen ? "" : "can present to this window");
    p->phys = devs[best];
    p->family = best_family;
    float prio = 1.0f;
    VkDeviceQueueCreateInfo qi = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, .queueFamilyIndex = p->family,
                                  .queueCount = 1, .pQueuePriorities = &prio};
    const char *dext[] = {VK_KHR_SWAPCHAIN_EXTENSION_NAME};
    VkDeviceCreateInfo dci = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, .queueCreateInfoCount = 1,
                              .pQueueCreateInfos = &qi, .enabledExtensionCount = p->offscreen ? 0 : 1,
                              .ppEnabledExtensionNames = dext};
    VkResult r = p->f.CreateDevice(p->phys, &dci, NULL, &p->device);
    if (r != VK_SUCCESS)
        return vkfail(err, r, "vkCreateDevice with VK_KHR_swapchain");
    DPROC(DestroyDevice);
    DPROC(GetDeviceQueue);
    DPROC(DeviceWaitIdle);
    DPROC(CreateSwapchainKHR);
    DPROC(DestroySwapchainKHR);
    DPROC(GetSwapchainImagesKHR);
    DPROC(AcquireNextImageKHR);
    DPROC(QueuePresentKHR);
    DPROC(QueueSubmit);
    DPROC(CreateCommandPool);
    DPROC(DestroyCommandPool);
    DPROC(AllocateCommandBuffers);
    DPROC(BeginCommandBuffer);
    DPROC(EndCommandBuffer);
    DPROC(ResetCommandBuffer);
    DPROC(CmdPipelineBarrier);
    DPROC(CmdCopyBufferToImage);
    DPROC(CmdClearColorImage);
    DPROC(CreateSemaphore);
    DPROC(DestroySemaphore);
    DPROC(CreateFence);
    DPROC(DestroyFence);
    DPROC(WaitForFences);
    DPROC(ResetFences);
    DPROC(CreateBuffer);
    DPROC(DestroyBuffer);
    DPROC(GetBufferMemoryRequirements);
    DPROC(AllocateMemory);
    DPROC(FreeMemory);
    DPROC(BindBufferMemory);
    DPROC(MapMemory);
    DPROC(UnmapMemory);
    DPROC(CmdCopyBuffer);
    DPROC(CreateShaderModule);
    DPROC(DestroyShaderModule);
    DPROC(CreateDescriptorSetLayout);
    DPROC(DestroyDescriptorSetLayout);
    DPROC(CreatePipelineLayout);
    DPROC(DestroyPipelineLayout);
    DPROC(CreateComputePipelines);
    DPROC(DestroyPipeline);
    DPROC(CreateDescriptorPool);
    DPROC(DestroyDescriptorPool);
    DPROC(AllocateDescriptorSets);
    DPROC(UpdateDescriptorSets);
    DPROC(CmdBindPipeline);
    DPROC(CmdBindDescriptorSets);
    DPROC(CmdPushConstants);
    DPROC(CmdDispatch);
    p->f.GetDeviceQueue(p->device, p->family, 0, &p->queue);
    VkCommandPoolCreateInfo pi = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                  .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
                                  .queueFamilyIndex = p->family};
    if ((r = p->f.CreateCommandPool(p->device, &pi, NULL, &p->pool)) != VK_SUCCESS)
        return vkfail(err, r, "vkCreateCommandPool");
    VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, .commandPool = p->pool,
                                      .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY, .commandBufferCount = 1};
    if ((r = p->f.AllocateCommandBuffers(p->device, &ai, &p->cmd)) != VK_SUCCESS)
        return vkfail(err, r, "vkAllocateCommandBuffers");
    VkSemaphoreCreateInfo si = {.sType = VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
    VkFenceCreateInfo fi = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    if ((r = p->f.CreateSemaphore(p->device, &si, NULL, &p->acquired)) != VK_SUCCESS ||
        (r = p->f.CreateSemaphore(p->device, &si, NULL, &p->rendered)) != VK_SUCCESS ||
        (r = p->f.CreateFence(p->device, &fi, NULL, &p->fence)) != VK_SUCCESS)
        return vkfail(err, r, "creating semaphores and a fence");
    if (p->offscreen)
        return RV_OK;
    /* the format: 8-bit RGBA or BGRA (bytes copied as they are) */
    uint32_t nf = 0;
    p->f.GetPhysicalDeviceSurfaceFormatsKHR(p->phys, p->surface, &nf, NULL);
    VkSurfaceFormatKHR fm[64];
    nf = nf > 64 ? 64 : nf;
    p->f.GetPhysicalDeviceSurfaceFormatsKHR(p->phys, p->surface, &nf, fm);
    int pick = -1;
    static const VkFormat want[] = {VK_FORMAT_B8G8R8A8_UNORM, VK_FORMAT_R8G8B8A8_UNORM, VK_FORMAT_B8G8R8A8_SRGB,
                                    VK_FORMAT_R8G8B8A8_SRGB};
    for (size_t w = 0; w < sizeof(want) / sizeof(want[0]) && pick < 0; w++)
        for (uint32_t i = 0; i < nf; i++)
            if (fm[i].format == want[w]) {
                pick = (int)i;
                break;
            }
    if (pick < 0)
        return rv_error_set(err, RV_ERR_UNSUPPORTED, "presentation: the window offers no 8-bit RGBA/BGRA format");
    p->format = fm[pick];
    p->bgra = p->format.format == VK_FORMAT_B8G8R8A8_UNORM || p->format.format == VK_FORMAT_B8G8R8A8_SRGB;
    p->mode = VK_PRESENT_MODE_FIFO_KHR;
    if (!p->vsync) {
        uint32_t nm = 0;
        VkPresentModeKHR modes[16];
        p->f.GetPhysicalDeviceSurfacePresentModesKHR(p->phys, p->surface, &nm, NULL);
        nm = nm > 16 ? 16 : nm;
        p->f.GetPhysicalDeviceSurfacePresentModesKHR(p->phys, p->surface, &nm, modes);
        for (uint32_t i = 0; i < nm; i++)
            if (modes[i] == VK_PRESENT_MODE_MAILBOX_KHR || modes[i] == VK_PRESENT_MODE_IMMEDIATE_KHR)
                p->mode = modes[i];
    }
    return RV_OK;
}

static rv_status make_swapchain(rv_present *p, rv_error *err)
{
    VkSurfaceCapabilitiesKHR caps;
    VkResult r = p->f.GetPhysicalDeviceSurfaceCapabilitiesKHR(p->phys, p->surface, &caps);
    if (r != VK_SUCCESS)
        return vkfail(err, r, "reading the window surface's capabilities");
    if (!(caps.supportedUsageFlags & VK_IMAGE_USAGE_TRANSFER_DST_BIT))
        return rv_error_set(err, RV_ERR_UNSUPPORTED, "presentation: the swapchain images cannot be copied into");
    VkExtent2D ext = caps.currentExtent;
    if (ext.width == UINT32_MAX)
        ext = p->extent.width ? p->extent : (VkExtent2D){640, 480};
    if (ext.width == 0 || ext.height == 0) { /* minimised: nothing to present */
        p->extent = ext;
        return RV_OK;
    }
    uint32_t count = caps.minImageCount + 1;
    if (caps.maxImageCount && count > caps.maxImageCount)
        count = caps.maxImageCount;
    VkSwapchainKHR old = p->swapchain;
    VkSwapchainCreateInfoKHR ci = {
        .sType = VK_STRUCTURE_TYPE_SWAPCHAIN_CREATE_INFO_KHR, .surface = p->surface, .minImageCount = count,
        .imageFormat = p->format.format, .imageColorSpace = p->format.colorSpace, .imageExtent = ext,
        .imageArrayLayers = 1, .imageUsage = VK_IMAGE_USAGE_TRANSFER_DST_BIT,
        .imageSharingMode = VK_SHARING_MODE_EXCLUSIVE, .preTransform = caps.currentTransform,
        .compositeAlpha = (caps.supportedCompositeAlpha & VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR)
                              ? VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR
                              : (VkCompositeAlphaFlagBitsKHR)(caps.supportedCompositeAlpha &
                                                              -caps.supportedCompositeAlpha),
        .presentMode = p->mode, .clipped = VK_TRUE, .oldSwapchain = old};
    r = p->f.CreateSwapchainKHR(p->device, &ci, NULL, &p->swapchain);
    if (old)
        p->f.DestroySwapchainKHR(p->device, old, NULL);
    if (r != VK_SUCCESS) {
        p->swapchain = VK_NULL_HANDLE;
        return vkfail(err, r, "vkCreateSwapchainKHR");
    }
    p->extent = ext;
    p->nimages = MAX_IMAGES;
    r = p->f.GetSwapchainImagesKHR(p->device, p->swapchain, &p->nimages, p->images);
    if (r != VK_SUCCESS && r != VK_INCOMPLETE)
        return vkfail(err, r, "vkGetSwapchainImagesKHR");
    return RV_OK;
}

/* ---------------------------------------------------------------- buffers */

static void buf_free(rv_present *p, pbuf *b)
{
    if (b->map)
        p->f.UnmapMemory(p->device, b->m);
    if (b->b)
        p->f.DestroyBuffer(p->device, b->b, NULL);
    if (b->m)
        p->f.FreeMemory(p->device, b->m, NULL);
    memset(b, 0, sizeof(*b));
}

/* Makes b hold at least `size` bytes (never shrinks). Host buffers are
 * host-visible, coherent and mapped; the others prefer device-local memory. */
static rv_status buf_reserve(rv_present *p, pbuf *b, VkDeviceSize size, VkBufferUsageFlags usage, bool host,
                             rv_error *err)
{
    if (size <= b->size)
        return RV_OK;
    if (size < 4096)
        size = 4096;
    buf_free(p, b);
    VkBufferCreateInfo bi = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = size, .usage = usage,
                             .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    VkResult r = p->f.CreateBuffer(p->device, &bi, NULL, &b->b);
    if (r != VK_SUCCESS)
        return vkfail(err, r, "vkCreateBuffer");
    VkMemoryRequirements mr;
    p->f.GetBufferMemoryRequirements(p->device, b->b, &mr);
    VkPhysicalDeviceMemoryProperties mp;
    p->f.GetPhysicalDeviceMemoryProperties(p->phys, &mp);
    const VkMemoryPropertyFlags need =
        host ? VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT : 0;
    const VkMemoryPropertyFlags like = host ? need : VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
    uint32_t type = UINT32_MAX;
    for (int pass = 0; pass < 2 && type == UINT32_MAX; pass++)
        for (uint32_t i = 0; i < mp.memoryTypeCount && type == UINT32_MAX; i++)
            if ((mr.memoryTypeBits & (1u << i)) && (mp.memoryTypes[i].propertyFlags & need) == need &&
                (pass == 1 || (mp.memoryTypes[i].propertyFlags & like) == like))
                type = i;
    if (type == UINT32_MAX)
        return rv_error_set(err, RV_ERR_UNSUPPORTED, "presentation: no %s memory for a buffer",
                            host ? "host-visible coherent" : "usable");
    VkMemoryAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, .allocationSize = mr.size,
                               .memoryTypeIndex = type};
    if ((r = p->f.AllocateMemory(p->device, &ai, NULL, &b->m)) != VK_SUCCESS)
        return vkfail(err, r, "vkAllocateMemory");
    if ((r = p->f.BindBufferMemory(p->device, b->b, b->m, 0)) != VK_SUCCESS)
        return vkfail(err, r, "vkBindBufferMemory");
    if (host && (r = p->f.MapMemory(p->device, b->m, 0, VK_WHOLE_SIZE, 0, &b->map)) != VK_SUCCESS)
        return vkfail(err, r, "vkMapMemory");
    b->size = size;
    p->set_stale = true;
    if (b == &p->target)
        p->composed = false;
    return RV_OK;
}

#define DEV_USAGE (VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT)

/* ---------------------------------------------------------------- the composite pass */

static rv_status make_pipeline(rv_present *p, rv_error *err)
{
    const rv_spirv *spv = NULL;
    for (size_t i = 0; i < rv_spirv_count; i++)
        if (strcmp(rv_spirv_table[i].name, "composite") == 0)
            spv = &rv_spirv_table[i];
    if (!spv)
        return rv_error_set(err, RV_ERR_PIPELINE, "presentation: the composite shader is not built in");
    VkShaderModuleCreateInfo mi = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO, .codeSize = spv->bytes,
                                   .pCode = spv->words};
    VkResult r = p->f.CreateShaderModule(p->device, &mi, NULL, &p->shader);
    if (r != VK_SUCCESS)
        return vkfail(err, r, "vkCreateShaderModule (composite)");
    VkDescriptorSetLayoutBinding b[3];
    for (uint32_t i = 0; i < 3; i++)
        b[i] = (VkDescriptorSetLayoutBinding){.binding = i, .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                              .descriptorCount = 1, .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT};
    VkDescriptorSetLayoutCreateInfo li = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
                                          .bindingCount = 3, .pBindings = b};
    if ((r = p->f.CreateDescriptorSetLayout(p->device, &li, NULL, &p->dsl)) != VK_SUCCESS)
        return vkfail(err, r, "vkCreateDescriptorSetLayout");
    VkPushConstantRange pcr = {VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof(struct rv_pc_composite)};
    VkPipelineLayoutCreateInfo pli = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO, .setLayoutCount = 1,
                                      .pSetLayouts = &p->dsl, .pushConstantRangeCount = 1,
                                      .pPushConstantRanges = &pcr};
    if ((r = p->f.CreatePipelineLayout(p->device, &pli, NULL, &p->layout)) != VK_SUCCESS)
        return vkfail(err, r, "vkCreatePipelineLayout");
    VkComputePipelineCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                  .stage = VK_SHADER_STAGE_COMPUTE_BIT, .module = p->shader, .pName = "main"},
        .layout = p->layout};
    if ((r = p->f.CreateComputePipelines(p->device, VK_NULL_HANDLE, 1, &ci, NULL, &p->pipe)) != VK_SUCCESS)
        return vkfail(err, r, "vkCreateComputePipelines (composite)");
    VkDescriptorPoolSize ps = {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 3};
    VkDescriptorPoolCreateInfo dpi = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO, .maxSets = 1,
                                      .poolSizeCount = 1, .pPoolSizes = &ps};
    if ((r = p->f.CreateDescriptorPool(p->device, &dpi, NULL, &p->dpool)) != VK_SUCCESS)
        return vkfail(err, r, "vkCreateDescriptorPool");
    VkDescriptorSetAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                      .descriptorPool = p->dpool, .descriptorSetCount = 1, .pSetLayouts = &p->dsl};
    if ((r = p->f.AllocateDescriptorSets(p->device, &ai, &p->set)) != VK_SUCCESS)
        return vkfail(err, r, "vkAllocateDescriptorSets");
    /* every binding exists from the start, so an empty frame or overlay still binds */
    rv_status s = buf_reserve(p, &p->frame, 4096, DEV_USAGE, false, err);
    if (!s)
        s = buf_reserve(p, &p->overlay, 4096, DEV_USAGE, false, err);
    return s;
}

static void update_set(rv_present *p)
{
    VkDescriptorBufferInfo bi[3] = {{p->frame.b, 0, VK_WHOLE_SIZE},
                                    {p->overlay.b, 0, VK_WHOLE_SIZE},
                                    {p->target.b, 0, VK_WHOLE_SIZE}};
    VkWriteDescriptorSet w[3];
    for (uint32_t i = 0; i < 3; i++)
        w[i] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, .dstSet = p->set,
                                      .dstBinding = i, .descriptorCount = 1,
                                      .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .pBufferInfo = &bi[i]};
    p->f.UpdateDescriptorSets(p->device, 3, w, 0, NULL);
    p->set_stale = false;
}

/* The frame's rectangle in a tw x th target: the largest of its aspect that
 * fits, sizes rounded to the nearest pixel, centred (rounded down). */
static void fit(const rv_present *p, struct rv_pc_composite *pc)
{
    uint64_t fw = p->fw, fh = p->fh, W = p->tw, H = p->th;
    uint64_t dw, dh;
    if (W * fh <= H * fw) {
        dw = W;
        dh = (2 * fh * W + fw) / (2 * fw);
    } else {
        dh = H;
        dw = (2 * fw * H + fh) / (2 * fh);
    }
    dw = dw < 1 ? 1 : dw > W ? W : dw;
    dh = dh < 1 ? 1 : dh > H ? H : dh;
    pc->dst_w = (uint32_t)dw;
    pc->dst_h = (uint32_t)dh;
    pc->dst_x = (uint32_t)((W - dw) / 2);
    pc->dst_y = (uint32_t)((H - dh) / 2);
    pc->step_x = (uint32_t)((fw << 16) / dw);
    pc->step_y = (uint32_t)((fh << 16) / dh);
}

/* ---------------------------------------------------------------- create, destroy */

rv_status rv_present_create(rv_present **out, const rv_present_desc *d, rv_error *err)
{
    *out = NULL;
    rv_present *p = calloc(1, sizeof(*p));
    if (!p)
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "presentation: out of memory");
    p->vsync = d->vsync;
    p->offscreen = d->create_surface == NULL;
    p->off_w = d->width ? d->width : 64;
    p->off_h = d->height ? d->height : 64;
    rv_status s = make_instance(p, d, err);
    if (!s && !p->offscreen) {
        uint64_t surf = d->create_surface(d->user, (uint64_t)(uintptr_t)p->instance);
        if (!surf)
            s = rv_error_set(err, RV_ERR_UNSUPPORTED, "presentation: the window could not make a Vulkan surface");
        p->surface = (VkSurfaceKHR)(uintptr_t)surf;
    }
    if (!s)
        s = make_device(p, err);
    if (!s)
        s = make_pipeline(p, err);
    if (!s && !p->offscreen)
        s = make_swapchain(p, err);
    if (s) {
        rv_present_destroy(p);
        return s;
    }
    *out = p;
    return RV_OK;
}

void rv_present_destroy(rv_present *p)
{
    if (!p)
        return;
    if (p->device) {
        p->f.DeviceWaitIdle(p->device);
        pbuf *bufs[] = {&p->frame, &p->frame_stage, &p->overlay, &p->overlay_stage, &p->target, &p->readback};
        for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
            buf_free(p, bufs[i]);
        if (p->dpool)
            p->f.DestroyDescriptorPool(p->device, p->dpool, NULL);
        if (p->pipe)
            p->f.DestroyPipeline(p->device, p->pipe, NULL);
        if (p->layout)
            p->f.DestroyPipelineLayout(p->device, p->layout, NULL);
        if (p->dsl)
            p->f.DestroyDescriptorSetLayout(p->device, p->dsl, NULL);
        if (p->shader)
            p->f.DestroyShaderModule(p->device, p->shader, NULL);
        if (p->swapchain)
            p->f.DestroySwapchainKHR(p->device, p->swapchain, NULL);
        if (p->fence)
            p->f.DestroyFence(p->device, p->fence, NULL);
        if (p->acquired)
            p->f.DestroySemaphore(p->device, p->acquired, NULL);
        if (p->rendered)
            p->f.DestroySemaphore(p->device, p->rendered, NULL);
        if (p->pool)
            p->f.DestroyCommandPool(p->device, p->pool, NULL);
        p->f.DestroyDevice(p->device, NULL);
    }
    if (p->surface && p->f.DestroySurfaceKHR)
        p->f.DestroySurfaceKHR(p->instance, p->surface, NULL);
    if (p->messenger && p->f.DestroyDebugUtilsMessengerEXT)
        p->f.DestroyDebugUtilsMessengerEXT(p->instance, p->messenger, NULL);
    if (p->instance && p->f.DestroyInstance)
        p->f.DestroyInstance(p->instance, NULL);
    if (p->lib)
        dlclose(p->lib);
    free(p);
}

bool rv_present_bgra(const rv_present *p) { return p->bgra; }
const char *rv_present_device(const rv_present *p) { return p->device_name; }
void rv_present_inject(rv_present *p, rv_present_fault f) { p->fault = f; }
rv_present_stats rv_present_get_stats(const rv_present *p) { return p->stats; }

/* ---------------------------------------------------------------- inputs */

/* A layer's pixels into its host staging buffer (the last draw waited for
 * its fence: not in use), both buffers grown to fit first. */
static rv_status stage_layer(rv_present *p, pbuf *stage, pbuf *dev, const uint32_t *rgba, uint32_t width,
                             uint32_t height, rv_error *err)
{
    VkDeviceSize n = (VkDeviceSize)width * height * 4;
    rv_status s = buf_reserve(p, stage, n, VK_BUFFER_USAGE_TRANSFER_SRC_BIT, true, err);
    if (!s)
        s = buf_reserve(p, dev, n, DEV_USAGE, false, err);
    if (!s)
        memcpy(stage->map, rgba, (size_t)n);
    return s;
}

rv_status rv_present_set_frame(rv_present *p, const uint32_t *rgba, uint32_t width, uint32_t height, rv_error *err)
{
    p->composed = false;
    if (!rgba || !width || !height) {
        p->fw = p->fh = 0;
        return RV_OK;
    }
    rv_status s = stage_layer(p, &p->frame_stage, &p->frame, rgba, width, height, err);
    if (s)
        return s;
    p->fw = width;
    p->fh = height;
    p->frame_dirty = true;
    return RV_OK;
}

rv_status rv_present_set_overlay(rv_present *p, const uint32_t *rgba, uint32_t width, uint32_t height, uint32_t x,
                                 uint32_t y, rv_error *err)
{
    p->composed = false;
    if (!rgba || !width || !height) {
        p->ow = p->oh = 0;
        return RV_OK;
    }
    rv_status s = stage_layer(p, &p->overlay_stage, &p->overlay, rgba, width, height, err);
    if (s)
        return s;
    p->ox = x;
    p->oy = y;
    p->ow = width;
    p->oh = height;
    p->overlay_dirty = true;
    p->ov_lo = 0;
    p->ov_hi = height;
    return RV_OK;
}

rv_status rv_present_update_overlay(rv_present *p, const uint32_t *rows, uint32_t y, uint32_t n, rv_error *err)
{
    if (!p->ow || y > p->oh || n > p->oh - y)
        return rv_error_set(err, RV_ERR_INVALID, "presentation: rows %u to %u are not in the %ux%u overlay", y, y + n,
                            p->ow, p->oh);
    if (!n)
        return RV_OK;
    memcpy((uint32_t *)p->overlay_stage.map + (size_t)y * p->ow, rows, (size_t)n * p->ow * 4);
    if (!p->overlay_dirty) {
        p->ov_lo = y;
        p->ov_hi = y + n;
    } else {
        p->ov_lo = y < p->ov_lo ? y : p->ov_lo;
        p->ov_hi = y + n > p->ov_hi ? y + n : p->ov_hi;
    }
    p->overlay_dirty = true;
    p->composed = false;
    return RV_OK;
}

/* ---------------------------------------------------------------- drawing */

static void barrier(rv_present *p, VkImage img, VkImageLayout from, VkImageLayout to, VkAccessFlags src_access,
                    VkAccessFlags dst_access, VkPipelineStageFlags src, VkPipelineStageFlags dst)
{
    VkImageMemoryBarrier b = {.sType = VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER, .srcAccessMask = src_access,
                              .dstAccessMask = dst_access, .oldLayout = from, .newLayout = to,
                              .srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
                              .dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED, .image = img,
                              .subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1}};
    p->f.CmdPipelineBarrier(p->cmd, src, dst, 0, 0, NULL, 0, NULL, 1, &b);
}

static void mem_barrier(rv_present *p, VkAccessFlags src_access, VkAccessFlags dst_access, VkPipelineStageFlags src,
                        VkPipelineStageFlags dst)
{
    VkMemoryBarrier b = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = src_access,
                         .dstAccessMask = dst_access};
    p->f.CmdPipelineBarrier(p->cmd, src, dst, 0, 1, &b, 0, NULL, 0, NULL);
}

/* Records the uploads that are due and the composite into `target`;
 * nothing when target already holds it (no layer changed: the UI redraws
 * far more often than the frame or the overlay change). */
static void record_composite(rv_present *p)
{
    if (p->composed)
        return;
    bool copied = false;
    if (p->frame_dirty && p->fw) {
        VkBufferCopy c = {0, 0, (VkDeviceSize)p->fw * p->fh * 4};
        p->f.CmdCopyBuffer(p->cmd, p->frame_stage.b, p->frame.b, 1, &c);
        copied = true;
    }
    if (p->overlay_dirty && p->ow) {
        VkDeviceSize row = (VkDeviceSize)p->ow * 4;
        VkBufferCopy c = {row * p->ov_lo, row * p->ov_lo, row * (p->ov_hi - p->ov_lo)};
        p->f.CmdCopyBuffer(p->cmd, p->overlay_stage.b, p->overlay.b, 1, &c);
        copied = true;
    }
    if (copied)
        mem_barrier(p, VK_ACCESS_TRANSFER_WRITE_BIT, VK_ACCESS_SHADER_READ_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT,
                    VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT);
    /* the previous draw's copy out of target is done (fence), but order it anyway */
    mem_barrier(p, VK_ACCESS_TRANSFER_READ_BIT, VK_ACCESS_SHADER_WRITE_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT,
                VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT);
    struct rv_pc_composite pc = {.out_w = p->tw, .out_h = p->th, .bgra = p->bgra ? 1u : 0u};
    if (p->fw) {
        pc.frame_w = p->fw;
        pc.frame_h = p->fh;
        fit(p, &pc);
    }
    if (p->ow) {
        pc.ov_x = p->ox;
        pc.ov_y = p->oy;
        pc.ov_w = p->ow;
        pc.ov_h = p->oh;
    }
    p->f.CmdBindPipeline(p->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, p->pipe);
    p->f.CmdBindDescriptorSets(p->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, p->layout, 0, 1, &p->set, 0, NULL);
    p->f.CmdPushConstants(p->cmd, p->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof(pc), &pc);
    p->f.CmdDispatch(p->cmd, (p->tw + RV_COMPOSITE_GROUP - 1) / RV_COMPOSITE_GROUP,
                     (p->th + RV_COMPOSITE_GROUP - 1) / RV_COMPOSITE_GROUP, 1);
    p->stats.composites++;
}

static void mark_uploaded(rv_present *p)
{
    p->stats.draws++;
    p->composed = true;
    if (p->frame_dirty && p->fw)
        p->stats.frame_uploads++;
    if (p->overlay_dirty && p->ow) {
        p->stats.overlay_uploads++;
        p->stats.overlay_bytes += (uint64_t)p->ow * (p->ov_hi - p->ov_lo) * 4;
    }
    p->frame_dirty = p->overlay_dirty = false;
}

/* The target's size for this draw; a new size needs a new composite. */
static void target_size(rv_present *p, uint32_t w, uint32_t h)
{
    if (w != p->tw || h != p->th)
        p->composed = false;
    p->tw = w;
    p->th = h;
}

static rv_status draw_offscreen(rv_present *p, rv_error *err)
{
    target_size(p, p->off_w, p->off_h);
    rv_status s = buf_reserve(p, &p->target, (VkDeviceSize)p->tw * p->th * 4,
                              VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT, false, err);
    if (s)
        return s;
    if (p->set_stale)
        update_set(p);
    p->f.ResetCommandBuffer(p->cmd, 0);
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                   .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    p->f.BeginCommandBuffer(p->cmd, &bi);
    record_composite(p);
    p->f.EndCommandBuffer(p->cmd);
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &p->cmd};
    p->f.ResetFences(p->device, 1, &p->fence);
    VkResult r = p->f.QueueSubmit(p->queue, 1, &si, p->fence);
    if (r != VK_SUCCESS)
        return vkfail(err, r, "vkQueueSubmit (composite)");
    if ((r = p->f.WaitForFences(p->device, 1, &p->fence, VK_TRUE, UINT64_MAX)) != VK_SUCCESS)
        return vkfail(err, r, "waiting for the composite");
    mark_uploaded(p);
    return RV_OK;
}

rv_status rv_present_draw(rv_present *p, rv_error *err)
{
    if (p->offscreen)
        return draw_offscreen(p, err);
    VkSurfaceCapabilitiesKHR caps;
    VkResult r = p->f.GetPhysicalDeviceSurfaceCapabilitiesKHR(p->phys, p->surface, &caps);
    if (r != VK_SUCCESS)
        return vkfail(err, r, "reading the window surface (lost?)");
    if (caps.currentExtent.width != UINT32_MAX &&
        (caps.currentExtent.width != p->extent.width || caps.currentExtent.height != p->extent.height || !p->swapchain)) {
        p->f.DeviceWaitIdle(p->device);
        rv_status s = make_swapchain(p, err);
        if (s)
            return s;
    }
    if (!p->swapchain || p->extent.width == 0)
        return RV_OK;
    uint32_t idx = 0;
    for (int attempt = 0;; attempt++) {
        rv_present_fault fault = p->fault;
        p->fault = RV_PRESENT_FAULT_NONE;
        if (fault == RV_PRESENT_FAULT_SURFACE_LOST) /* tests: as a driver reports a window gone */
            r = VK_ERROR_SURFACE_LOST_KHR;
        else if (fault == RV_PRESENT_FAULT_OUT_OF_DATE)
            r = VK_ERROR_OUT_OF_DATE_KHR;
        else
            r = p->f.AcquireNextImageKHR(p->device, p->swapchain, UINT64_MAX, p->acquired, VK_NULL_HANDLE, &idx);
        if (r == VK_SUCCESS || r == VK_SUBOPTIMAL_KHR)
            break;
        if (r == VK_ERROR_OUT_OF_DATE_KHR && attempt == 0) {
            p->f.DeviceWaitIdle(p->device);
            rv_status s = make_swapchain(p, err);
            if (s)
                return s;
            p->stats.recreated++;
            if (!p->swapchain || p->extent.width == 0)
                return RV_OK;
            continue;
        }
        return vkfail(err, r, "vkAcquireNextImageKHR");
    }
    target_size(p, p->extent.width, p->extent.height);
    rv_status s = buf_reserve(p, &p->target, (VkDeviceSize)p->tw * p->th * 4,
                              VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT, false, err);
    if (s)
        return s;
    if (p->set_stale)
        update_set(p);
    VkImage img = p->images[idx];
    p->f.ResetCommandBuffer(p->cmd, 0);
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                   .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    p->f.BeginCommandBuffer(p->cmd, &bi);
    record_composite(p);
    mem_barrier(p, VK_ACCESS_SHADER_WRITE_BIT, VK_ACCESS_TRANSFER_READ_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                VK_PIPELINE_STAGE_TRANSFER_BIT);
    barrier(p, img, VK_IMAGE_LAYOUT_UNDEFINED, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, 0, VK_ACCESS_TRANSFER_WRITE_BIT,
            VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT);
    VkBufferImageCopy copy = {.bufferOffset = 0, .bufferRowLength = p->tw, .bufferImageHeight = p->th,
                              .imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1},
                              .imageOffset = {0, 0, 0}, .imageExtent = {p->tw, p->th, 1}};
    p->f.CmdCopyBufferToImage(p->cmd, p->target.b, img, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, 1, &copy);
    barrier(p, img, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, VK_IMAGE_LAYOUT_PRESENT_SRC_KHR,
            VK_ACCESS_TRANSFER_WRITE_BIT, 0, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT);
    p->f.EndCommandBuffer(p->cmd);
    /* the composite may run before the image is ours; only the copy into it waits */
    VkPipelineStageFlags wait_stage = VK_PIPELINE_STAGE_TRANSFER_BIT;
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .waitSemaphoreCount = 1,
                       .pWaitSemaphores = &p->acquired, .pWaitDstStageMask = &wait_stage,
                       .commandBufferCount = 1, .pCommandBuffers = &p->cmd, .signalSemaphoreCount = 1,
                       .pSignalSemaphores = &p->rendered};
    p->f.ResetFences(p->device, 1, &p->fence);
    if ((r = p->f.QueueSubmit(p->queue, 1, &si, p->fence)) != VK_SUCCESS)
        return vkfail(err, r, "vkQueueSubmit (composite and copy)");
    VkPresentInfoKHR pi = {.sType = VK_STRUCTURE_TYPE_PRESENT_INFO_KHR, .waitSemaphoreCount = 1,
                           .pWaitSemaphores = &p->rendered, .swapchainCount = 1, .pSwapchains = &p->swapchain,
                           .pImageIndices = &idx};
    r = p->f.QueuePresentKHR(p->queue, &pi);
    VkResult w = p->f.WaitForFences(p->device, 1, &p->fence, VK_TRUE, UINT64_MAX);
    if (w != VK_SUCCESS)
        return vkfail(err, w, "waiting for the composite");
    mark_uploaded(p);
    if (r == VK_ERROR_OUT_OF_DATE_KHR || r == VK_SUBOPTIMAL_KHR) {
        p->f.DeviceWaitIdle(p->device);
        p->stats.recreated++;
        return make_swapchain(p, err);
    }
    if (r != VK_SUCCESS)
        return vkfail(err, r, "vkQueuePresentKHR");
    return RV_OK;
}

rv_status rv_present_read(rv_present *p, uint32_t *out, uint32_t *width, uint32_t *height, size_t cap,
                          rv_error *err)
{
    *width = p->tw;
    *height = p->th;
    size_t n = (size_t)p->tw * p->th;
    if (!p->target.b || n == 0)
        return rv_error_set(err, RV_ERR_INVALID, "presentation: nothing drawn yet");
    if (n > cap)
        return rv_error_set(err, RV_ERR_INVALID, "presentation: the target is %ux%u, the buffer holds %zu pixels",
                            p->tw, p->th, cap);
    rv_status s = buf_reserve(p, &p->readback, n * 4, VK_BUFFER_USAGE_TRANSFER_DST_BIT, true, err);
    if (s)
        return s;
    p->f.ResetCommandBuffer(p->cmd, 0);
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                   .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    p->f.BeginCommandBuffer(p->cmd, &bi);
    VkBufferCopy c = {0, 0, n * 4};
    p->f.CmdCopyBuffer(p->cmd, p->target.b, p->readback.b, 1, &c);
    mem_barrier(p, VK_ACCESS_TRANSFER_WRITE_BIT, VK_ACCESS_HOST_READ_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT,
                VK_PIPELINE_STAGE_HOST_BIT);
    p->f.EndCommandBuffer(p->cmd);
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &p->cmd};
    p->f.ResetFences(p->device, 1, &p->fence);
    VkResult r = p->f.QueueSubmit(p->queue, 1, &si, p->fence);
    if (r != VK_SUCCESS)
        return vkfail(err, r, "vkQueueSubmit (read back)");
    if ((r = p->f.WaitForFences(p->device, 1, &p->fence, VK_TRUE, UINT64_MAX)) != VK_SUCCESS)
        return vkfail(err, r, "waiting for the read back");
    memcpy(out, p->readback.map, n * 4);
    return RV_OK;
}
