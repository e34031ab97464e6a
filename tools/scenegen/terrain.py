"""Terrains: each builder returns a Layout, the terrain's layers (drawn later
in depth order, interleaved with objects) and the places where objects may
stand (land), float (water) or span (bridge). Not the objects themselves."""

import numpy as np

from .canvas import clamp, F, Shape, below, box, circle, ellipse, polyline, smoothstep, union

GRASS = (0.38, 0.64, 0.25)
GRASS_DARK = (0.26, 0.5, 0.2)
FAR_GREEN = (0.36, 0.52, 0.44)
ROCK = (0.52, 0.48, 0.44)
SAND = (0.93, 0.80, 0.52)
WATER = (0.13, 0.36, 0.6)
SNOW = (0.94, 0.96, 0.99)
SOIL = (0.42, 0.3, 0.2)
PINE = (0.12, 0.36, 0.2)

HORIZON = {'sea': 0.56, 'lake': 0.52, 'river': 0.48, 'island': 0.52, 'hills': 0.5,
           'mountains': 0.56, 'volcano': 0.64, 'desert': 0.56, 'forest': 0.52,
           'meadow': 0.58, 'snowfield': 0.56, 'city': 0.64}


class Slot:
    """Where an object goes: ground point (x, y), size factor, depth."""
    __slots__ = ('x', 'y', 'scale', 'depth', 'width')

    def __init__(self, x, y, scale, depth, width=0.0):
        self.x, self.y, self.scale, self.depth, self.width = float(x), float(y), scale, depth, width


class Layout:
    def __init__(self):
        self.layers = []      # (depth, draw function)
        self.land = []        # Slots, best first
        self.water = []
        self.span = None      # Slot with .width: where a bridge goes

    def add(self, depth, fn):
        self.layers.append((depth, fn))


def mixc(a, b, t):
    a, b = np.asarray(a, F), np.asarray(b, F)
    return a + (b - a) * F(t)


def ground_col(ctx, c):
    return mixc(SNOW, c, 0.06) if ctx.snowy else np.asarray(c, F)


def ground_shade(f, ld, k_slope=0.8, k_depth=0.28, band=0.25):
    """Lighting of a height field: darker below the crest, lit on the sun's side."""
    fs = getattr(f, 'smooth', f)       # light follows the big shape, not the jitter

    def s(X, Y, d):
        fx = f(X)
        # sample the slope up-slope of the pixel, so the lit/shaded boundary
        # runs down a ridge diagonally instead of straight down from a peak
        xs = X + 0.5 * (Y - fx) * np.sign(fs(X + 2e-3) - fs(X - 2e-3))
        sl = (fs(xs + 2e-3) - fs(xs - 2e-3)) / 4e-3
        return 1.06 - k_depth * smoothstep(0.0, band, Y - fx) + clamp(sl * ld * k_slope, -0.3, 0.25)
    return s


def sines(rng, base, amps, freqs):
    ph = rng.uniform(0, 2 * np.pi, len(amps))
    amps, freqs = list(amps), list(freqs)

    def f(x):
        y = base + 0.0 * x
        for a, fr, p in zip(amps, freqs, ph):
            y = y + a * np.sin(fr * x + p)
        return y
    return f


def hill_layer(cv, ctx, f, color, depth, texture=0.25, shade_k=1.0):
    col = ground_col(ctx, color)
    sh = ground_shade(f, ctx.light_dir)

    def draw():
        cv.fill(below(f), col, shade=sh, depth=depth, texture=texture, shade_k=shade_k)
    return draw


def water_color(ctx, cv):
    """Water colour field: sky reflection near the horizon, deeper near."""
    hor = np.asarray(ctx.sky[2], F)
    deep = np.asarray(WATER, F) * cv.light * F(1.1)
    if ctx.sky_color:
        deep = mixc(deep, ctx.sky[1], 0.3)
    yh = ctx.horizon

    def color(X, Y):
        t = smoothstep(yh, yh + 0.35, Y)
        if cv.flat:
            t = np.floor(t * 3) / 3
        return hor * F(0.7) + (deep - hor * F(0.7)) * (0.55 + 0.45 * t)[..., None]
    return color


def wave_shade(cv, ctx, y0):
    """Wave crests: short horizontal dashes whose spacing follows the
    perspective of a flat plane (rows equally spaced in distance)."""
    ph = cv.rng('waves').random(4096).astype(F) * 6.283

    def s(X, Y, d):
        dep = np.maximum(Y - y0, 0.0) + 0.012
        v = 4.0 / dep
        row = np.floor(v)
        gap = dep * dep / 4.0                     # row spacing in image units
        dy = np.abs(v - row - 0.5) * gap
        tw = clamp(0.22 * gap, 0.6 * cv.px, 0.006)
        line = clamp(1.0 - dy / tw, 0.0, 1.0)
        u = X / (0.05 * dep + 0.004) + ph[row.astype(np.int32) % 4096]
        dash = smoothstep(0.55, 0.8, np.sin(u))
        return 1.0 + 0.4 * line * dash * smoothstep(0.02, 0.08, dep)
    return s


def draw_water(cv, ctx, shape, depth, y0):
    """Water body; returns its coverage as a full-frame mask for reflections."""
    res = cv.fill(shape, water_color(ctx, cv), shade=wave_shade(cv, ctx, y0), emissive=True,
                  depth=depth, outline='thin', wobble=0.3)
    mask = np.zeros((cv.h, cv.w), F)
    if res is not None:
        a, (i0, i1, j0, j1) = res
        mask[i0:i1, j0:j1] = a
    return mask


def reflect(cv, ctx, y0, mask, strength=0.45, span=0.3):
    """Mirror what is above the line y = y0 into the water below it."""
    r0 = int(round(y0 * cv.h))
    n = min(cv.h - r0, r0, int(span * cv.h))
    if n <= 0:
        return
    rows = np.arange(r0, r0 + n)
    src = 2 * r0 - 1 - rows
    amp = max(1, cv.h // 128)
    shift = np.round(amp * np.sin(rows * (1.7 * 128 / cv.h)) * (rows - r0 + 4) / (n + 4) * 2).astype(np.int32)
    cols = clamp(np.arange(cv.w)[None, :] + shift[:, None], 0, cv.w - 1)
    refl = cv.rgb[src[:, None], cols]
    fade = (1.0 - (rows - r0) / n) ** 0.7 * strength
    k = (mask[r0:r0 + n] * fade[:, None].astype(F))[..., None]
    tint = np.asarray((0.82, 0.86, 0.92), F)
    cv.rgb[r0:r0 + n] += (refl * tint - cv.rgb[r0:r0 + n]) * k


def pine_row(cv, ctx, base, sp, hmin, hmax, color, depth, name, x0=None, x1=None, snow_k=0.0):
    """A row of layered pines as one periodic distance field."""
    rng = cv.rng(name)
    n = int(cv.aspect / sp) + 4
    hs = rng.uniform(hmin, hmax, n)
    offs = rng.uniform(-0.25, 0.25, n) * sp
    keep = np.ones(n, bool)
    if x0 is not None:
        cxs = (np.arange(n) + 0.5) * sp + offs
        keep = (cxs < x0) | (cxs > x1)
    base_y = base + rng.uniform(-0.01, 0.01, n)

    def fn(X, Y):
        c = np.floor(X / sp).astype(np.int32)
        out = np.full(np.broadcast(X, Y).shape, 9.0, F)
        for k in (-1, 0, 1):
            idx = clamp(c + k, 0, n - 1)
            cx = (idx + 0.5) * sp + offs[idx]
            h, b, on = hs[idx], base_y[idx], keep[idx]
            lx = np.abs(X - cx)
            for t in range(3):
                top = b - h * (1 - 0.27 * t)
                bot = b - h * (0.52 - 0.24 * t)
                wdt = h * (0.17 + 0.07 * t)
                ht = bot - top
                dsl = (lx * ht - wdt * (Y - top)) / np.sqrt(ht * ht + wdt * wdt)
                d = np.maximum(dsl, Y - bot)
                out = np.minimum(out, np.where(on, d, 9.0))
            tr = np.maximum(lx - h * 0.035, np.maximum(b - h * 0.1 - Y, Y - b - 0.01))
            out = np.minimum(out, np.where(on, tr, 9.0))
        return out
    top = float(np.min(base_y - hs)) - 0.01
    col = np.asarray(color, F)
    sn = np.asarray(SNOW, F)

    def color_fn(X, Y):
        if snow_k <= 0:
            return col
        # snow caught in the branches
        t = _tex_at(cv, X, Y)
        return np.where((t > 0.52)[..., None], sn, col * F(0.8) + sn * F(0.2))

    def draw():
        cv.fill(Shape(fn, (-0.1, top, cv.aspect + 0.1, base + 0.02)), color_fn, depth=depth,
                texture=0.3, outline='thin')
    return draw


def _tex_at(cv, X, Y):
    """The canvas texture field sampled at window coordinates."""
    j = clamp((X * cv.h).astype(np.int32), 0, cv.w - 1)
    i = clamp((Y * cv.h).astype(np.int32), 0, cv.h - 1)
    return cv.field('tex')[i, j]


def dots(cv, name, y0, y1, cell, radius, presence, colors, depth, grow=True):
    """Randomly scattered round dots (flowers, pebbles), one per lattice cell."""
    def draw():
        i0, i1 = int(y0 * cv.h), min(cv.h, int(np.ceil(y1 * cv.h)))
        if i1 <= i0:
            return
        rng = cv.rng(name)
        X, Y = cv.xs, cv.ys[i0:i1]
        ncx, ncy = int(cv.aspect / cell) + 2, int(y1 / cell) + 2
        pres = rng.random((ncy, ncx)) < presence
        px, py = rng.uniform(0.2, 0.8, (2, ncy, ncx))
        ci = rng.integers(0, len(colors), (ncy, ncx))
        ix, iy = (X / cell).astype(np.int32), (Y / cell).astype(np.int32)
        dx = X / cell - ix - px[iy, ix]
        dy = Y / cell - iy - py[iy, ix]
        dist = np.sqrt(dx * dx + dy * dy) * cell
        r = radius * (0.5 + (Y - y0) / (y1 - y0)) if grow else radius
        r = np.maximum(r, 0.6 * cv.px)
        a = clamp(0.5 + (r - dist) / cv.px, 0, 1) * pres[iy, ix]
        pal = np.asarray(colors, F) * cv.light
        col = pal[ci[iy, ix]]
        hz = cv.haze(depth)
        if hz:
            col = col + (cv.haze_color - col) * F(hz)
        cv.rgb[i0:i1] += (col - cv.rgb[i0:i1]) * a[..., None].astype(F)
        if cv.lines is not None:
            cv.lines[i0:i1] *= (1 - a).astype(F)
    return draw


# ---------------------------------------------------------------- terrains

def _far_hills(cv, ctx, L, base, depth=0.88, color=FAR_GREEN, amp=0.03):
    f = sines(ctx.rng, base, (amp, amp * 0.6, amp * 0.3), (3.1, 7.3, 17.0))
    L.add(depth, hill_layer(cv, ctx, f, color, depth, texture=0.15))
    return f


def _stream(cv, ctx, L, x_bottom, y_top, depth, width=0.3):
    """A small river running toward the viewer (for bridges away from rivers)."""
    ph = ctx.rng.uniform(0, 6.28)

    def xc(y):
        t = clamp((y - y_top) / (1 - y_top), 0, 1)
        return x_bottom + 0.06 * np.sin(t * 5 + ph) * t

    def wid(y):
        t = clamp((y - y_top) / (1 - y_top), 0, 1)
        return 0.01 + width * t ** 1.1

    shape = Shape(lambda X, Y: np.maximum(np.abs(X - xc(Y)) - wid(Y) / 2, y_top - Y),
                  (x_bottom - width, y_top, x_bottom + width, 1.01))

    def draw():
        cv.fill(shape.grow(0.008), ground_col(ctx, SOIL), depth=depth, outline=False)
        draw_water(cv, ctx, shape, depth, ctx.horizon)
    L.add(depth, draw)
    yb = y_top + (1 - y_top) * 0.62
    L.span = Slot(xc(yb), yb, 1.0, depth - 0.005, width=wid(yb) + 0.18)
    return xc, wid


def _land_slots(cands, avoid=None):
    """Orders candidate slots and drops those on a stream: avoid(x, y) -> bool."""
    return [s for s in cands if not (avoid and avoid(s.x, s.y))]


def build(cv, ctx):
    L = Layout()
    BUILDERS[ctx.terrain](cv, ctx, L)
    return L


def t_hills(cv, ctx, L):
    a, r = ctx.a, ctx.rng
    _far_hills(cv, ctx, L, 0.47)
    hx = a * r.uniform(0.32, 0.68)
    f1 = sines(r, 0.64, (0.02, 0.012), (4.7, 11.0))

    def f2(x, hx=hx):
        return f1(x) - 0.1 * np.exp(-((x - hx) / 0.26) ** 2)
    L.add(0.55, hill_layer(cv, ctx, f2, GRASS, 0.55))
    f3 = sines(r, 0.84, (0.035, 0.015), (3.3, 8.0))
    L.add(0.2, hill_layer(cv, ctx, f3, mixc(GRASS, (0.5, 0.7, 0.2), 0.3), 0.2, texture=0.35))
    avoid = None
    if ctx.needs_span:
        sx = a * (0.5 if ctx.main == 'bridge' else (0.2 if hx > a / 2 else 0.8))
        xc, wid = _stream(cv, ctx, L, sx, 0.6, 0.19, 0.32)
        avoid = lambda x, y: abs(x - xc(y)) < wid(y) / 2 + 0.14
    side = (0.2, 0.8) if r.random() < 0.5 else (0.8, 0.2)
    cands = [Slot(hx, f2(hx), 0.85, 0.55)] + [Slot(a * s, f3(a * s) + 0.01, 1.0, 0.2) for s in side]
    cands.append(Slot(a * (0.5 + 0.3 * (hx < a / 2)), f2(a * (0.5 + 0.3 * (hx < a / 2))), 0.7, 0.55))
    L.land = _land_slots(cands, avoid)


def t_meadow(cv, ctx, L):
    a, r = ctx.a, ctx.rng
    _far_hills(cv, ctx, L, 0.56, amp=0.02)
    f = sines(r, 0.6, (0.008, 0.004), (3.0, 9.0))
    L.add(0.6, hill_layer(cv, ctx, f, GRASS, 0.6, texture=0.3, shade_k=0.5))
    if not ctx.snowy:
        flowers = ((0.95, 0.2, 0.2), (1.0, 0.85, 0.2), (0.98, 0.98, 0.95), (0.7, 0.35, 0.85), (1.0, 0.55, 0.7))
        L.add(0.45, dots(cv, 'flowers1', 0.66, 0.8, 0.028, 0.004, 0.6, flowers, 0.45))
        L.add(0.3, dots(cv, 'flowers2', 0.8, 1.0, 0.045, 0.0075, 0.7, flowers, 0.3))
    avoid = None
    if ctx.needs_span:
        xc, wid = _stream(cv, ctx, L, a * (0.5 if ctx.main == 'bridge' else 0.8), 0.6, 0.25, 0.34)
        avoid = lambda x, y: abs(x - xc(y)) < wid(y) / 2 + 0.14
    cands = [Slot(a * 0.5, 0.84, 1.0, 0.25), Slot(a * 0.2, 0.86, 1.0, 0.24), Slot(a * 0.8, 0.85, 1.0, 0.24),
             Slot(a * 0.32, 0.7, 0.7, 0.4), Slot(a * 0.72, 0.7, 0.7, 0.4)]
    L.land = _land_slots(cands, avoid)


def _peaks(r, a, base, n, hmin, hmax, wmin, wmax):
    xs = np.sort(r.uniform(-0.05, a + 0.05, n))
    hs = r.uniform(hmin, hmax, n)
    ws = r.uniform(wmin, wmax, n)
    ph = r.uniform(0, 6.28, 2)

    def smooth(x):
        x = np.asarray(x, F)
        y = np.zeros(np.shape(x), F)
        for xi, hi, wi in zip(xs, hs, ws):
            y = np.maximum(y, hi * np.maximum(0.0, 1.0 - np.abs(x - xi) / wi))
        return base - y

    def f(x):
        return smooth(x) + 0.008 * np.sin(37 * x + ph[0]) + 0.005 * np.sin(83 * x + ph[1])
    f.smooth = smooth
    return f


def mountain_layer(cv, ctx, f, rock, depth, snowline, k_slope=0.45):
    sn = np.asarray(SNOW, F)
    rk = np.asarray(rock, F)
    if ctx.snowy:
        snowline += 0.15

    def color(X, Y):
        cap = Y < snowline + 0.012 * np.sin(X * 55) + 0.01 * np.sin(X * 23)
        return np.where(cap[..., None], sn, rk)

    sh = ground_shade(f, ctx.light_dir, k_slope=k_slope, k_depth=0.15)

    def draw():
        cv.fill(below(f), color, shade=sh, depth=depth, texture=0.3)
    return draw


def t_mountains(cv, ctx, L):
    a, r = ctx.a, ctx.rng
    f1 = _peaks(r, a, 0.6, 5, 0.2, 0.38, 0.22, 0.4)
    L.add(0.85, mountain_layer(cv, ctx, f1, (0.55, 0.57, 0.66), 0.85, 0.33))
    f2 = _peaks(r, a, 0.66, 4, 0.1, 0.2, 0.18, 0.3)
    L.add(0.6, mountain_layer(cv, ctx, f2, (0.45, 0.41, 0.38), 0.6, 0.5))
    f3 = sines(r, 0.79, (0.03, 0.012), (3.0, 8.0))
    L.add(0.4, pine_row(cv, ctx, 0.7, 0.05, 0.06, 0.1, PINE, 0.42, 'mpines',
                        snow_k=1.0 if ctx.snowy else 0))
    L.add(0.25, hill_layer(cv, ctx, f3, GRASS_DARK, 0.25))
    avoid = None
    if ctx.needs_span:
        xc, wid = _stream(cv, ctx, L, a * (0.5 if ctx.main == 'bridge' else 0.8), 0.76, 0.22, 0.3)
        avoid = lambda x, y: abs(x - xc(y)) < wid(y) / 2 + 0.14
    cands = [Slot(a * 0.5, f3(a * 0.5) + 0.01, 1.0, 0.25), Slot(a * 0.2, f3(a * 0.2) + 0.01, 0.95, 0.24),
             Slot(a * 0.8, f3(a * 0.8) + 0.01, 0.95, 0.24), Slot(a * 0.35, f3(a * 0.35) + 0.01, 0.9, 0.24)]
    L.land = _land_slots(cands, avoid)


def t_volcano(cv, ctx, L):
    a, r = ctx.a, ctx.rng
    left = r.random() < 0.5
    xc = a * (0.36 if left else 0.64)
    yt, yb, hw, cw = 0.25, 0.74, 0.5, 0.06
    _far_hills(cv, ctx, L, 0.62, color=(0.45, 0.45, 0.45), amp=0.015)

    def f(x):
        t = clamp((np.abs(x - xc) - cw) / hw, 0, 1)
        rim = 0.012 * clamp(1 - np.abs(x - xc) / cw, 0, 1)
        return yt + (yb - yt) * t ** 0.72 + rim
    rock = np.asarray((0.36, 0.29, 0.26), F)
    if ctx.snowy:
        rock = mixc(rock, SNOW, 0.5)
    lava = np.asarray((1.0, 0.42, 0.08), F)
    night = ctx.time in ('night', 'dusk') or ctx.weather == 'storm'
    rng_l = cv.rng('lava')
    flows = []
    for sgn in (-1, 1):
        pts, x = [], xc + sgn * cw * 0.5
        for i in range(7):
            y = f(np.asarray([x]))[0] + 0.006
            pts.append((x, y))
            x += sgn * rng_l.uniform(0.02, 0.05)
        flows.append(pts)

    def draw_cone():
        cv.glow(xc, yt, 0.16, (1.0, 0.3, 0.08), 0.55 if night else 0.2)
        def cone_shade(X, Y, d):
            side = clamp((X - xc) / 0.12, -1, 1) * ctx.light_dir
            return 1.0 + 0.18 * side - 0.18 * smoothstep(0.0, 0.3, Y - f(X))
        cv.fill(below(f), rock, shade=cone_shade, depth=0.7, texture=0.35)
        cv.fill(ellipse(xc, yt + 0.008, cw * 0.95, 0.011), lava, emissive=True, outline='thin')
        for pts in flows:
            cv.fill(polyline(pts, 0.0055), lava, emissive=True, outline='thin', wobble=0.3)
        cv.glow(xc, yt + 0.005, 0.06, (1.0, 0.5, 0.1), 0.6 if night else 0.3)
        # ash plume drifting up and sideways
        drift = r.choice((-1, 1)) * 0.25
        pc = np.asarray((0.4, 0.37, 0.36), F) if not night else np.asarray((0.3, 0.2, 0.2), F)
        puffs = []
        for i in range(9):
            t = i / 8
            cy = yt - 0.035 - t * 0.2 + r.uniform(-0.01, 0.01)
            cx = xc + drift * t * t * 0.6 + r.uniform(-0.025, 0.025) * (0.3 + t)
            rr = (0.028 + 0.04 * t) * r.uniform(0.8, 1.2)
            puffs.append(circle(cx, cy, rr))
        top = yt - 0.3
        cv.fill(union(*puffs), pc, soft=0.005, depth=0.6, opacity=0.9, texture=0.35,
                shade=lambda X, Y, d: 0.85 + 0.35 * smoothstep(yt, top, Y))
    L.add(0.7, draw_cone)
    fg = sines(r, 0.82, (0.02, 0.01), (3.0, 9.0))
    L.add(0.25, hill_layer(cv, ctx, fg, (0.32, 0.34, 0.22), 0.25, texture=0.4))
    side = a * (0.75 if left else 0.25)
    L.land = [Slot(side, fg(side) + 0.01, 0.95, 0.25), Slot(side + (0.17 if left else -0.17), fg(side) + 0.02, 0.85, 0.24),
              Slot(a * 0.5, fg(a * 0.5) + 0.015, 0.85, 0.23)]


def t_desert(cv, ctx, L):
    a, r = ctx.a, ctx.rng

    def dune(base, amp, fr):
        ph = r.uniform(0, 6.28)
        ph2 = r.uniform(0, 6.28)

        def f(x):
            s = np.sin(fr * x + ph)
            return base - amp * (0.5 + 0.5 * s) ** 2.2 - amp * 0.25 * np.sin(fr * 2.3 * x + ph2)
        return f
    sand = np.asarray(SAND, F)
    f0 = dune(0.57, 0.04, 4.0)
    L.add(0.85, hill_layer(cv, ctx, f0, mixc(sand, (0.95, 0.75, 0.6), 0.3), 0.85, texture=0.1))
    f1 = dune(0.7, 0.1, 3.0)
    L.add(0.55, hill_layer(cv, ctx, f1, sand, 0.55, texture=0.15, shade_k=1.4))
    f2 = dune(0.9, 0.08, 2.2)

    def draw_near():
        sh = ground_shade(f2, ctx.light_dir, k_slope=1.0)

        def shade(X, Y, d):
            rip = 0.06 * np.sin((Y - f2(X)) * 260 + X * 30)
            return sh(X, Y, d) + (0 if cv.flat else rip)
        cv.fill(below(f2), mixc(sand, (1.0, 0.7, 0.4), 0.15), shade=shade, depth=0.2, texture=0.15)
    L.add(0.2, draw_near)
    xs = (0.5, 0.2, 0.8) if r.random() < 0.5 else (0.5, 0.8, 0.2)
    L.land = [Slot(a * xs[0], f1(a * xs[0]) + 0.01, 0.85, 0.55)] + \
             [Slot(a * x, f2(a * x) + 0.012, 1.0, 0.2) for x in xs[1:]]


def t_snowfield(cv, ctx, L):
    a, r = ctx.a, ctx.rng
    f0 = _peaks(r, a, 0.58, 5, 0.08, 0.2, 0.2, 0.35)
    L.add(0.88, mountain_layer(cv, ctx, f0, (0.68, 0.72, 0.82), 0.88, 0.5, k_slope=0.2))
    snow = np.asarray(SNOW, F)
    blue = np.asarray((0.7, 0.78, 0.92), F)
    f1 = sines(r, 0.62, (0.02, 0.01), (3.5, 9.0))
    f2 = sines(r, 0.8, (0.03, 0.012), (2.7, 7.0))

    def layer(f, depth):
        def color(X, Y):
            t = smoothstep(0.0, 0.12, Y - f(X))
            return snow + (blue - snow) * (0.15 + 0.5 * t)[..., None]

        def draw():
            cv.fill(below(f), color, shade=ground_shade(f, ctx.light_dir, k_slope=1.0, k_depth=0.05),
                    depth=depth, texture=0.12)
        return draw
    L.add(0.6, layer(f1, 0.6))
    L.add(0.22, layer(f2, 0.22))
    xs = (0.5, 0.22, 0.78)
    L.land = [Slot(a * xs[0], f2(a * xs[0]) + 0.012, 1.0, 0.22), Slot(a * xs[1], f2(a * xs[1]) + 0.012, 0.95, 0.21),
              Slot(a * xs[2], f2(a * xs[2]) + 0.012, 0.95, 0.21), Slot(a * 0.35, f1(a * 0.35) + 0.01, 0.7, 0.6)]


def t_forest(cv, ctx, L):
    a, r = ctx.a, ctx.rng
    sk = 1.0 if ctx.snowy else 0.0
    L.add(0.9, pine_row(cv, ctx, 0.54, 0.035, 0.07, 0.12, mixc(PINE, (0.3, 0.45, 0.5), 0.4), 0.9, 'pines0', snow_k=sk))
    fg = sines(r, 0.62, (0.01,), (4.0,))
    L.add(0.66, hill_layer(cv, ctx, fg, GRASS_DARK, 0.66, texture=0.3, shade_k=0.5))
    L.add(0.65, pine_row(cv, ctx, 0.635, 0.06, 0.16, 0.26, PINE, 0.65, 'pines1', snow_k=sk))
    f2 = sines(r, 0.8, (0.015, 0.006), (3.0, 9.0))
    L.add(0.3, hill_layer(cv, ctx, f2, GRASS, 0.3, texture=0.35))
    L.add(0.12, pine_row(cv, ctx, 1.05, 0.13, 0.5, 0.62, mixc(PINE, (0, 0, 0), 0.3), 0.0, 'pines2',
                         x0=0.13 * a, x1=0.87 * a, snow_k=sk))
    avoid = None
    if ctx.needs_span:
        xc, wid = _stream(cv, ctx, L, a * (0.5 if ctx.main == 'bridge' else 0.7), 0.64, 0.28, 0.3)
        avoid = lambda x, y: abs(x - xc(y)) < wid(y) / 2 + 0.12
    cands = [Slot(a * 0.5, f2(a * 0.5) + 0.04, 1.0, 0.29), Slot(a * 0.33, f2(a * 0.33) + 0.05, 0.9, 0.28),
             Slot(a * 0.68, f2(a * 0.68) + 0.05, 0.9, 0.28), Slot(a * 0.42, fg(a * 0.42) + 0.01, 0.6, 0.64),
             Slot(a * 0.23, f2(a * 0.23) + 0.06, 0.85, 0.27), Slot(a * 0.77, f2(a * 0.77) + 0.06, 0.85, 0.27)]
    L.land = _land_slots(cands, avoid)


def _sea_layer(cv, ctx, L, yh, depth=0.75, reflect_k=0.4):
    shape = box(-0.1, yh, cv.aspect + 0.1, 1.1)
    state = {}

    def draw():
        state['mask'] = draw_water(cv, ctx, shape, depth, yh)
        reflect(cv, ctx, yh, state['mask'], reflect_k, span=0.2)
        _glitter(cv, ctx, yh)
    L.add(depth, draw)
    return state


def _glitter(cv, ctx, yh):
    """The sun's or moon's path on the water."""
    if ctx.weather in ('rain', 'storm', 'snow') or ctx.time == 'day' and ctx.weather == 'fog':
        return
    if ctx.time in ('day', 'dusk') and ctx.weather != 'clear':
        return
    col = {'dawn': (1.0, 0.85, 0.6), 'day': (1.0, 1.0, 0.9), 'sunset': (1.0, 0.6, 0.25),
           'dusk': (0.8, 0.8, 0.9), 'night': (0.85, 0.85, 0.8)}[ctx.time]
    x = ctx.sun_x
    i0 = int(yh * cv.h) + 1
    X, Y = cv.xs, cv.ys[i0:]
    dep = Y - yh + 0.012
    wdt = 0.012 + dep * 0.3
    v = 4.0 / dep
    row = np.floor(v)
    gap = dep * dep / 4.0
    tw = clamp(0.3 * gap, 0.7 * cv.px, 0.008)
    line = clamp(1.0 - np.abs(v - row - 0.5) * gap / tw, 0.0, 1.0)
    ph = cv.rng('glitter').random(4096).astype(F) * 6.283
    u = (X - x) / (0.02 * dep + 0.003) + ph[row.astype(np.int32) % 4096]
    dash = smoothstep(0.1, 0.7, np.sin(u))
    a = line * dash * np.exp(-((X - x) / wdt) ** 2) * smoothstep(0.5, 0.0, dep)
    k = 0.85 if ctx.time in ('sunset', 'dawn', 'night') else 0.55
    cv.rgb[i0:] += (a * k)[..., None] * np.asarray(col, F)


def t_sea(cv, ctx, L):
    a, r = ctx.a, ctx.rng
    yh = ctx.horizon
    _sea_layer(cv, ctx, L, yh)
    if ctx.n_land:
        left = ctx.sun_x > a / 2 if r.random() < 0.7 else ctx.sun_x <= a / 2
        top = 0.52 + r.uniform(-0.02, 0.02)
        ph = r.uniform(0, 6)

        def fx(x):
            u = x if left else a - x
            return top + 0.012 * np.sin(u * 14 + ph) + (1.08 - top) * smoothstep(0.26 * a, 0.56 * a, u) ** 1.3

        grass = ground_col(ctx, GRASS)
        rock = np.asarray(ROCK, F)

        def color(X, Y):
            t = Y - fx(X)
            c = np.where((t < 0.025)[..., None], grass, rock)
            return c

        def draw():
            land = below(fx) & box(-0.1 if left else a * 0.3, 0, a * 0.7 if left else a + 0.1, 1.1)
            cv.fill(land.grow(0.006) & box(-1, yh + 0.02, a + 1, 1.2), (0.95, 0.97, 1.0), opacity=0.8,
                    depth=0.5, outline=False, soft=0.004)
            cv.fill(land, color, depth=0.5, texture=0.45,
                    shade=lambda X, Y, d: 1.0 + 0.15 * np.sin(X * 90) * smoothstep(0.02, 0.05, Y - fx(X))
                    + clamp(ctx.light_dir * (1 if left else -1), -1, 1) * -0.1)
        L.add(0.5, draw)
        us = (0.12, 0.24, 0.05)
        L.land = [Slot(u if left else a - u, fx(np.asarray(u if left else a - u)) + 0.01,
                       0.95 - 0.1 * i, 0.5 - 0.005 * i) for i, u in enumerate(x * a for x in us)]
        wx = (0.7, 0.86) if left else (0.3, 0.14)
    else:
        wx = (0.5, 0.75)
        if r.random() < 0.5:          # a distant island for scale
            cx = a * r.uniform(0.15, 0.85)
            L.add(0.9, lambda: cv.fill(ellipse(cx, yh, 0.15, 0.03) & box(-1, 0, 9, yh + 0.002),
                                       FAR_GREEN, depth=0.9))
    L.water = [Slot(a * wx[0], 0.8, 1.0, 0.35), Slot(a * wx[1], 0.65, 0.6, 0.6)]


def t_island(cv, ctx, L):
    a, r = ctx.a, ctx.rng
    yh = ctx.horizon
    _sea_layer(cv, ctx, L, yh)
    xc = a * r.uniform(0.42, 0.58)
    yi = 0.7
    hw = 0.3

    def fx(x):
        t = clamp(1 - ((x - xc) / hw) ** 2, 0, 1)
        return yi + 0.01 - 0.14 * t ** 0.6 - 0.012 * np.sin(x * 25) * t

    sand = ground_col(ctx, SAND)
    grass = ground_col(ctx, GRASS)

    def color(X, Y):
        beach = (Y > yi - 0.022) | (np.abs(X - xc) > hw * 0.8)
        return np.where(beach[..., None], sand, grass)

    def draw():
        cv.fill(ellipse(xc, yi + 0.004, hw * 1.08, 0.018), (0.95, 0.97, 1.0), opacity=0.75, depth=0.45,
                outline=False, soft=0.004)
        cv.fill(below(fx, xc - hw, xc + hw, y1=yi + 0.008), color, depth=0.45, texture=0.3,
                shade=ground_shade(fx, ctx.light_dir, k_depth=0.1))
    L.add(0.45, draw)
    L.land = [Slot(xc, fx(np.asarray(xc)) + 0.01, 0.85, 0.45),
              Slot(xc - 0.15, fx(np.asarray(xc - 0.15)) + 0.01, 0.7, 0.44),
              Slot(xc + 0.15, fx(np.asarray(xc + 0.15)) + 0.01, 0.7, 0.44)]
    L.water = [Slot(a * (0.15 if r.random() < 0.5 else 0.85), 0.85, 0.95, 0.3),
               Slot(a * 0.8, 0.6, 0.55, 0.6)]


def t_lake(cv, ctx, L):
    a, r = ctx.a, ctx.rng
    yw = ctx.horizon + 0.02
    if r.random() < 0.5:
        fm = _peaks(r, a, yw, 4, 0.1, 0.22, 0.2, 0.35)
        L.add(0.95, mountain_layer(cv, ctx, fm, (0.55, 0.57, 0.66), 0.95, 0.38))
    f1 = sines(r, yw - 0.02, (0.025, 0.01), (5.0, 12.0))

    def far_shore(X):
        return np.minimum(f1(X), yw)
    L.add(0.85, hill_layer(cv, ctx, far_shore, FAR_GREEN, 0.85, texture=0.2))
    state = {}

    def water():
        shape = box(-0.1, yw, cv.aspect + 0.1, 1.1)
        state['mask'] = draw_water(cv, ctx, shape, 0.7, yw)

    def refl():
        reflect(cv, ctx, yw, state['mask'], 0.4, span=0.28)
        _glitter(cv, ctx, yw)
    L.add(0.86, water)      # before the far shore, whose edge then covers it
    L.add(0.69, refl)
    ph = r.uniform(0, 6)
    fn = lambda x: 0.84 + 0.05 * np.sin(x * 4.5 + ph) + 0.015 * np.sin(x * 13)
    sand = ground_col(ctx, SAND)
    grass = ground_col(ctx, GRASS)

    def shore_color(X, Y):
        return np.where((Y - fn(X) < 0.018)[..., None], sand, grass)

    def near():
        cv.fill(below(fn), shore_color, depth=0.2, texture=0.3, shade=ground_shade(fn, ctx.light_dir))
    L.add(0.2, near)
    xs = (0.22, 0.78, 0.5) if r.random() < 0.5 else (0.78, 0.22, 0.5)
    L.land = [Slot(a * x, fn(a * x) + 0.03, 0.95, 0.19) for x in xs]
    bx = 0.5 if r.random() < 0.5 else 0.62
    L.water = [Slot(a * bx, 0.7, 0.85, 0.5), Slot(a * (1 - bx * 0.6), 0.6, 0.55, 0.6)]


def t_river(cv, ctx, L):
    a, r = ctx.a, ctx.rng
    yh = ctx.horizon
    _far_hills(cv, ctx, L, yh - 0.02, amp=0.02)
    L.add(0.85, pine_row(cv, ctx, yh + 0.005, 0.028, 0.03, 0.06, mixc(PINE, (0.3, 0.45, 0.5), 0.5), 0.85,
                         'rpines', snow_k=0))
    fg = lambda x: yh + 0.0 * x
    L.add(0.6, hill_layer(cv, ctx, fg, GRASS, 0.6, texture=0.3, shade_k=0.0))
    x0 = a * r.uniform(0.4, 0.6)
    ph = r.uniform(0, 6.28)
    amp = 0.1 * r.choice((-1, 1))

    def xc(y):
        t = clamp((y - yh) / (1 - yh), 0, 1)
        return x0 + amp * np.sin(t * 4 + ph) * t

    def wid(y):
        t = clamp((y - yh) / (1 - yh), 0, 1)
        return 0.012 + 0.44 * t ** 1.25

    shape = Shape(lambda X, Y: np.maximum(np.abs(X - xc(Y)) - wid(Y) / 2, yh + 0.002 - Y),
                  (-0.2, yh, a + 0.2, 1.01))
    state = {}

    def draw():
        cv.fill(shape.grow(0.008), ground_col(ctx, SOIL), depth=0.56, outline=False)
        state['mask'] = draw_water(cv, ctx, shape, 0.55, yh)
        reflect(cv, ctx, yh, state['mask'], 0.35, span=0.25)
    L.add(0.56, draw)
    yb = 0.74
    L.span = Slot(xc(yb), yb, 1.0, 0.5, width=wid(yb) + 0.12)
    L.water = [Slot(xc(0.9), 0.9, 0.9, 0.3), Slot(xc(0.62), 0.62, 0.5, 0.52)]
    cands = []
    for y, sc, dp in ((0.9, 1.0, 0.25), (0.66, 0.7, 0.54), (0.92, 0.95, 0.24), (0.64, 0.65, 0.53)):
        half = wid(y) / 2 + 0.14 * sc
        for x in (xc(y) - half, xc(y) + half):
            if 0.08 * a < x < 0.92 * a:
                cands.append(Slot(x, y, sc, dp))
    # alternate sides so two standing objects do not pile up
    L.land = sorted(cands, key=lambda s: (abs(s.y - 0.9) > 0.05, s.x > a / 2))[:1] + \
        sorted(cands, key=lambda s: (abs(s.y - 0.9) > 0.05, s.x > a / 2))[1:]


def t_city(cv, ctx, L):
    a = ctx.a
    yb = ctx.horizon
    lit = ctx.time in ('dusk', 'night') or ctx.weather == 'storm'
    quay = 0.86
    rows = ((0.85, (0.05, 0.1), (0.12, 0.3), (0.58, 0.62, 0.72), 'bfar'),
            (0.62, (0.07, 0.13), (0.06, 0.34), None, 'bnear'))
    from .canvas import segment, polygon
    for depth, wr, hr, col0, name in rows:
        rb = cv.rng(name)
        blds = []
        x = -0.05
        while x < a + 0.05:
            w = rb.uniform(*wr)
            h = rb.uniform(*hr)
            if col0 is None:
                col = np.asarray(((0.42, 0.42, 0.48), (0.52, 0.44, 0.38), (0.38, 0.42, 0.5), (0.6, 0.56, 0.5))
                                 [int(rb.integers(4))], F)
            else:
                col = np.asarray(col0, F)
            top = int(rb.integers(5))
            blds.append((x, w, h, col, top, rb.random()))
            x += w * rb.uniform(0.85, 1.05)

        def draw(blds=blds, depth=depth, name=name):
            for (x, w, h, col, top, u) in blds:
                shp = box(x, yb - h, x + w, yb + 0.01)
                if top == 0:
                    shp = shp | polygon([(x, yb - h + 0.001), (x + w, yb - h + 0.001), (x + w / 2, yb - h - w * 0.7)])
                elif top == 1:
                    shp = shp | segment(x + w / 2, yb - h, x + w / 2, yb - h - 0.06, max(0.003, 0.5 * cv.px))
                cv.fill(shp, col, depth=depth, texture=0.1, outline='thin',
                        shade=lambda X, Y, d, x=x, w=w: 1.0 + 0.12 * ctx.light_dir * np.sign(X - x - w * 0.5))
                # window grid
                wx, wy = 0.02, 0.028
                rw = cv.rng(f'{name}{x:.4f}')
                nxw, nyw = int(w / wx) + 1, int(h / wy) + 1
                on = rw.random((nyw + 1, nxw + 1)) < (0.55 if lit else 0.0)

                def wfn(X, Y, x=x, w=w, h=h, on=on):
                    ix = np.floor((X - x - 0.004) / wx).astype(np.int32)
                    iy = np.floor((Y - (yb - h) - 0.012) / wy).astype(np.int32)
                    lx = (X - x - 0.004) - (ix + 0.5) * wx
                    ly = (Y - (yb - h) - 0.012) - (iy + 0.5) * wy
                    d = np.maximum(np.abs(lx) - 0.0045, np.abs(ly) - 0.007)
                    inside = (ix >= 0) & (iy >= 0) & (X < x + w - 0.008) & (Y < yb - 0.01)
                    ok = on[clamp(iy, 0, on.shape[0] - 1), clamp(ix, 0, on.shape[1] - 1)] if lit else True
                    return np.where(inside & ok, d, 1.0)
                wshape = Shape(wfn, (x, yb - h, x + w, yb))
                if lit:
                    cv.fill(wshape, (1.0, 0.84, 0.45), emissive=True, depth=depth * 0.5, outline=False, wobble=0)
                elif w > 0.05:
                    cv.fill(wshape, col * F(0.7) + F(0.12), depth=depth, outline=False, wobble=0,
                            opacity=0.8)
        L.add(depth, draw)
    state = {}

    def water():
        state['mask'] = draw_water(cv, ctx, box(-0.1, yb, a + 0.1, quay + 0.01), 0.5, yb)
        reflect(cv, ctx, yb, state['mask'], 0.55, span=0.25)
    L.add(0.5, water)
    stone = ground_col(ctx, (0.55, 0.52, 0.5))

    def draw_quay():
        cv.fill(box(-0.1, quay, a + 0.1, 1.1), stone, depth=0.2, texture=0.3,
                shade=lambda X, Y, d: 1.0 - 0.15 * (np.abs(np.sin(X * 60)) < 0.08))
        cv.fill(box(-0.1, quay - 0.004, a + 0.1, quay + 0.008), stone * F(1.15), depth=0.2, outline='thin')
    L.add(0.2, draw_quay)
    L.land = [Slot(a * 0.5, quay + 0.05, 0.9, 0.19), Slot(a * 0.2, quay + 0.06, 0.85, 0.18),
              Slot(a * 0.8, quay + 0.06, 0.85, 0.18)]
    L.water = [Slot(a * 0.62, 0.8, 0.75, 0.4), Slot(a * 0.3, 0.74, 0.5, 0.45)]
    L.span = Slot(a * 0.5, 0.8, 0.9, 0.45, width=a * 0.96)


BUILDERS = {
    'sea': t_sea, 'lake': t_lake, 'river': t_river, 'island': t_island, 'hills': t_hills,
    'mountains': t_mountains, 'volcano': t_volcano, 'desert': t_desert, 'forest': t_forest,
    'meadow': t_meadow, 'snowfield': t_snowfield, 'city': t_city,
}
