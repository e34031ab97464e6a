/* rv_present (rv_present.h): a window's swapchain on its own Vulkan
 * instance, device and queue, with its own function table loaded from
 * libvulkan (the runtime's volk pointers are global and belong to the
 * compute device, which may be loading on another thread). Copies a
 * composed RGBA8 picture into each swapchain image. Not compute. */
#ifndef VK_NO_PROTOTYPES
#define VK_NO_PROTOTYPES
#endif
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vulkan/vulkan.h>

#include "rv_present.h"

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
} vkfn;

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
    VkBuffer staging;
    VkDeviceMemory staging_mem;
    void *staging_ptr;
    VkDeviceSize staging_size;
    bool bgra, vsync;
    char device_name[VK_MAX_PHYSICAL_DEVICE_NAME_SIZE];
};

static rv_status vkfail(rv_error *err, VkResult r, const char *what)
{
    rv_status s = r == VK_ERROR_DEVICE_LOST || r == VK_ERROR_SURFACE_LOST_KHR ? RV_ERR_DEVICE_LOST
                  : r == VK_ERROR_OUT_OF_HOST_MEMORY                          ? RV_ERR_HOST_MEMORY
                  : r == VK_ERROR_OUT_OF_DEVICE_MEMORY                        ? RV_ERR_DEVICE_MEMORY
                                                                              : RV_ERR_VULKAN;
    return rv_error_set(err, s, "presentation: %s failed (VkResult %d)", what, (int)r);
}

static VKAPI_ATTR VkBool32 VKAPI_CALL on_message(VkDebugUtilsMessageSeverityFlagBitsEXT sev,
                                                 VkDebugUtilsMessageTypeFlagsEXT type,
                                                 const VkDebugUtilsMessengerCallbackDataEXT *data, void *user)
{
    (void)type;
    (void)user;
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
                             .pEngineName = "reverie", .apiVersion = VK_API_VERSION_1_1};
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
            .pfnUserCallback = on_message};
        if (p->f.CreateDebugUtilsMessengerEXT)
            p->f.CreateDebugUtilsMessengerEXT(p->instance, &mi, NULL, &p->messenger);
    }
    if (!p->f.GetPhysicalDeviceSurfaceSupportKHR || !p->f.CreateDevice)
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
            if (!(qf[q].queueFlags & (VK_QUEUE_GRAPHICS_BIT | VK_QUEUE_COMPUTE_BIT)))
                continue;
            if (p->f.GetPhysicalDeviceSurfaceSupportKHR(devs[i], q, p->surface, &ok) != VK_SUCCESS || !ok)
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
        return rv_error_set(err, RV_ERR_UNSUPPORTED, "presentation: no Vulkan device can present to this window");
    p->phys = devs[best];
    p->family = best_family;
    float prio = 1.0f;
    VkDeviceQueueCreateInfo qi = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, .queueFamilyIndex = p->family,
                                  .queueCount = 1, .pQueuePriorities = &prio};
    const char *dext[] = {VK_KHR_SWAPCHAIN_EXTENSION_NAME};
    VkDeviceCreateInfo dci = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, .queueCreateInfoCount = 1,
                              .pQueueCreateInfos = &qi, .enabledExtensionCount = 1, .ppEnabledExtensionNames = dext};
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

static rv_status staging(rv_present *p, VkDeviceSize size, rv_error *err)
{
    if (size <= p->staging_size)
        return RV_OK;
    if (p->staging) {
        p->f.UnmapMemory(p->device, p->staging_mem);
        p->f.DestroyBuffer(p->device, p->staging, NULL);
        p->f.FreeMemory(p->device, p->staging_mem, NULL);
        p->staging = VK_NULL_HANDLE;
        p->staging_size = 0;
    }
    VkBufferCreateInfo bi = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = size,
                             .usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT, .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    VkResult r = p->f.CreateBuffer(p->device, &bi, NULL, &p->staging);
    if (r != VK_SUCCESS)
        return vkfail(err, r, "vkCreateBuffer (staging)");
    VkMemoryRequirements mr;
    p->f.GetBufferMemoryRequirements(p->device, p->staging, &mr);
    VkPhysicalDeviceMemoryProperties mp;
    p->f.GetPhysicalDeviceMemoryProperties(p->phys, &mp);
    uint32_t type = UINT32_MAX;
    const VkMemoryPropertyFlags need = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    for (uint32_t i = 0; i < mp.memoryTypeCount && type == UINT32_MAX; i++)
        if ((mr.memoryTypeBits & (1u << i)) && (mp.memoryTypes[i].propertyFlags & need) == need)
            type = i;
    if (type == UINT32_MAX)
        return rv_error_set(err, RV_ERR_UNSUPPORTED, "presentation: no host-visible coherent memory");
    VkMemoryAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, .allocationSize = mr.size,
                               .memoryTypeIndex = type};
    if ((r = p->f.AllocateMemory(p->device, &ai, NULL, &p->staging_mem)) != VK_SUCCESS)
        return vkfail(err, r, "vkAllocateMemory (staging)");
    if ((r = p->f.BindBufferMemory(p->device, p->staging, p->staging_mem, 0)) != VK_SUCCESS ||
        (r = p->f.MapMemory(p->device, p->staging_mem, 0, VK_WHOLE_SIZE, 0, &p->staging_ptr)) != VK_SUCCESS)
        return vkfail(err, r, "mapping the staging buffer");
    p->staging_size = size;
    return RV_OK;
}

rv_status rv_present_create(rv_present **out, const rv_present_desc *d, rv_error *err)
{
    *out = NULL;
    rv_present *p = calloc(1, sizeof(*p));
    if (!p)
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "presentation: out of memory");
    p->vsync = d->vsync;
    rv_status s = make_instance(p, d, err);
    if (!s) {
        uint64_t surf = d->create_surface ? d->create_surface(d->user, (uint64_t)(uintptr_t)p->instance) : 0;
        if (!surf)
            s = rv_error_set(err, RV_ERR_UNSUPPORTED, "presentation: the window could not make a Vulkan surface");
        p->surface = (VkSurfaceKHR)(uintptr_t)surf;
    }
    if (!s)
        s = make_device(p, err);
    if (!s)
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
        if (p->staging) {
            p->f.UnmapMemory(p->device, p->staging_mem);
            p->f.DestroyBuffer(p->device, p->staging, NULL);
            p->f.FreeMemory(p->device, p->staging_mem, NULL);
        }
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

rv_status rv_present_frame(rv_present *p, const uint32_t *pixels, uint32_t width, uint32_t height, rv_error *err)
{
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
    rv_status s = staging(p, (VkDeviceSize)width * height * 4, err);
    if (s)
        return s;
    memcpy(p->staging_ptr, pixels, (size_t)width * height * 4);
    uint32_t idx = 0;
    for (int attempt = 0;; attempt++) {
        r = p->f.AcquireNextImageKHR(p->device, p->swapchain, UINT64_MAX, p->acquired, VK_NULL_HANDLE, &idx);
        if (r == VK_SUCCESS || r == VK_SUBOPTIMAL_KHR)
            break;
        if (r == VK_ERROR_OUT_OF_DATE_KHR && attempt == 0) {
            p->f.DeviceWaitIdle(p->device);
            if ((s = make_swapchain(p, err)))
                return s;
            if (!p->swapchain || p->extent.width == 0)
                return RV_OK;
            continue;
        }
        return vkfail(err, r, "vkAcquireNextImageKHR");
    }
    VkImage img = p->images[idx];
    p->f.ResetCommandBuffer(p->cmd, 0);
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                   .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    p->f.BeginCommandBuffer(p->cmd, &bi);
    barrier(p, img, VK_IMAGE_LAYOUT_UNDEFINED, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, 0, VK_ACCESS_TRANSFER_WRITE_BIT,
            VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT);
    uint32_t cw = width < p->extent.width ? width : p->extent.width;
    uint32_t ch = height < p->extent.height ? height : p->extent.height;
    if (cw < p->extent.width || ch < p->extent.height) {
        VkClearColorValue black = {{0, 0, 0, 1}};
        VkImageSubresourceRange range = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
        p->f.CmdClearColorImage(p->cmd, img, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, &black, 1, &range);
        barrier(p, img, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL,
                VK_ACCESS_TRANSFER_WRITE_BIT, VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT,
                VK_PIPELINE_STAGE_TRANSFER_BIT);
    }
    VkBufferImageCopy copy = {.bufferOffset = 0, .bufferRowLength = width, .bufferImageHeight = height,
                              .imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1},
                              .imageOffset = {0, 0, 0}, .imageExtent = {cw, ch, 1}};
    p->f.CmdCopyBufferToImage(p->cmd, p->staging, img, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, 1, &copy);
    barrier(p, img, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, VK_IMAGE_LAYOUT_PRESENT_SRC_KHR,
            VK_ACCESS_TRANSFER_WRITE_BIT, 0, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT);
    p->f.EndCommandBuffer(p->cmd);
    VkPipelineStageFlags wait_stage = VK_PIPELINE_STAGE_TRANSFER_BIT;
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .waitSemaphoreCount = 1,
                       .pWaitSemaphores = &p->acquired, .pWaitDstStageMask = &wait_stage,
                       .commandBufferCount = 1, .pCommandBuffers = &p->cmd, .signalSemaphoreCount = 1,
                       .pSignalSemaphores = &p->rendered};
    p->f.ResetFences(p->device, 1, &p->fence);
    if ((r = p->f.QueueSubmit(p->queue, 1, &si, p->fence)) != VK_SUCCESS)
        return vkfail(err, r, "vkQueueSubmit (present copy)");
    VkPresentInfoKHR pi = {.sType = VK_STRUCTURE_TYPE_PRESENT_INFO_KHR, .waitSemaphoreCount = 1,
                           .pWaitSemaphores = &p->rendered, .swapchainCount = 1, .pSwapchains = &p->swapchain,
                           .pImageIndices = &idx};
    r = p->f.QueuePresentKHR(p->queue, &pi);
    VkResult w = p->f.WaitForFences(p->device, 1, &p->fence, VK_TRUE, UINT64_MAX);
    if (w != VK_SUCCESS)
        return vkfail(err, w, "waiting for the present copy");
    if (r == VK_ERROR_OUT_OF_DATE_KHR || r == VK_SUBOPTIMAL_KHR) {
        p->f.DeviceWaitIdle(p->device);
        return make_swapchain(p, err);
    }
    if (r != VK_SUCCESS)
        return vkfail(err, r, "vkQueuePresentKHR");
    return RV_OK;
}
