"""Raster core: signed-distance shapes evaluated on pixel windows of a float
canvas, and the per-style rules for filling, outlining and finishing them.
Knows nothing about scenes; coordinates are in image heights (x in [0, W/H],
y in [0, 1], y down), so a scene looks the same at every resolution."""

import zlib

import numpy as np

F = np.float32
STYLES = ('realistic', 'watercolor', 'cartoon', 'bw', 'sketch')


# ---------------------------------------------------------------- shapes

class Shape:
    """A signed distance function fn(X, Y) (negative inside) and a bounding
    box (x0, y0, x1, y1) outside which it is known to be positive."""
    __slots__ = ('fn', 'bbox')

    def __init__(self, fn, bbox):
        self.fn = fn
        self.bbox = bbox

    def __or__(self, o):
        a, b = self.fn, o.fn
        return Shape(lambda X, Y: np.minimum(a(X, Y), b(X, Y)), _bunion(self.bbox, o.bbox))

    def __and__(self, o):
        a, b = self.fn, o.fn
        return Shape(lambda X, Y: np.maximum(a(X, Y), b(X, Y)), _binter(self.bbox, o.bbox))

    def __sub__(self, o):
        a, b = self.fn, o.fn
        return Shape(lambda X, Y: np.maximum(a(X, Y), -b(X, Y)), self.bbox)

    def grow(self, r):
        a = self.fn
        x0, y0, x1, y1 = self.bbox
        return Shape(lambda X, Y: a(X, Y) - r, (x0 - r, y0 - r, x1 + r, y1 + r))

    def mirror_y(self, y0):
        """Reflection about the horizontal line y = y0 (water reflections)."""
        a = self.fn
        x0, b0, x1, b1 = self.bbox
        return Shape(lambda X, Y: a(X, 2 * y0 - Y), (x0, 2 * y0 - b1, x1, 2 * y0 - b0))


def _bunion(a, b):
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def _binter(a, b):
    return (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))


def union(*shapes):
    out = shapes[0]
    for s in shapes[1:]:
        out = out | s
    return out


def circle(cx, cy, r):
    return Shape(lambda X, Y: np.sqrt((X - cx) ** 2 + (Y - cy) ** 2) - r,
                 (cx - r, cy - r, cx + r, cy + r))


def ellipse(cx, cy, rx, ry):
    """Approximate ellipse distance (exact on the axes; fine for antialiasing)."""
    def fn(X, Y):
        px, py = (X - cx) / rx, (Y - cy) / ry
        k0 = np.sqrt(px * px + py * py)
        k1 = np.sqrt((px / rx) ** 2 + (py / ry) ** 2)
        return k0 * (k0 - 1.0) / np.maximum(k1, 1e-9)
    return Shape(fn, (cx - rx, cy - ry, cx + rx, cy + ry))


def box(x0, y0, x1, y1, r=0.0):
    cx, cy, hx, hy = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2

    def fn(X, Y):
        qx = np.abs(X - cx) - hx + r
        qy = np.abs(Y - cy) - hy + r
        out = np.sqrt(np.maximum(qx, 0) ** 2 + np.maximum(qy, 0) ** 2)
        return out + np.minimum(np.maximum(qx, qy), 0) - r
    return Shape(fn, (x0, y0, x1, y1))


def rbox(cx, cy, hl, hw, angle):
    """Box of half-length hl along `angle` (radians) and half-width hw."""
    c, s = np.cos(angle), np.sin(angle)

    def fn(X, Y):
        u = (X - cx) * c + (Y - cy) * s
        v = -(X - cx) * s + (Y - cy) * c
        qx, qy = np.abs(u) - hl, np.abs(v) - hw
        return np.sqrt(np.maximum(qx, 0) ** 2 + np.maximum(qy, 0) ** 2) + np.minimum(np.maximum(qx, qy), 0)
    e = abs(hl * c) + abs(hw * s), abs(hl * s) + abs(hw * c)
    return Shape(fn, (cx - e[0], cy - e[1], cx + e[0], cy + e[1]))


def segment(ax, ay, bx, by, r):
    dx, dy = bx - ax, by - ay
    dd = max(dx * dx + dy * dy, 1e-12)

    def fn(X, Y):
        px, py = X - ax, Y - ay
        h = clamp((px * dx + py * dy) / dd, 0.0, 1.0)
        return np.sqrt((px - dx * h) ** 2 + (py - dy * h) ** 2) - r
    return Shape(fn, (min(ax, bx) - r, min(ay, by) - r, max(ax, bx) + r, max(ay, by) + r))


def polyline(pts, r):
    return union(*[segment(*pts[i], *pts[i + 1], r) for i in range(len(pts) - 1)])


def polygon(pts):
    """Exact signed distance to a simple polygon (Inigo Quilez's winding test)."""
    P = [(float(x), float(y)) for x, y in pts]
    xs, ys = [p[0] for p in P], [p[1] for p in P]

    def fn(X, Y):
        d = (X - P[0][0]) ** 2 + (Y - P[0][1]) ** 2
        sgn = None
        n = len(P)
        for i in range(n):
            vix, viy = P[i]
            vjx, vjy = P[i - 1]
            ex, ey = vjx - vix, vjy - viy
            wx, wy = X - vix, Y - viy
            h = clamp((wx * ex + wy * ey) / max(ex * ex + ey * ey, 1e-12), 0.0, 1.0)
            d = np.minimum(d, (wx - ex * h) ** 2 + (wy - ey * h) ** 2)
            c1 = Y >= viy
            c2 = Y < vjy
            c3 = (ex * wy) > (ey * wx)
            flip = (c1 & c2 & c3) | (~c1 & ~c2 & ~c3)
            sgn = flip if sgn is None else (sgn ^ flip)
        return np.where(sgn, -1.0, 1.0) * np.sqrt(d)
    return Shape(fn, (min(xs), min(ys), max(xs), max(ys)))


def below(f, x0=None, x1=None, y1=1.01, ymin=None):
    """Region under the curve y = f(x) (y grows downward) down to y1, limited
    to x in [x0, x1] when given. f maps an array of x to an array of y."""
    bounded = x0 is not None
    if ymin is None:
        xs = np.linspace(x0, x1, 257) if bounded else np.linspace(-0.1, 3.0, 513)
        ymin = float(np.min(f(xs))) - 0.01
    if not bounded:
        x0, x1 = -10.0, 10.0
    eps = 1e-3

    def fn(X, Y):
        fx = f(X)
        slope = (f(X + eps) - fx) / eps
        d = (fx - Y) / np.sqrt(1.0 + slope * slope)
        d = np.maximum(d, Y - y1)
        if bounded:
            d = np.maximum(d, np.maximum(x0 - X, X - x1))
        return d
    return Shape(fn, (x0, ymin, x1, y1))


# ---------------------------------------------------------------- noise

def value_noise(rng, h, w, cells, aspect=None):
    """Smooth value noise in [0, 1] on an h x w grid, `cells` lattice cells
    per image height: the same pattern at every resolution."""
    aspect = w / h if aspect is None else aspect
    ny, nx = int(np.ceil(cells)) + 2, int(np.ceil(cells * aspect)) + 2
    lat = rng.random((ny, nx)).astype(F)
    ys = (np.arange(h, dtype=F) + 0.5) / h * cells
    xs = (np.arange(w, dtype=F) + 0.5) / h * cells
    iy, ix = ys.astype(np.int32), xs.astype(np.int32)
    fy, fx = ys - iy, xs - ix
    fy = fy * fy * (3 - 2 * fy)
    fx = fx * fx * (3 - 2 * fx)
    rows = lat[:, ix] * (1 - fx) + lat[:, ix + 1] * fx
    return rows[iy] * (1 - fy)[:, None] + rows[iy + 1] * fy[:, None]


def fbm(rng, h, w, cells, octaves=3, gain=0.5):
    out = np.zeros((h, w), F)
    amp, tot = 1.0, 0.0
    for _ in range(octaves):
        out += amp * value_noise(rng, h, w, cells)
        tot += amp
        amp *= gain
        cells *= 2.0
    return out / tot


def box_blur(img, r):
    """Separable box blur of radius r pixels (edge-clamped), any trailing dims."""
    if r <= 0:
        return img
    for axis in (0, 1):
        pad = [(0, 0)] * img.ndim
        pad[axis] = (r + 1, r)
        c = np.cumsum(np.pad(img, pad, mode='edge'), axis=axis, dtype=F)
        n = img.shape[axis]
        hi = np.take(c, np.arange(2 * r + 1, 2 * r + 1 + n), axis=axis)
        lo = np.take(c, np.arange(0, n), axis=axis)
        img = (hi - lo) / (2 * r + 1)
    return img


def clamp(x, lo, hi):
    """np.clip without its per-call overhead (which dominates on small windows)."""
    return np.minimum(np.maximum(x, lo), hi)


def soften(img):
    """[1 2 1]/4 blur along both axes (less than a 3-pixel box)."""
    p = np.pad(img, ((1, 1), (1, 1), (0, 0)), mode='edge')
    img = (p[:-2] + 2 * p[1:-1] + p[2:]) * F(0.25)
    return (img[:, :-2] + 2 * img[:, 1:-1] + img[:, 2:]) * F(0.25)


def smoothstep(e0, e1, x):
    t = clamp((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def lum(rgb):
    return rgb[..., 0] * F(0.299) + rgb[..., 1] * F(0.587) + rgb[..., 2] * F(0.114)


# ---------------------------------------------------------------- canvas

class Canvas:
    """Float RGB image plus the style state needed to fill shapes.

    light: per-channel multiplier for lit (non-emissive) colours, the time of
    day and weather. haze_color/haze_k: fog or aerial perspective, applied by
    the `depth` (0 near .. 1 horizon) a fill is given."""

    def __init__(self, h, w, style, seed, light=(1, 1, 1), haze_color=(1, 1, 1),
                 haze_k=0.0, haze_pow=2.0):
        assert style in STYLES, style
        self.h, self.w, self.style, self.seed = int(h), int(w), style, int(seed)
        self.aspect = self.w / self.h
        self.px = 1.0 / self.h
        self.xs = ((np.arange(self.w, dtype=F) + 0.5) / self.h)[None, :]
        self.ys = ((np.arange(self.h, dtype=F) + 0.5) / self.h)[:, None]
        self.rgb = np.zeros((self.h, self.w, 3), F)
        self.light = np.asarray(light, F)
        self.haze_color = np.asarray(haze_color, F)
        self.haze_k, self.haze_pow = float(haze_k), float(haze_pow)
        self.flat = style == 'cartoon'
        self._fields = {}
        # Outline buffer: what lines a later fill hides is erased by it.
        self.lines = None if style in ('realistic', 'bw') else np.zeros((self.h, self.w), F)
        self.line_w = {'cartoon': 0.0095, 'sketch': 0.0065, 'watercolor': 0.005}.get(style, 0.0)
        self.line_w = max(self.line_w, 1.1 * self.px)
        self.line_k = {'cartoon': 1.0, 'sketch': 0.9, 'watercolor': 0.35}.get(style, 0.0)
        # Sketches leave the sky mostly bare: remember what is not sky.
        self.cover = np.zeros((self.h, self.w), F) if style == 'sketch' else None
        # Optional object mask (track_objects): the visible coverage of what is
        # drawn while `tagging` is on; untagged fills in front hide it again.
        self.obj_mask = None
        self.tagging = False

    def track_objects(self):
        """Start recording the object mask (before anything is drawn)."""
        self.obj_mask = np.zeros((self.h, self.w), F)

    # -- deterministic randomness, independent of drawing order
    def rng(self, name):
        return np.random.default_rng([self.seed & 0xFFFFFFFFFFFFFFFF, 0xD12A, zlib.crc32(name.encode())])

    def field(self, name):
        """Cached full-frame noise fields used by the styles."""
        f = self._fields.get(name)
        if f is None:
            r, h, w = self.rng('field:' + name), self.h, self.w
            if name == 'wobble':       # zero-mean, for watercolor edges
                f = (fbm(r, h, w, 9.0, 3) - 0.5) * 2.0
            elif name == 'tex':        # surface texture in [0, 1]
                f = fbm(r, h, w, 28.0, 3)
            elif name == 'grain':      # per-pixel grain in [0, 1]
                f = r.random((h, w), dtype=F)
            elif name == 'blotch':     # large watercolor pigment pools
                f = fbm(r, h, w, 5.0, 3)
            elif name == 'pencil':     # pencil pressure
                f = fbm(r, h, w, 14.0, 2)
            else:
                raise KeyError(name)
            self._fields[name] = f
        return f

    def haze(self, depth):
        if self.haze_k <= 0 or depth <= 0:
            return 0.0
        return min(0.97, self.haze_k * depth ** self.haze_pow)

    def _window(self, bbox, pad):
        x0, y0, x1, y1 = bbox
        j0 = max(0, int(np.floor((x0 - pad) * self.h)))
        j1 = min(self.w, int(np.ceil((x1 + pad) * self.h)) + 1)
        i0 = max(0, int(np.floor((y0 - pad) * self.h)))
        i1 = min(self.h, int(np.ceil((y1 + pad) * self.h)) + 1)
        if j1 <= j0 or i1 <= i0:
            return None
        return i0, i1, j0, j1

    def fill(self, shape, color, shade=None, depth=0.0, outline=True,
             emissive=False, soft=0.0, opacity=1.0, texture=0.0, wobble=1.0,
             shade_k=1.0, sky=False):
        """Composite `shape` filled with `color`: an RGB triple or a function
        (X, Y) -> (..., 3). `shade` is a lighting multiplier, a function
        (X, Y, d) -> (...), that each style renders its own way (smooth,
        cel-banded, softened). Emissive colours ignore the canvas light.
        sky=True marks sky elements (sketches hatch them lightly). Returns
        (coverage, window) or None when nothing was drawn."""
        st = self.style
        pad = self.line_w + 3 * self.px + soft + (0.012 if st == 'watercolor' else 0)
        win = self._window(shape.bbox, pad)
        if win is None:
            return None
        i0, i1, j0, j1 = win
        X, Y = self.xs[:, j0:j1], self.ys[i0:i1]
        hh, ww = i1 - i0, j1 - j0
        d = np.broadcast_to(shape.fn(X, Y), (hh, ww)).astype(F, copy=False)
        dp = d
        ew = self.px + soft
        if st == 'watercolor' and wobble:
            dp = d + self.field('wobble')[i0:i1, j0:j1] * F(0.0045 * wobble)
            ew = 1.6 * self.px + soft
        a = clamp(0.5 - dp / F(ew), 0.0, 1.0)
        if opacity != 1.0:
            a = a * F(opacity)
        if not a.any():
            return None
        col = color(X, Y) if callable(color) else np.asarray(color, F)
        if shade is not None:
            s = shade(X, Y, d)
            if st == 'cartoon':
                s = np.where(s < 0.9, F(0.8), F(1.0))
            elif st == 'watercolor':
                s = 1.0 + (s - 1.0) * 0.6
            if shade_k != 1.0:
                s = 1.0 + (s - 1.0) * shade_k
            col = col * np.asarray(s, F)[..., None]
        if texture and st not in ('cartoon', 'watercolor'):
            t = self.field('tex')[i0:i1, j0:j1]
            col = col * (1.0 + F(texture) * (t - 0.5))[..., None]
        if not emissive:
            col = col * self.light
        hz = self.haze(depth) * (0.5 if emissive else 1.0)   # lights shine through haze
        if hz:
            col = col + (self.haze_color - col) * F(hz)
        if st == 'watercolor':
            # uneven pigment load, and pigment pooling at the edge of a wash
            load = 0.8 + 0.28 * self.field('blotch')[i0:i1, j0:j1]
            col = 1.0 - (1.0 - col) * load[..., None]
            edge = np.exp(np.minimum(dp, 0) / F(0.005))
            col = col * (1.0 - 0.35 * edge)[..., None]
            # paint bleeding past the drawn edge, lighter
            bleed = clamp(0.5 - (dp - 0.004) / F(0.012), 0.0, 1.0) * F(0.35 * opacity)
            a = np.maximum(a * F(0.94), bleed)
        col = np.broadcast_to(np.asarray(col, F), (hh, ww, 3))
        rgb = self.rgb[i0:i1, j0:j1]
        rgb += (col - rgb) * a[..., None]
        if self.cover is not None and not sky:
            C = self.cover[i0:i1, j0:j1]
            np.maximum(C, a, out=C)
        if self.obj_mask is not None:
            M = self.obj_mask[i0:i1, j0:j1]
            if self.tagging:
                np.maximum(M, a, out=M)
            else:
                M *= 1.0 - a
        if self.lines is not None:
            L = self.lines[i0:i1, j0:j1]
            L *= 1.0 - a
            if outline:
                lw = self.line_w * (0.6 if outline == 'thin' else 1.0)
                ring = clamp(0.5 + (F(lw / 2) - np.abs(d)) / F(self.px), 0.0, 1.0)
                if st == 'sketch':
                    ring = ring * (0.55 + 0.6 * self.field('pencil')[i0:i1, j0:j1])
                np.maximum(L, ring * F(self.line_k), out=L)
        return a, win

    def glow(self, cx, cy, r, color, strength=1.0):
        """Additive light: a Gaussian halo of radius r."""
        win = self._window((cx - 2.5 * r, cy - 2.5 * r, cx + 2.5 * r, cy + 2.5 * r), 0)
        if win is None:
            return
        i0, i1, j0, j1 = win
        X, Y = self.xs[:, j0:j1], self.ys[i0:i1]
        g = np.exp(-((X - cx) ** 2 + (Y - cy) ** 2) / F(r * r)) * F(strength)
        if self.flat:
            g = np.where(g > 0.3 * strength, F(0.25 * strength), g * 0.2)
        self.rgb[i0:i1, j0:j1] += g[..., None] * np.asarray(color, F)

    def overlay(self, alpha, color, lines=0.0):
        """Full-frame composite (weather): alpha (h, w), colour triple or field."""
        self.rgb += (np.asarray(color, F) - self.rgb) * alpha[..., None]
        if self.lines is not None and lines:
            np.maximum(self.lines, alpha * F(lines), out=self.lines)

    # -- styles
    def finish(self):
        """Applies the style's whole-image treatment; returns uint8 H x W x 3."""
        st, rgb = self.style, self.rgb
        X, Y = self.xs, self.ys
        cx, cy = self.aspect / 2, 0.5
        r2 = ((X - cx) ** 2 + (Y - cy) ** 2) / (cx * cx + cy * cy)
        if st == 'realistic':
            rgb = rgb * (1.0 - 0.22 * r2)[..., None]
            rgb = rgb + (self.field('grain') - 0.5)[..., None] * F(0.025)
        elif st == 'cartoon':
            L = self.lines[..., None]
            rgb = rgb * (1 - L) + np.asarray((0.09, 0.07, 0.11), F) * L
        elif st == 'watercolor':
            rgb = soften(rgb) if self.h < 200 else box_blur(rgb, 1)
            g = self.field('grain')
            paper = np.asarray((0.98, 0.965, 0.93), F)
            # granulation: pigment settles in the paper's pits, more where dark
            gr = soften(g[..., None])[..., 0]
            dark = 1.0 - lum(rgb)
            rgb = rgb * (1.0 - (0.55 * (gr - 0.5) * (0.3 + dark)))[..., None]
            rgb = rgb * (1.0 - 0.3 * self.lines)[..., None]
            # unpainted margins with a ragged edge
            m = np.minimum(np.minimum(X, self.aspect - X), np.minimum(Y, 1 - Y))
            m = m + (self.field('wobble') * 0.02)
            keep = smoothstep(0.01, 0.045, m)[..., None]
            rgb = paper + (rgb - paper) * keep
            rgb = rgb * (0.97 + 0.03 * self.field('tex'))[..., None]
        elif st == 'bw':
            l = 0.03 + 0.97 * clamp(lum(rgb), 0, 1) ** 0.85        # lift the shadows a little
            l = smoothstep(-0.05, 1.05, l) * 0.7 + l * 0.3        # contrast S-curve
            l = l * (1.0 - 0.25 * r2) + (self.field('grain') - 0.5) * 0.05
            rgb = np.repeat(l[..., None], 3, axis=2)
        elif st == 'sketch':
            rgb = self._sketch(rgb)
        return clamp(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)

    def _sketch(self, rgb):
        X, Y = self.xs, self.ys
        tone = lum(box_blur(rgb, max(1, int(round(0.006 * self.h)))))
        tone = clamp(tone, 0, 1) ** 0.9
        # half auto-levels: a dark scene stays darker, but keeps its contrast
        lo, hi = np.percentile(tone[::2, ::2], (3, 97))
        tone = 0.5 * tone + 0.5 * clamp((tone - lo) / max(hi - lo, 0.05), 0, 1)
        bare = 1.0 - self.cover
        tone = tone + (1.0 - tone) * bare * 0.5 * tone   # day sky: lighter hatching
        jit = self.field('wobble') * 0.25
        sp = max(0.024, 3.0 * self.px)                         # hatch spacing
        half = max(0.0032, 0.5 * self.px)
        dark = 0.25 * (1.0 - tone)                              # soft graphite shading
        keep = 1.0 - dark
        for ang, thr, k in ((0.8, 0.7, 0.42), (-0.8, 0.48, 0.45), (0.12, 0.3, 0.5), (1.35, 0.13, 0.5)):
            u = (X * np.cos(ang) + Y * np.sin(ang)) / sp + jit
            ph = np.abs(u - np.floor(u) - 0.5) * sp
            line = clamp(0.5 + (half - ph) / self.px, 0, 1)
            cov = smoothstep(thr, thr - 0.12, tone)
            keep = keep * (1.0 - k * line * cov * (0.7 + 0.5 * self.field('pencil')))
        keep = keep * (1.0 - 0.85 * self.lines)
        paper = np.asarray((0.97, 0.96, 0.92), F)
        graphite = np.asarray((0.16, 0.16, 0.19), F)
        k = keep[..., None]
        out = graphite + (paper - graphite) * k
        return out * (0.975 + 0.05 * self.field('tex'))[..., None]
