#!/usr/bin/python3
"""The PyTorch side of `reverie bench frames --compare-torch`: the same
steady-state frame as the engine's loop (tools/reverie_ref/frames.py's
semantics: warp the previous latent, re-noise to the strength with the
scene's fixed noise, the UNet steps, decode) on the same weights, with the
prompt embedding and the noise made once before timing, as the engine
caches them. Prints one JSON object on stdout. Not a test: it times.

    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 tools/bench_frames_torch.py --model DIR \
        [--width 256 --height 256 --steps 1 --strength 0.5 --frames 10 --threads 2]
"""

import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from reverie_ref import frames as rframes  # noqa: E402
from reverie_ref.diffusers_folder import load_pipeline  # noqa: E402
from reverie_ref.pipeline import decode_latents, image_to_image, text_to_image, to_uint8  # noqa: E402
from reverie_ref.schedulers import LCMScheduler, make_scheduler  # noqa: E402

PROMPT = "a red lighthouse on a hill at sunset, watercolor"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--width", type=int, default=0)
    ap.add_argument("--height", type=int, default=0)
    ap.add_argument("--steps", type=int, default=1)
    ap.add_argument("--strength", type=float, default=0.5)
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt", default=PROMPT)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    pipe = load_pipeline(args.model)
    load_s = time.perf_counter() - t0
    unet = pipe["unet"]
    dec = rframes.frame_decoder(pipe)
    c, side = unet.config["in_channels"], unet.config["sample_size"]
    with torch.no_grad():  # pixels per latent pixel, as the decoder makes them
        factor = decode_latents(dec, torch.zeros(1, c, 2, 2)).shape[-1] // 2
    lh = args.height // factor if args.height else side
    lw = args.width // factor if args.width else side
    shape = (1, c, lh, lw)
    cache = rframes.PromptCache(pipe["text_encoder"], pipe.get("tokenizer"))
    emb = cache.get({"text": args.prompt})
    noise = rframes.scene_noise(1, shape)
    num, first = rframes.schedule_for(args.steps, args.strength)
    sched = make_scheduler(pipe["scheduler_config"])
    lcm = isinstance(sched, LCMScheduler)
    motion = {"zoom": 1.01, "pan_x": 0.0, "pan_y": 0.0, "rotate": 0.0}
    with torch.no_grad():
        t0 = time.perf_counter()
        x = text_to_image(unet, pipe["text_encoder"], sched, None, None, noise, args.steps,
                          step_noises=rframes.step_noises(1, shape, 0, args.steps) if lcm else None,
                          prompt_embeds=emb)["latents"]
        img = to_uint8(decode_latents(dec, x))
        first_ms = (time.perf_counter() - t0) * 1e3
        times = []
        for _ in range(args.frames):
            t0 = time.perf_counter()
            y = rframes.warp(x, motion["zoom"])
            res = image_to_image(unet, pipe["text_encoder"], sched, None, None, y, noise, num, args.strength,
                                 step_noises=rframes.step_noises(1, shape, first, num) if lcm else None,
                                 prompt_embeds=emb)
            x = res["latents"]
            img = to_uint8(decode_latents(dec, x))
            times.append((time.perf_counter() - t0) * 1e3)
    ms = statistics.median(times)
    print(json.dumps({"model": args.model, "width": lw * factor, "height": lh * factor, "steps": args.steps,
                      "strength": args.strength, "threads": args.threads, "frames": args.frames,
                      "load_s": round(load_s, 3), "first_frame_ms": round(first_ms, 2), "ms_per_frame": round(ms, 2),
                      "ms_min": round(min(times), 2), "fps": round(1e3 / ms, 3), "image_shape": list(img.shape)}))


if __name__ == "__main__":
    main()
