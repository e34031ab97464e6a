"""Object drawers: lighthouse, house, castle, tower, tree, boat, bridge,
windmill, campfire. Each stands at a ground point (x, y) with height scale s
and keeps a distinctive silhouette at 128 px. Sky objects (rainbow, birds)
live in sky.py; where objects go is decided by terrain.py."""

import numpy as np

from .canvas import (F, box, clamp, circle, ellipse, polygon, rbox, segment, smoothstep, union,
                     Shape)

# Height of each object at slot scale 1, in image heights.
SIZE = {'lighthouse': 0.5, 'house': 0.3, 'castle': 0.34, 'tower': 0.46, 'tree': 0.4,
        'boat': 0.22, 'windmill': 0.44, 'campfire': 0.2}
# Half width of each object in units of its height (keeps it inside the frame).
HALF_WIDTH = {'lighthouse': 0.16, 'house': 0.44, 'castle': 0.63, 'tower': 0.17, 'tree': 0.44,
              'boat': 0.72, 'windmill': 0.58, 'campfire': 0.32}
WHITE = np.asarray((0.96, 0.96, 0.94), F)
DARK = np.asarray((0.13, 0.11, 0.12), F)
LAMP = np.asarray((1.0, 0.9, 0.5), F)
WINDOW_LIT = np.asarray((1.0, 0.82, 0.4), F)
GLASS = np.asarray((0.55, 0.7, 0.85), F)
WOOD = np.asarray((0.45, 0.28, 0.14), F)


def _c(c):
    return np.asarray(c, F)


def cyl(cx, hw, ld, k=0.3):
    """Shading of a vertical cylinder lit from the sun's side."""
    def s(X, Y, d):
        u = clamp((X - cx) / hw, -1.2, 1.2)
        return 1.05 + 0.22 * ld * u - k * u * u
    return s


def side(cx, ld, k=0.12):
    def s(X, Y, d):
        return 1.0 + k * ld * clamp((X - cx) * 20, -1, 1)
    return s


def rim(width):
    """Darker toward the edge: rounded bodies (tree crowns, flames)."""
    def s(X, Y, d):
        return 0.78 + 0.3 * smoothstep(0.0, width, -d)
    return s


def bricks(col, bw, bh, x0, y0):
    """Stone/brick pattern for realistic styles."""
    col = _c(col)
    mort = col * F(0.72)

    def color(X, Y):
        row = np.floor((Y - y0) / bh)
        u = (X - x0) / bw + 0.5 * (row % 2)
        mx = (u - np.floor(u)) < 0.1
        my = ((Y - y0) / bh - row) < 0.14
        return np.where((mx | my)[..., None], mort, col)
    return color


def contact_shadow(cv, ctx, x, y, rx, depth):
    if cv.style in ('cartoon', 'sketch'):
        return
    k = 0.35 if ctx.directional else 0.2
    off = -ctx.light_dir * rx * (0.4 if ctx.directional else 0.0)
    cv.fill(ellipse(x + off, y, rx, rx * 0.18), (0, 0, 0), opacity=k, soft=0.012, depth=depth,
            outline=False, emissive=True)


def roof_color(col_name, col):
    if col_name in ('red', 'brown', 'orange', 'pink'):
        return _c((0.3, 0.3, 0.36))
    if col_name == 'blue':
        return _c((0.62, 0.18, 0.14))
    return _c((0.62, 0.2, 0.15)) if col_name != 'black' else _c((0.55, 0.15, 0.12))


# ---------------------------------------------------------------- objects

def lighthouse(cv, ctx, x, y, s, cname, depth):
    col = _c(ctx.rgb(cname))
    ld = ctx.light_dir
    bh, wb, wt = 0.68 * s, 0.13 * s, 0.085 * s
    contact_shadow(cv, ctx, x, y, wb * 1.6, depth)
    stripe = col if cname != 'white' else WHITE
    other = WHITE if cname != 'white' else _c((0.85, 0.85, 0.85))
    if cname == 'white':
        stripe = WHITE
    band = bh / 5.0

    def body_col(X, Y):
        k = np.floor((y - Y) / band) % 2 == 0
        return np.where(k[..., None], stripe, other)
    body = polygon([(x - wb, y + 0.01), (x + wb, y + 0.01), (x + wt, y - bh), (x - wt, y - bh)])
    cv.fill(body, body_col, shade=cyl(x, wb, ld), depth=depth, texture=0.1)
    cv.fill(box(x - 0.03 * s, y - 0.12 * s, x + 0.03 * s, y + 0.005, r=0.01 * s), DARK, depth=depth, outline='thin')
    gy = y - bh
    cv.fill(box(x - wt - 0.035 * s, gy - 0.025 * s, x + wt + 0.035 * s, gy + 0.005), DARK, depth=depth)
    ly0, ly1 = gy - 0.025 * s - 0.11 * s, gy - 0.025 * s
    lit = ctx.lights_on
    lamp = LAMP if lit else _c((0.95, 0.92, 0.7))
    cv.fill(box(x - 0.06 * s, ly0, x + 0.06 * s, ly1), lamp, emissive=lit, depth=depth * 0.5 if lit else depth)
    cv.fill(box(x - 0.006 * s, ly0, x + 0.006 * s, ly1), DARK, depth=depth, outline=False)
    roof = _c((0.62, 0.12, 0.1)) if cname in ('white', 'gray', 'black') else col * F(0.75)
    cv.fill(polygon([(x - 0.085 * s, ly0 + 0.004), (x + 0.085 * s, ly0 + 0.004), (x, ly0 - 0.1 * s)]),
            roof, shade=side(x, ld), depth=depth)
    cv.fill(circle(x, ly0 - 0.1 * s, 0.012 * s), DARK, depth=depth, outline=False)
    if lit or ctx.weather == 'fog':
        ly = (ly0 + ly1) / 2
        for sgn in (-1, 1):
            far = x + sgn * 0.7
            beam = polygon([(x, ly - 0.012 * s), (x, ly + 0.012 * s), (far, ly + 0.09), (far, ly - 0.07)])
            cv.fill(beam, (1.0, 0.95, 0.7), emissive=True, opacity=0.3, soft=0.02, outline=False, wobble=0)
        cv.glow(x, ly, 0.08 * s / 0.5, (1.0, 0.9, 0.6), 0.7)


def house(cv, ctx, x, y, s, cname, depth):
    col = _c(ctx.rgb(cname))
    ld = ctx.light_dir
    hw, bh = 0.36 * s, 0.5 * s
    contact_shadow(cv, ctx, x, y, hw * 1.3, depth)
    rh = 0.42 * s
    ry = y - bh
    rc = roof_color(cname, col)
    if ctx.snowy:
        rc = _c((0.93, 0.95, 0.99))
    cv.fill(box(x + 0.13 * s, ry - 0.36 * s, x + 0.22 * s, ry - 0.05 * s), _c((0.5, 0.3, 0.25)), depth=depth)
    cv.fill(box(x - hw, ry, x + hw, y + 0.01), col, shade=side(x, ld, 0.05), depth=depth, texture=0.12)
    cv.fill(polygon([(x - hw - 0.07 * s, ry + 0.02 * s), (x + hw + 0.07 * s, ry + 0.02 * s), (x, ry - rh)]),
            rc, shade=side(x, ld), depth=depth, texture=0.15)
    door = _c((0.38, 0.22, 0.1)) if cname != 'brown' else _c((0.2, 0.12, 0.06))
    cv.fill(box(x - 0.07 * s, y - 0.26 * s, x + 0.07 * s, y + 0.003, r=0.01 * s), door, depth=depth, outline='thin')
    lit = ctx.lights_on
    for wx in (x - 0.22 * s, x + 0.22 * s):
        win = box(wx - 0.065 * s, y - 0.38 * s, wx + 0.065 * s, y - 0.25 * s)
        cv.fill(win, WINDOW_LIT if lit else GLASS, emissive=lit, depth=depth, outline='thin')
        if lit:
            cv.glow(wx, y - 0.315 * s, 0.07 * s / 0.3, (1.0, 0.7, 0.3), 0.25)
    # gable window
    cv.fill(circle(x, ry - 0.14 * s, 0.045 * s), WINDOW_LIT if lit else GLASS, emissive=lit, depth=depth,
            outline='thin')


def _cone(x, yb, hw, h):
    return polygon([(x - hw, yb), (x + hw, yb), (x, yb - h)])


def _crenel(x0, x1, ytop, mh, mw, sp):
    """Merlons along a wall top from x0 to x1."""
    def fn(X, Y):
        u = (X - x0) % sp - sp / 2
        d = np.maximum(np.abs(u) - mw / 2, np.abs(Y - (ytop - mh / 2)) - mh / 2)
        return np.maximum(d, np.maximum(x0 - X, X - x1))
    return Shape(fn, (x0, ytop - mh, x1, ytop))


def castle(cv, ctx, x, y, s, cname, depth):
    col = _c(ctx.rgb(cname))
    ld = ctx.light_dir
    lit = ctx.lights_on
    roof = _c((0.24, 0.28, 0.55)) if cname not in ('blue', 'purple') else _c((0.66, 0.18, 0.14))
    if ctx.snowy:
        roof = roof * F(0.4) + F(0.58)
    hw, wh = 0.5 * s, 0.45 * s
    contact_shadow(cv, ctx, x, y, hw * 1.1, depth)
    tex = bricks(col, 0.07 * s, 0.045 * s, x, y) if cv.style not in ('cartoon',) else col
    # keep (behind)
    kw, kh = 0.15 * s, 0.82 * s
    cv.fill(box(x - kw, y - kh, x + kw, y), tex, shade=side(x, ld, 0.08), depth=depth, texture=0.1)
    cv.fill(_cone(x, y - kh + 0.01 * s, kw + 0.035 * s, 0.26 * s), roof, shade=side(x, ld), depth=depth)
    fy = y - kh - 0.26 * s
    cv.fill(segment(x, fy, x, fy - 0.09 * s, max(0.004 * s, 0.4 * cv.px)), DARK, depth=depth, outline=False)
    cv.fill(polygon([(x, fy - 0.09 * s), (x + 0.09 * s, fy - 0.068 * s), (x, fy - 0.046 * s)]),
            _c((0.85, 0.12, 0.1)) if cname != 'red' else _c((0.95, 0.85, 0.2)), depth=depth, outline='thin')
    # curtain wall with battlements
    sp = 0.095 * s
    wall = box(x - hw, y - wh, x + hw, y + 0.01) | _crenel(x - hw, x + hw, y - wh + 0.002, 0.06 * s, sp * 0.55, sp)
    cv.fill(wall, tex, shade=side(x, ld, 0.04), depth=depth, texture=0.1)
    # side towers
    for sgn in (-1, 1):
        tx = x + sgn * hw
        tw, th = 0.11 * s, 0.68 * s
        shade = cyl(tx, tw, ld, 0.2)
        tcol = bricks(col, 0.06 * s, 0.045 * s, tx, y) if cv.style != 'cartoon' else col
        cv.fill(box(tx - tw, y - th, tx + tw, y + 0.01), tcol, shade=shade, depth=depth, texture=0.1)
        cv.fill(_cone(tx, y - th + 0.01 * s, tw + 0.03 * s, 0.24 * s), roof, shade=side(tx, ld), depth=depth)
        win = box(tx - 0.018 * s, y - th + 0.12 * s, tx + 0.018 * s, y - th + 0.2 * s, r=0.012 * s)
        cv.fill(win, WINDOW_LIT if lit else DARK, emissive=lit, depth=depth, outline=False)
    gate = box(x - 0.09 * s, y - 0.16 * s, x + 0.09 * s, y + 0.005) | circle(x, y - 0.16 * s, 0.09 * s)
    cv.fill(gate, _c((0.18, 0.12, 0.08)), depth=depth, outline='thin')
    for wx in (x - 0.25 * s, x + 0.25 * s):
        cv.fill(box(wx - 0.02 * s, y - 0.34 * s, wx + 0.02 * s, y - 0.25 * s, r=0.015 * s),
                WINDOW_LIT if lit else DARK, emissive=lit, depth=depth, outline=False)


def tower(cv, ctx, x, y, s, cname, depth):
    col = _c(ctx.rgb(cname))
    ld = ctx.light_dir
    lit = ctx.lights_on
    roof = _c((0.24, 0.28, 0.55)) if cname not in ('blue', 'purple') else _c((0.66, 0.18, 0.14))
    if ctx.snowy:
        roof = roof * F(0.4) + F(0.58)
    wb, wt, th = 0.12 * s, 0.1 * s, 0.7 * s
    contact_shadow(cv, ctx, x, y, wb * 1.5, depth)
    tex = bricks(col, 0.055 * s, 0.04 * s, x, y) if cv.style != 'cartoon' else col
    cv.fill(polygon([(x - wb, y + 0.01), (x + wb, y + 0.01), (x + wt, y - th), (x - wt, y - th)]), tex,
            shade=cyl(x, wb, ld), depth=depth, texture=0.1)
    gw = wt + 0.03 * s
    sp = 0.06 * s
    gal = box(x - gw, y - th - 0.05 * s, x + gw, y - th + 0.02 * s) | \
        _crenel(x - gw, x + gw, y - th - 0.05 * s, 0.04 * s, sp * 0.5, sp)
    cv.fill(gal, tex, shade=cyl(x, gw, ld), depth=depth)
    cv.fill(_cone(x, y - th - 0.06 * s, wt + 0.02 * s, 0.26 * s), roof, shade=side(x, ld), depth=depth)
    for wy in (y - 0.3 * s, y - 0.52 * s):
        win = box(x - 0.025 * s, wy - 0.05 * s, x + 0.025 * s, wy + 0.05 * s) | circle(x, wy - 0.05 * s, 0.025 * s)
        cv.fill(win, WINDOW_LIT if lit else DARK, emissive=lit, depth=depth, outline='thin')
    door = box(x - 0.04 * s, y - 0.11 * s, x + 0.04 * s, y + 0.005) | circle(x, y - 0.11 * s, 0.04 * s)
    cv.fill(door, _c((0.3, 0.18, 0.08)), depth=depth, outline='thin')


def tree(cv, ctx, x, y, s, cname, depth):
    col = _c(ctx.rgb(cname))
    ld = ctx.light_dir
    rng = cv.rng(f'tree{x:.4f}{y:.4f}')
    trunk = WOOD if cname != 'brown' else _c((0.28, 0.17, 0.08))
    contact_shadow(cv, ctx, x, y, 0.22 * s, depth)
    cv.fill(polygon([(x - 0.05 * s, y + 0.01), (x + 0.05 * s, y + 0.01), (x + 0.028 * s, y - 0.5 * s),
                     (x - 0.028 * s, y - 0.5 * s)]), trunk, shade=cyl(x, 0.05 * s, ld, 0.1), depth=depth, texture=0.3)
    cv.fill(segment(x, y - 0.38 * s, x + 0.12 * s, y - 0.52 * s, 0.018 * s), trunk, depth=depth, outline='thin')
    cy = y - 0.64 * s
    parts = [(0, 0, 0.25), (-0.19, 0.09, 0.17), (0.19, 0.08, 0.18), (-0.09, -0.16, 0.17), (0.1, -0.15, 0.18)]
    crown = union(*[circle(x + dx * s + rng.uniform(-0.02, 0.02) * s, cy + dy * s + rng.uniform(-0.02, 0.02) * s,
                           r * s * rng.uniform(0.92, 1.08)) for dx, dy, r in parts])
    R = 0.36 * s

    def shade(X, Y, d):
        u = clamp((X - x) / R, -1, 1)
        v = clamp((Y - cy) / R, -1, 1)
        return 1.05 + 0.18 * ld * u - 0.125 * (v + 1)
    leaf = col
    if ctx.snowy:
        sn = _c((0.95, 0.96, 1.0))

        def leaf(X, Y):
            top = (Y - cy + 0.2 * s) < -0.05 * s + 0.03 * s * np.sin(X * 120)
            return np.where(top[..., None], sn, col)
    cv.fill(crown, leaf, shade=shade, depth=depth, texture=0.45)


def boat(cv, ctx, x, y, s, cname, depth):
    col = _c(ctx.rgb(cname))
    ld = ctx.light_dir
    sail = _c((0.97, 0.95, 0.88)) if cname != 'white' else _c((0.95, 0.82, 0.55))
    trim = WHITE if cname not in ('white', 'yellow', 'pink') else _c((0.2, 0.3, 0.6))
    hull = polygon([(x - 0.7 * s, y - 0.24 * s), (x + 0.7 * s, y - 0.27 * s), (x + 0.46 * s, y + 0.02 * s),
                    (x - 0.46 * s, y + 0.02 * s)])
    mast = box(x - 0.015 * s, y - 1.0 * s, x + 0.015 * s, y - 0.22 * s)
    main = polygon([(x + 0.03 * s, y - 0.97 * s), (x + 0.03 * s, y - 0.31 * s), (x + 0.52 * s, y - 0.31 * s)])
    jib = polygon([(x - 0.03 * s, y - 0.88 * s), (x - 0.03 * s, y - 0.32 * s), (x - 0.44 * s, y - 0.32 * s)])
    # reflection and wake first
    if cv.style != 'sketch':
        for shp, c in ((hull, col), (main | jib, sail)):
            cv.fill(shp.mirror_y(y + 0.02 * s), c * F(0.55), opacity=0.2, depth=depth, outline=False, soft=0.006)
    cv.fill(ellipse(x, y + 0.02 * s, 0.62 * s, 0.025 * s), (0.9, 0.95, 1.0), opacity=0.5, depth=depth,
            outline=False, soft=0.004)

    def hull_col(X, Y):
        band = (Y < y - 0.17 * s)
        return np.where(band[..., None], trim, col)
    cv.fill(mast, WOOD, depth=depth, outline='thin')
    cv.fill(main, sail, shade=lambda X, Y, d: 1.0 - 0.15 * smoothstep(y - 0.9 * s, y - 0.3 * s, Y) * ld,
            depth=depth)
    cv.fill(jib, sail, shade=lambda X, Y, d: 0.92, depth=depth)
    cv.fill(hull, hull_col, shade=lambda X, Y, d: 1.05 - 0.3 * smoothstep(y - 0.2 * s, y + 0.02 * s, Y),
            depth=depth, texture=0.1)
    if ctx.lights_on:
        cv.glow(x + 0.03 * s, y - 1.0 * s, 0.03, (1.0, 0.85, 0.5), 0.5)


def bridge(cv, ctx, x, y, width, s, cname, depth):
    """Arch bridge centred at x spanning `width`, its feet in water at y."""
    col = _c(ctx.rgb(cname))
    n = max(1, int(round(width / 0.22)))
    hb = float(clamp(0.05 + 0.06 * width, 0.07, 0.12))
    x0, x1 = x - width / 2, x + width / 2
    deck_t = y - hb
    span = width / n
    r = span * 0.4
    arches = union(*[ellipse(x0 + span * (i + 0.5), y + 0.005, r, min(r, hb - 0.03)) for i in range(n)])
    body = box(x0, deck_t, x1, y + 0.01) - arches
    par = box(x0 - 0.01, deck_t - 0.02, x1 + 0.01, deck_t + 0.002)
    tex = bricks(col, 0.04, 0.022, x0, y) if cv.style != 'cartoon' else col
    if cv.style != 'sketch':
        cv.fill(body.mirror_y(y + 0.01), col * F(0.6), opacity=0.35, depth=depth, outline=False, soft=0.004)
    cv.fill(body, tex, shade=lambda X, Y, d: 1.0 - 0.2 * smoothstep(deck_t, y, Y) * (1 - smoothstep(-0.02, 0, d)), depth=depth, texture=0.15)
    cv.fill(par, col * F(0.85), depth=depth)
    # posts along the parapet
    sp = 0.045

    def posts(X, Y):
        u = (X - x0) % sp - sp / 2
        dd = np.maximum(np.abs(u) - 0.005, np.abs(Y - (deck_t - 0.032)) - 0.014)
        return np.maximum(dd, np.maximum(x0 - X, X - x1))
    cv.fill(Shape(posts, (x0, deck_t - 0.05, x1, deck_t)), col * F(0.8), depth=depth, outline='thin')
    cv.fill(box(x0 - 0.01, deck_t - 0.052, x1 + 0.01, deck_t - 0.042), col * F(0.8), depth=depth, outline='thin')
    if ctx.lights_on:
        for i in range(n + 1):
            lx = x0 + span * i
            cv.fill(segment(lx, deck_t - 0.02, lx, deck_t - 0.08, 0.003), DARK, depth=depth, outline=False)
            cv.fill(circle(lx, deck_t - 0.085, 0.007), LAMP, emissive=True, depth=depth * 0.5)
            cv.glow(lx, deck_t - 0.085, 0.03, (1.0, 0.8, 0.4), 0.4)


def windmill(cv, ctx, x, y, s, cname, depth):
    col = _c(ctx.rgb(cname))
    ld = ctx.light_dir
    lit = ctx.lights_on
    wb, wt, th = 0.15 * s, 0.085 * s, 0.6 * s
    contact_shadow(cv, ctx, x, y, wb * 1.4, depth)
    cv.fill(polygon([(x - wb, y + 0.01), (x + wb, y + 0.01), (x + wt, y - th), (x - wt, y - th)]), col,
            shade=cyl(x, wb, ld, 0.2), depth=depth, texture=0.12)
    cap = _c((0.35, 0.22, 0.14)) if cname not in ('brown', 'black') else _c((0.62, 0.2, 0.15))
    cv.fill(ellipse(x, y - th, wt + 0.03 * s, 0.09 * s) & box(x - 1, y - 1, x + 1, y - th + 0.005), cap,
            shade=side(x, ld), depth=depth)
    cv.fill(box(x - 0.035 * s, y - 0.13 * s, x + 0.035 * s, y + 0.004) | circle(x, y - 0.13 * s, 0.035 * s),
            _c((0.3, 0.18, 0.08)), depth=depth, outline='thin')
    cv.fill(circle(x, y - 0.38 * s, 0.03 * s), WINDOW_LIT if lit else DARK, emissive=lit, depth=depth, outline='thin')
    hx, hy = x, y - th + 0.01 * s
    ang0 = cv.rng(f'mill{x:.4f}').uniform(0, np.pi / 2)
    blade = _c((0.93, 0.9, 0.82)) if cname != 'white' else _c((0.75, 0.55, 0.35))
    frame = _c((0.3, 0.2, 0.12))
    L = 0.52 * s
    for k in range(4):
        a = ang0 + k * np.pi / 2
        c, sn = np.cos(a), np.sin(a)
        # sail panel offset to one side of the spar
        px, py = -sn * 0.045 * s, c * 0.045 * s
        mx, my = hx + c * (0.1 * s + L) / 2 + px, hy + sn * (0.1 * s + L) / 2 + py
        panel = rbox(mx, my, (L - 0.1 * s) / 2, 0.045 * s, a)

        def lattice(X, Y, a=a, c=c, sn=sn):
            u = (X - hx) * c + (Y - hy) * sn
            v = -(X - hx) * sn + (Y - hy) * c
            g = ((u / (0.07 * s)) % 1.0 < 0.18) | (np.abs(v - 0.045 * s) < 0.012 * s)
            return np.where(g[..., None], frame, blade)
        cv.fill(panel, lattice if cv.h >= 96 else blade, depth=depth, outline='thin')
        cv.fill(segment(hx, hy, hx + c * (L + 0.02 * s), hy + sn * (L + 0.02 * s), max(0.012 * s, 0.5 * cv.px)),
                frame, depth=depth, outline='thin')
    cv.fill(circle(hx, hy, 0.035 * s), frame, depth=depth)


def campfire(cv, ctx, x, y, s, cname, depth):
    night = ctx.time in ('night', 'dusk') or ctx.weather == 'storm'
    cv.glow(x, y - 0.25 * s, 0.55 * s, (1.0, 0.45, 0.12), 0.8 if night else 0.3)
    stones = _c((0.45, 0.43, 0.42))
    for i in range(6):
        sx = x + (i - 2.5) * 0.1 * s
        cv.fill(ellipse(sx, y - 0.005, 0.055 * s, 0.035 * s), stones, depth=depth, outline='thin',
                shade=lambda X, Y, d: 0.85 + 0.3 * smoothstep(0.0, 0.02 * s, -d))
    for sgn in (-1, 1):
        cv.fill(rbox(x, y - 0.06 * s, 0.28 * s, 0.04 * s, sgn * 0.35), WOOD,
                shade=lambda X, Y, d: 0.8 + 0.3 * smoothstep(0, 0.03 * s, -d), depth=depth, texture=0.3)
    rng = cv.rng(f'fire{x:.4f}')
    ph = rng.uniform(0, 6.28)

    def flame(h, w, x_off):
        y0 = y - 0.05 * s

        def fn(X, Y):
            t = (y0 - Y) / h
            tc = clamp(t, 0, 1)
            sway = 0.05 * s * np.sin(tc * 5 + ph) * tc
            half = w * np.sqrt(tc) * (1 - tc) ** 0.8 * 1.9
            return np.maximum(np.abs(X - x - x_off - sway) - half, np.maximum(-t * h, (t - 1) * h) * 0.8)
        return Shape(fn, (x - w * 1.5, y0 - h, x + w * 1.5, y0))
    cv.fill(flame(0.78 * s, 0.2 * s, 0.0), (1.0, 0.35, 0.05), emissive=True, depth=depth, wobble=0.5)
    cv.fill(flame(0.55 * s, 0.14 * s, 0.01 * s), (1.0, 0.65, 0.12), emissive=True, depth=depth, outline='thin',
            wobble=0.3)
    cv.fill(flame(0.33 * s, 0.08 * s, 0.0), (1.0, 0.93, 0.55), emissive=True, depth=depth, outline=False,
            wobble=0.2)
    for i in range(5):
        sx, sy = x + rng.uniform(-0.15, 0.15) * s, y - rng.uniform(0.8, 1.2) * s
        cv.fill(circle(sx, sy, max(0.008 * s, 0.5 * cv.px)), (1.0, 0.7, 0.3), emissive=True, outline=False)


DRAW = {'lighthouse': lighthouse, 'house': house, 'castle': castle, 'tower': tower, 'tree': tree,
        'boat': boat, 'windmill': windmill, 'campfire': campfire}
