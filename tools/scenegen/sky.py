"""Sky, lights in the sky and weather: gradient by time of day (or a named sky
colour), sun, moon, stars, clouds, lightning, rainbow, birds, and the rain,
snow and fog overlays. Not the ground: see terrain.py."""

import numpy as np

from . import vocab
from .canvas import clamp, F, box, circle, polyline, smoothstep, union, Shape

SKY = {  # top, middle, horizon
    'dawn': ((0.36, 0.47, 0.76), (0.80, 0.66, 0.80), (1.00, 0.80, 0.62)),
    'day': ((0.20, 0.45, 0.88), (0.42, 0.65, 0.95), (0.76, 0.88, 0.99)),
    'sunset': ((0.17, 0.14, 0.42), (0.82, 0.32, 0.36), (1.00, 0.62, 0.22)),
    'dusk': ((0.05, 0.07, 0.22), (0.22, 0.20, 0.44), (0.62, 0.42, 0.48)),
    'night': ((0.01, 0.02, 0.07), (0.03, 0.05, 0.16), (0.09, 0.13, 0.28)),
}
# Brightness of a named-colour sky: top, middle, horizon.
SKY_LEVEL = {'dawn': (0.62, 0.82, 1.0), 'day': (0.72, 0.9, 1.0), 'sunset': (0.5, 0.8, 1.0),
             'dusk': (0.3, 0.45, 0.62), 'night': (0.14, 0.21, 0.33)}
TIME_BRIGHT = {'dawn': 0.85, 'day': 1.0, 'sunset': 0.75, 'dusk': 0.45, 'night': 0.24}
OVERCAST = {'rain': (0.52, 0.55, 0.60), 'storm': (0.30, 0.31, 0.36),
            'snow': (0.80, 0.82, 0.86), 'fog': (0.80, 0.82, 0.84)}
OVERCAST_MIX = {'rain': 0.75, 'storm': 0.8, 'snow': 0.7, 'fog': 0.8, 'clouds': 0.15, 'clear': 0.0}
# Light on the ground: a tint per time, a dimming per weather.
LIGHT = {'dawn': (0.96, 0.86, 0.84), 'day': (1.0, 1.0, 1.0), 'sunset': (1.0, 0.72, 0.55),
         'dusk': (0.5, 0.48, 0.68), 'night': (0.35, 0.39, 0.6)}
WEATHER_LIGHT = {'clear': 1.0, 'clouds': 0.92, 'rain': 0.84, 'snow': 0.95, 'fog': 0.92, 'storm': 0.66}
FOG = {'dawn': (0.90, 0.84, 0.82), 'day': (0.84, 0.86, 0.88), 'sunset': (0.86, 0.68, 0.58),
       'dusk': (0.42, 0.42, 0.52), 'night': (0.17, 0.19, 0.26)}
CLOUD = {'dawn': (1.0, 0.88, 0.88), 'day': (0.99, 0.99, 1.0), 'sunset': (1.0, 0.68, 0.52),
         'dusk': (0.52, 0.48, 0.64), 'night': (0.30, 0.32, 0.42)}
RAINBOW = ((0.95, 0.18, 0.15), (1.0, 0.55, 0.1), (1.0, 0.92, 0.2), (0.3, 0.8, 0.3),
           (0.2, 0.45, 0.95), (0.35, 0.25, 0.75), (0.62, 0.3, 0.82))


def _mix(a, b, t):
    a, b = np.asarray(a, F), np.asarray(b, F)
    return a + (b - a) * F(t)


def sky_palette(time, weather, sky_color):
    """(top, middle, horizon) colours of the sky."""
    if sky_color:
        c = np.asarray(vocab.RGB[sky_color], F)
        lt, lm, lh = SKY_LEVEL[time]
        top, mid, hor = c * lt, _mix(c, (1, 1, 1), 0.18) * lm, _mix(c, (1, 1, 1), 0.42) * lh
        if time in ('dawn', 'sunset'):       # the low sun still warms the horizon
            hor = _mix(hor, SKY[time][2], 0.3)
        mixk = OVERCAST_MIX[weather] * 0.5
    else:
        top, mid, hor = (np.asarray(c, F) for c in SKY[time])
        mixk = OVERCAST_MIX[weather]
    if weather in OVERCAST:
        g = np.asarray(OVERCAST[weather], F) * F(TIME_BRIGHT[time])
        top, mid, hor = (_mix(c, g * k, mixk) for c, k in ((top, 0.85), (mid, 1.0), (hor, 1.1)))
    elif weather == 'clouds':
        g = lum_of(mid)
        top, mid, hor = (_mix(c, (g, g, g), mixk) for c in (top, mid, hor))
    return top, mid, hor


def lum_of(c):
    return float(0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2])


def light_of(time, weather):
    return np.asarray(LIGHT[time], F) * F(WEATHER_LIGHT[weather])


def draw_sky(cv, ctx):
    top, mid, hor = ctx.sky
    yh = ctx.horizon
    flat = cv.flat

    def color(X, Y):
        t = clamp(Y / yh, 0.0, 1.0)
        if flat:
            t = np.floor(t * 5.0) / 4.0 * 0.9
        t = t[..., None]
        lo = top + (mid - top) * clamp(t / 0.55, 0, 1)
        return np.where(t < 0.55, lo, mid + (hor - mid) * clamp((t - 0.55) / 0.45, 0, 1))
    cv.fill(box(-0.1, -0.1, cv.aspect + 0.1, 1.1), color, emissive=True, outline=False, wobble=0, sky=True)
    if ctx.time == 'night' or (ctx.time == 'dusk' and ctx.weather in ('clear', 'clouds')):
        if ctx.weather in ('clear', 'clouds') or ctx.sky_color:
            _stars(cv, ctx, 1.0 if ctx.time == 'night' else 0.45)
    _sun_moon(cv, ctx)


def _stars(cv, ctx, k):
    yh = ctx.horizon
    rows = int(min(cv.h, np.ceil(yh * cv.h)))
    cs = 0.034
    ncx, ncy = int(cv.aspect / cs) + 2, int(yh / cs) + 2
    r = cv.rng('stars')
    pres = r.random((ncy, ncx)) < (0.55 if k >= 1 else 0.3)
    px, py = r.uniform(0.15, 0.85, (2, ncy, ncx))
    br = r.uniform(0.35, 1.0, (ncy, ncx)) ** 2 * pres
    big = r.random((ncy, ncx)) < 0.08
    X, Y = cv.xs, cv.ys[:rows]
    ix, iy = (X / cs).astype(np.int32), (Y / cs).astype(np.int32)
    dx = X / cs - ix - px[iy, ix]
    dy = Y / cs - iy - py[iy, ix]
    dist = np.sqrt(dx * dx + dy * dy) * cs
    sig = max(0.55 * cv.px, 0.0028) * np.where(big[iy, ix], 1.6, 1.0)
    a = br[iy, ix] * np.exp(-(dist / sig) ** 2) * k
    fade = smoothstep(yh, yh * 0.45, Y) if k >= 1 else smoothstep(yh * 0.6, 0.0, Y)
    a = a * fade
    cv.rgb[:rows] += (a[..., None] * np.asarray((1.0, 0.97, 0.9), F))


def _sun_moon(cv, ctx):
    w, tm = ctx.weather, ctx.time
    x = ctx.sun_x
    if w in ('rain', 'storm', 'snow'):
        return
    faint = 0.45 if w == 'fog' else 1.0
    if tm == 'day':
        y, r, col, gcol, gr, gk = 0.15, 0.055, (1.0, 0.97, 0.82), (1.0, 0.95, 0.7), 0.14, 0.45
    elif tm == 'dawn':
        y, r, col, gcol, gr, gk = ctx.horizon - 0.07, 0.065, (1.0, 0.93, 0.68), (1.0, 0.75, 0.6), 0.2, 0.45
    elif tm == 'sunset':
        y, r, col, gcol, gr, gk = ctx.horizon - 0.04, 0.095, (1.0, 0.56, 0.18), (1.0, 0.45, 0.15), 0.28, 0.55
    else:
        _moon(cv, ctx, faint)
        return
    cv.glow(x, y, gr, gcol, gk * faint)
    cv.fill(circle(x, y, r), col, emissive=True, opacity=faint, outline=True, wobble=0.4, sky=True)
    if tm == 'sunset' and not cv.flat:
        cv.fill(circle(x, y - 0.01, r * 0.7), (1.0, 0.78, 0.35), emissive=True, soft=0.03,
                opacity=0.7 * faint, outline=False, sky=True)


def _moon(cv, ctx, faint):
    x, y, r = ctx.sun_x, 0.17, 0.05
    if ctx.time == 'dusk':
        r, y = 0.04, 0.2
    cv.glow(x, y, 0.16, (0.55, 0.6, 0.8), 0.3 * faint)
    shape = circle(x, y, r)
    if ctx.crescent:
        o = r * 0.55 * ctx.light_dir
        shape = shape - circle(x - o, y - r * 0.2, r * 0.92)
    cv.fill(shape, (0.97, 0.95, 0.84), emissive=True, opacity=faint, wobble=0.3, sky=True,
            shade=lambda X, Y, d: 1.0 - 0.12 * smoothstep(0.0, 0.03, (Y - y) + 0.3 * (X - x)))


def cloud_shape(rng, x0, yb, w):
    k = int(rng.integers(4, 7))
    circles = []
    for i in range(k):
        t = (i + 0.5) / k
        r = w * (0.12 + 0.16 * np.sin(np.pi * t) * rng.uniform(0.8, 1.2))
        cx = x0 + w * t + rng.uniform(-0.03, 0.03) * w
        circles.append(circle(cx, yb - r * rng.uniform(0.35, 0.8), r))
    return union(*circles) & box(x0 - w, yb - w, x0 + 2 * w, yb)


def draw_clouds(cv, ctx):
    w, tm = ctx.weather, ctx.time
    if w in ('clear', 'fog'):
        return
    rng = cv.rng('clouds')
    base = np.asarray(CLOUD[tm], F)
    if w in OVERCAST:
        base = _mix(base, np.asarray(OVERCAST[w], F) * F(TIME_BRIGHT[tm] ** 0.7), 0.8)
    if ctx.sky_color:
        base = _mix(base, ctx.sky[1], 0.25)
    yh = ctx.horizon
    if w == 'clouds':
        n, ys, ws = int(rng.integers(3, 6)), (0.12, yh - 0.12), (0.2, 0.36)
    else:
        n, ys, ws = int(rng.integers(7, 11)), (0.04, yh * 0.55), (0.25, 0.45)
    order = np.argsort(rng.random(n))
    xs = (order + rng.uniform(0.0, 0.7, n)) / n * (cv.aspect + 0.3) - 0.25
    for i in range(n):
        cw = rng.uniform(*ws)
        yb = rng.uniform(*ys)
        sh = cloud_shape(rng, xs[i], yb, cw)
        top = yb - cw * 0.35
        dark = 0.45 if w == 'storm' else 0.35
        c = base * F(rng.uniform(0.9, 1.05) if w != 'clouds' else 1.0)
        cv.fill(sh, c, emissive=True, soft=0.004 if not cv.flat else 0.0,
                shade=lambda X, Y, d, top=top, yb=yb, dark=dark:
                    1.08 - dark * smoothstep(top, yb, Y),
                texture=0.15, depth=0.0, sky=True)
    if w == 'storm':
        _lightning(cv, ctx, rng)


def _lightning(cv, ctx, rng):
    x = ctx.a * rng.uniform(0.2, 0.8)
    y, end = 0.12, ctx.horizon + 0.06
    pts = [(x, y)]
    n = 7
    for i in range(1, n + 1):
        x += rng.uniform(-0.045, 0.045)
        pts.append((x, y + (end - y) * i / n))
    j = int(rng.integers(2, 4))
    bx, by = pts[j]
    branch = [(bx, by)]
    for i in range(3):
        bx += rng.choice((-1, 1)) * rng.uniform(0.01, 0.04) + 0.02
        by += 0.05
        branch.append((bx, by))
    for p in pts[::2]:
        cv.glow(p[0], p[1], 0.09, (0.55, 0.6, 0.9), 0.35)
    for path, rr in ((pts, 1.0), (branch, 0.6)):
        cv.fill(polyline(path, 0.013 * rr), (0.7, 0.78, 1.0), emissive=True, soft=0.008,
                opacity=0.75, outline=False, wobble=0, sky=True)
        cv.fill(polyline(path, max(0.0055 * rr, 0.7 * cv.px)), (1.0, 1.0, 0.92), emissive=True,
                outline='thin', wobble=0, sky=True)


def draw_rainbow(cv, ctx, scale=1.0):
    rng = cv.rng('rainbow')
    cx = ctx.a * rng.uniform(0.35, 0.65)
    cy = ctx.horizon + 0.1
    R = 0.5 * scale
    bw = 0.016 * scale
    for i, col in enumerate(RAINBOW):
        rc = R - (i + 0.5) * bw

        def fn(X, Y, rc=rc):
            return np.abs(np.sqrt((X - cx) ** 2 + (Y - cy) ** 2) - rc) - bw * 0.5
        sh = Shape(fn, (cx - R, cy - R, cx + R, ctx.horizon + 0.02))
        cv.fill(sh, col, emissive=True, opacity=0.8 if cv.flat else 0.6,
                soft=0.002, outline=(cv.style == 'sketch' and i in (0, 6)), wobble=0.5, sky=True)


def draw_birds(cv, ctx, scale=1.0):
    rng = cv.rng('birds')
    n = int(rng.integers(3, 8))
    bx = ctx.a * rng.uniform(0.25, 0.75)
    by = rng.uniform(0.14, max(0.18, ctx.horizon - 0.22))
    lw = max(0.0045, 0.6 * cv.px) * scale ** 0.5
    col = (0.08, 0.08, 0.1)
    for i in range(n):
        ws = rng.uniform(0.045, 0.07) * scale
        x = bx + rng.uniform(-0.2, 0.2) * scale
        y = by + rng.uniform(-0.08, 0.08) * scale
        up = rng.uniform(-0.1, 0.35)
        pts = [(x - ws, y - ws * up), (x - ws * 0.45, y - ws * 0.28), (x, y),
               (x + ws * 0.45, y - ws * 0.28), (x + ws, y - ws * up)]
        cv.fill(polyline(pts, lw), col, outline='thin', wobble=0.2)


def weather_overlay(cv, ctx):
    w = ctx.weather
    if w in ('rain', 'storm'):
        _rain(cv, ctx, heavy=(w == 'storm'))
    elif w == 'snow':
        _snow(cv, ctx)
    elif w == 'fog':
        Y = cv.ys
        band = np.exp(-((Y - ctx.horizon - 0.06) / 0.2) ** 2)
        a = 0.22 + 0.5 * band * (0.45 + 0.55 * cv.field('blotch'))
        cv.overlay(clamp(a, 0, 0.85).astype(F), np.asarray(FOG[ctx.time], F))


def _rain(cv, ctx, heavy):
    rng = cv.rng('rain')
    X, Y = cv.xs, cv.ys
    ang = rng.uniform(0.12, 0.3) * rng.choice((-1, 1))
    c, s = np.cos(ang), np.sin(ang)
    u = X * c - Y * s
    v = X * s + Y * c
    alpha = np.zeros((cv.h, cv.w), F)
    layers = ((0.026, 0.07, 0.35, 0.3), (0.04, 0.11, 0.3, 0.45))
    if heavy:
        layers = ((0.02, 0.08, 0.4, 0.32), (0.032, 0.12, 0.35, 0.5))
    half = max(0.0022, 0.45 * cv.px)
    for sp, length, duty, k in layers:
        col = np.floor(u / sp).astype(np.int32)
        off = rng.random(4096).astype(F)
        ctr = rng.uniform(0.25, 0.75, 4096).astype(F)
        idx = col % 4096
        du = np.abs(u / sp - col - ctr[idx]) * sp
        ph = v / (length / duty) + off[idx]
        on = (ph - np.floor(ph)) < duty
        a = clamp(0.5 + (half - du) / cv.px, 0, 1) * on * F(k)
        np.maximum(alpha, a, out=alpha)
    bright = 0.55 + 0.35 * min(1.0, sky_bright(ctx) * 2)
    cv.overlay(alpha, np.asarray((0.8, 0.83, 0.9), F) * F(bright), lines=0.25)


def sky_bright(ctx):
    return TIME_BRIGHT[ctx.time]


def _snow(cv, ctx):
    X, Y = cv.xs, cv.ys
    alpha = np.zeros((cv.h, cv.w), F)
    for cs, r, p, name in ((0.05, 0.0055, 0.4, 'snowA'), (0.085, 0.0085, 0.35, 'snowB')):
        rng = cv.rng(name)
        ncx, ncy = int(cv.aspect / cs) + 2, int(1 / cs) + 2
        pres = rng.random((ncy, ncx)) < p
        px, py = rng.uniform(0.15, 0.85, (2, ncy, ncx))
        ix, iy = (X / cs).astype(np.int32), (Y / cs).astype(np.int32)
        dx = X / cs - ix - px[iy, ix]
        dy = Y / cs - iy - py[iy, ix]
        dist = np.sqrt(dx * dx + dy * dy) * cs
        rr = max(r, 0.65 * cv.px)
        a = clamp(0.5 + (rr - dist) / cv.px, 0, 1) * pres[iy, ix]
        np.maximum(alpha, a.astype(F), out=alpha)
    col = (0.98, 0.98, 1.0) if ctx.time not in ('night', 'dusk') else (0.78, 0.8, 0.9)
    cv.overlay(alpha * F(0.92), np.asarray(col, F), lines=0.25 if cv.style == 'sketch' else 0)
