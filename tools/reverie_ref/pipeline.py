"""Text-to-image as diffusers' StableDiffusionPipeline computes it, with every
random input given explicitly (initial noise, LCM's per-step noise) and
prompts given as token ids. Not img2img scheduling, not safety checking.
"""

import torch

from .autoencoder_tiny import AutoencoderTiny
from .schedulers import EulerDiscreteScheduler, LCMScheduler
from .unet import guidance_scale_embedding


def encode_prompt(text_encoder, ids, clip_skip=None):
    """ids: [B, S] long tensor -> prompt embeddings [B, S, D]."""
    return text_encoder.encode(ids, clip_skip=clip_skip)


def decode_latents(decoder, latents):
    """Pipeline latents -> image in about [-1, 1]: decoder.decode(latents / scaling_factor)."""
    return decoder.decode(decoder.unscale_latents(latents))


def to_unit_range(image):
    """diffusers' postprocess denormalisation: (x / 2 + 0.5).clamp(0, 1)."""
    return (image / 2 + 0.5).clamp(0, 1)


def to_uint8(image):
    """[B,3,H,W] in [-1,1] -> [B,H,W,3] uint8, as numpy_to_pil rounds."""
    x = to_unit_range(image).permute(0, 2, 3, 1)
    return (x * 255).round().to(torch.uint8)


@torch.no_grad()
def text_to_image(unet, text_encoder, scheduler, decoder, ids, noise, num_steps, guidance_scale=0.0,
                  negative_ids=None, clip_skip=None, step_noises=None, return_intermediates=False):
    """Generate latents and an image.

    ids, negative_ids: [B, S] token ids (negative defaults to none: the caller
    passes the ids of "" when it wants diffusers' default negative prompt).
    noise: [B, C, h, w] standard normal; it is multiplied by
    scheduler.init_noise_sigma. step_noises: LCM only, a list of num_steps-1
    tensors like noise. Classifier-free guidance runs when guidance_scale > 1
    and the UNet has no time_cond_proj_dim, exactly diffusers' condition.
    decoder: AutoencoderKL or AutoencoderTiny, or None to skip decoding.
    Returns dict(latents, image, prompt_embeds[, steps])."""
    dtype = next(unet.parameters()).dtype
    prompt_embeds = encode_prompt(text_encoder, ids, clip_skip).to(dtype)
    cond_dim = unet.config["time_cond_proj_dim"]
    do_cfg = guidance_scale > 1 and cond_dim is None
    if do_cfg:
        if negative_ids is None:
            raise ValueError("text_to_image: guidance needs negative_ids (the ids of \"\" for diffusers' default)")
        # diffusers encodes the negative prompt without clip_skip
        neg = encode_prompt(text_encoder, negative_ids, None).to(dtype)
        embeds = torch.cat([neg, prompt_embeds])
    else:
        embeds = prompt_embeds
    batch = ids.shape[0]
    timestep_cond = None
    if cond_dim is not None:
        w = torch.tensor(guidance_scale - 1).repeat(batch)
        timestep_cond = guidance_scale_embedding(w, cond_dim).to(dtype)

    timesteps = scheduler.set_timesteps(num_steps)
    latents = noise.to(dtype) * scheduler.init_noise_sigma
    steps = []
    for i, t in enumerate(timesteps):
        model_in = torch.cat([latents] * 2) if do_cfg else latents
        model_in = scheduler.scale_model_input(model_in, i)
        pred = unet(model_in, t, embeds, timestep_cond=timestep_cond)
        if do_cfg:
            uncond, text = pred.chunk(2)
            pred = uncond + guidance_scale * (text - uncond)
        if isinstance(scheduler, LCMScheduler):
            sn = step_noises[i] if (step_noises is not None and i < num_steps - 1) else None
            latents, denoised = scheduler.step(pred, i, latents, noise=sn)
        elif isinstance(scheduler, EulerDiscreteScheduler):
            latents, denoised = scheduler.step(pred, i, latents)
        else:
            raise ValueError(f"unsupported scheduler {type(scheduler).__name__}")
        if return_intermediates:
            steps.append({"t": t, "model_input": model_in, "model_output": pred, "latents": latents})
    # LCM pipelines decode `denoised`; at the last step it equals prev_sample
    image = decode_latents(decoder, latents) if decoder is not None else None
    out = {"latents": latents, "image": image, "prompt_embeds": prompt_embeds}
    if return_intermediates:
        out["steps"] = steps
    return out


def is_tiny(decoder):
    return isinstance(decoder, AutoencoderTiny)
