"""Scene dict -> image: lighting for the time and weather, sky, terrain and
objects in depth order, weather overlays, style finish. Deterministic in
scene['seed']; every random draw comes from a named stream of it."""

import numpy as np

from . import objects, sky, terrain, vocab
from .canvas import Canvas


class Context:
    """What the drawers need to know about the scene, derived once."""

    def __init__(self, scene, cv):
        self.scene = scene
        self.time, self.weather = scene['time'], scene['weather']
        self.terrain, self.style = scene['terrain'], scene['style']
        self.sky_color = scene['sky_color']
        self.a = cv.aspect
        self.rng = cv.rng('layout')
        self.horizon = terrain.HORIZON[self.terrain]
        self.lights_on = self.time in ('dusk', 'night') or self.weather == 'storm'
        self.snowy = self.weather == 'snow' or self.terrain == 'snowfield'
        self.directional = self.weather in ('clear', 'clouds') and self.time != 'night'
        r = cv.rng('sun')
        self.sun_x = self.a * (r.uniform(0.15, 0.35) if r.random() < 0.5 else r.uniform(0.65, 0.85))
        self.light_dir = -1.0 if self.sun_x < self.a / 2 else 1.0
        self.crescent = r.random() < 0.5
        self.sky = sky.sky_palette(self.time, self.weather, self.sky_color)
        kinds = [o['kind'] for o in scene['objects']]
        self.main = kinds[0] if kinds else None
        self.n_land = sum(k in vocab.LAND_OBJECTS for k in kinds)
        self.needs_span = 'bridge' in kinds

    def rgb(self, cname):
        return vocab.RGB[cname]


def _size(size):
    if isinstance(size, (int, np.integer)):
        return int(size), int(size)
    h, w = size
    return int(h), int(w)


def _tagged(cv, fn):
    """fn() with the canvas recording what it draws as object."""
    def run():
        cv.tagging = True
        try:
            fn()
        finally:
            cv.tagging = False
    return run


def render_scene(scene, size=256, with_mask=False):
    """Renders a scene dict to a uint8 array (H, W, 3). `size` is an int
    (square) or (height, width); the layout scales with the height.
    with_mask=True returns (image, mask): mask float32 (H, W) in [0, 1], the
    visible coverage of the scene's objects (what terrain in front hides is
    not counted; weather and haze over them are ignored). The image is the
    same either way."""
    h, w = _size(size)
    if h < 8 or w < 8:
        raise ValueError(f'image size {h}x{w} is too small')
    err = vocab.scene_ok(scene)
    if err:
        raise ValueError(f'bad scene: {err}')
    tm, we = scene['time'], scene['weather']
    light = sky.light_of(tm, we)
    pal = sky.sky_palette(tm, we, scene['sky_color'])
    if we == 'fog':
        haze_col, haze_k, haze_pow = sky.FOG[tm], 0.95, 1.3
    else:
        haze_col, haze_k, haze_pow = pal[2], (0.3 if scene['style'] != 'cartoon' else 0.15), 2.0
    cv = Canvas(h, w, scene['style'], scene['seed'], light=light, haze_color=haze_col,
                haze_k=haze_k, haze_pow=haze_pow)
    if with_mask:
        cv.track_objects()
    ctx = Context(scene, cv)
    sky.draw_sky(cv, ctx)
    sky.draw_clouds(cv, ctx)
    kinds = [o['kind'] for o in scene['objects']]
    if 'rainbow' in kinds:
        _tagged(cv, lambda: sky.draw_rainbow(cv, ctx, 1.0 if kinds[0] == 'rainbow' else 0.85))()
    layout = terrain.build(cv, ctx)
    items = list(layout.layers)
    land, water = list(layout.land), list(layout.water)
    for i, o in enumerate(scene['objects']):
        k, main = o['kind'], i == 0
        scale = 1.0 if main else 0.78
        eps = 0.01 if main else 0.012 + 0.001 * i
        if k in objects.DRAW:
            slots = water if k == 'boat' else land
            # a campfire is small: give it the nearest place, others the best one
            pick = min(range(len(slots)), key=lambda j: slots[j].depth) if k == 'campfire' else 0
            slot = slots.pop(pick)
            s = objects.SIZE[k] * slot.scale * scale
            hw = objects.HALF_WIDTH[k] * s + 0.02
            x = min(max(slot.x, hw), cv.aspect - hw)
            fn = objects.DRAW[k]
            items.append((slot.depth - eps, _tagged(
                cv, lambda fn=fn, x=x, slot=slot, s=s, c=o['color']: fn(cv, ctx, x, slot.y, s, c, slot.depth))))
        elif k == 'bridge':
            sp = layout.span
            items.append((sp.depth - eps, _tagged(
                cv, lambda sp=sp, c=o['color']: objects.bridge(cv, ctx, sp.x, sp.y, sp.width, sp.scale, c, sp.depth))))
    order = sorted(range(len(items)), key=lambda i: (-items[i][0], i))
    for i in order:
        items[i][1]()
    if 'birds' in kinds:
        _tagged(cv, lambda: sky.draw_birds(cv, ctx, 1.3 if kinds[0] == 'birds' else 0.9))()
    sky.weather_overlay(cv, ctx)
    img = cv.finish()
    if with_mask:
        return img, np.clip(cv.obj_mask, 0.0, 1.0).astype(np.float32)
    return img
