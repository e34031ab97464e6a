"""Captions: compositional English for a scene dict, with varied phrasing so a
text encoder learns the words rather than one template, and the inverse
parser used by tests and evaluation. Not the vocabulary itself (vocab.py)."""

import re

import numpy as np

from . import vocab

ARTICLE = {k: ('an' if k[0] in 'aeiou' else 'a') for k in vocab.OBJECTS + vocab.COLORS}
NOUN = {'birds': 'birds', 'rainbow': 'rainbow'}

# Where a standing object is, per terrain.
LAND_AT = {
    'sea': ('by the sea', 'on the coast', 'on a cliff by the sea'),
    'lake': ('by a lake', 'on the shore of a lake', 'beside a lake'),
    'river': ('by a river', 'on the bank of a river', 'beside a river'),
    'island': ('on an island', 'on a small island'),
    'hills': ('on a hill', 'in the hills', 'on a grassy hill'),
    'mountains': ('in the mountains', 'below the mountains'),
    'volcano': ('near a volcano', 'by a volcano', 'in front of a volcano'),
    'desert': ('in the desert', 'in a sandy desert'),
    'forest': ('in a forest', 'in the forest', 'at the edge of a forest'),
    'meadow': ('in a meadow', 'in a flower meadow'),
    'snowfield': ('in a snowy field', 'on a snowfield'),
    'city': ('in the city', 'in front of a city skyline'),
}
WATER_AT = {
    'sea': ('on the sea', 'at sea'), 'lake': ('on a lake',),
    'river': ('on a river',), 'island': ('near an island', 'by an island'),
    'city': ('in a harbor by a city skyline', 'on the water in the city'),
}
BRIDGE_AT = {
    'river': ('over a river', 'across a river'), 'hills': ('in the hills',),
    'mountains': ('in the mountains',), 'forest': ('in a forest', 'in the forest'),
    'meadow': ('in a meadow',), 'city': ('in the city', 'over the water in the city'),
}
SKY_AT = {
    'sea': ('over the sea',), 'lake': ('over a lake',), 'river': ('over a river',),
    'island': ('over an island',), 'hills': ('over the hills',),
    'mountains': ('over the mountains',), 'volcano': ('over a volcano',),
    'desert': ('over the desert',), 'forest': ('over a forest',),
    'meadow': ('over a meadow',), 'snowfield': ('over a snowy field',),
    'city': ('over the city', 'above a city skyline'),
}
# A terrain as the subject of a landscape without objects.
TERRAIN_NOUN = {
    'sea': ('the sea', 'a view of the sea'), 'lake': ('a lake', 'a quiet lake'),
    'river': ('a river', 'a winding river'), 'island': ('an island', 'a small island'),
    'hills': ('hills', 'rolling hills'), 'mountains': ('mountains', 'a mountain range'),
    'volcano': ('a volcano', 'an erupting volcano'), 'desert': ('a desert', 'desert dunes'),
    'forest': ('a forest', 'a pine forest'), 'meadow': ('a meadow', 'a flower meadow'),
    'snowfield': ('a snowfield', 'a snowy field'), 'city': ('a city skyline', 'a city'),
}
TIME_PH = {
    'dawn': ('at dawn', 'at sunrise', 'at dawn'), 'day': ('during the day', 'in daylight', 'in the daytime'),
    'sunset': ('at sunset',), 'dusk': ('at dusk', 'at twilight', 'at dusk'),
    'night': ('at night',),
}
WEATHER_PH = {
    'clear': ('under a clear sky',), 'clouds': ('under a cloudy sky', 'with clouds'),
    'rain': ('in the rain', 'in heavy rain'), 'snow': ('in the snow', 'in falling snow'),
    'fog': ('in the fog', 'in thick fog', 'in the mist'),
    'storm': ('in a storm', 'in a thunderstorm', 'in a storm with lightning'),
}
DAY_WEATHER = {'clear': 'on a sunny day', 'clouds': 'on a cloudy day', 'rain': 'on a rainy day',
               'fog': 'on a foggy day', 'snow': 'on a snowy day', 'storm': 'on a stormy day'}
STYLE_SUFFIX = {
    'realistic': ('realistic', 'realistic style', 'realistic painting'),
    'watercolor': ('watercolor', 'watercolor painting', 'in watercolor'),
    'cartoon': ('flat cartoon', 'flat cartoon style', 'cartoon style'),
    'bw': ('black and white', 'in black and white', 'black and white picture'),
    'sketch': ('sketch', 'pencil sketch', 'sketch style'),
}
STYLE_PREFIX = {
    'realistic': ('a realistic painting of',), 'watercolor': ('a watercolor painting of', 'a watercolor of'),
    'cartoon': ('a flat cartoon of', 'a cartoon of'), 'bw': ('a black and white picture of',),
    'sketch': ('a pencil sketch of', 'a sketch of'),
}
SMALL_OK = ('boat', 'house', 'campfire')
# Styles in which colours can be seen; black and white and sketch captions
# never name a colour (the scene still has one: it sets the grey levels).
COLOR_STYLES = ('realistic', 'watercolor', 'cartoon')


def _np(kind, color, rng, say_color):
    """Noun phrase with article, e.g. 'a small red boat'."""
    if kind == 'birds':
        return 'birds' if rng.random() < 0.6 else 'a flock of birds'
    words = []
    if kind in SMALL_OK and rng.random() < 0.15:
        words.append('small')
    if color and say_color:
        words.append(color)
    words.append(kind)
    return f'{ARTICLE[words[0]] if words[0] != "small" else "a"} {" ".join(words)}'


def _weather_options(w, extras_with):
    """Weather phrases; none with 'with' when the caption already has one."""
    return [p for p in WEATHER_PH[w] if not (extras_with and ' with ' in f' {p} ')]


def _choice(rng, options):
    return options[int(rng.integers(len(options)))]


def make_caption(scene, rng=None):
    """Caption for a scene dict. `rng` is a numpy Generator; by default one is
    derived from scene['seed'], so a scene always gets the same caption."""
    if rng is None:
        rng = np.random.default_rng([scene['seed'] & 0xFFFFFFFFFFFFFFFF, 0xCA9])
    t, tm, w, sky = scene['terrain'], scene['time'], scene['weather'], scene['sky_color']
    objs = scene['objects']
    colors_visible = scene['style'] in COLOR_STYLES
    if not colors_visible:
        sky = None

    # Subject and where it is.
    if not objs:
        subject, where = _choice(rng, TERRAIN_NOUN[t]), ''
    else:
        main = objs[0]
        subject = _np(main['kind'], main['color'], rng, rng.random() < 0.8 and colors_visible)
        k = main['kind']
        table = (WATER_AT if k == 'boat' else BRIDGE_AT if k == 'bridge'
                 else SKY_AT if k in vocab.SKY_OBJECTS else LAND_AT)
        where = _choice(rng, table[t])
    extras_and, extras_with = [], []
    for o in objs[1:]:
        ph = _np(o['kind'], o['color'], rng, rng.random() < 0.4 and colors_visible)
        if (o['kind'] in vocab.LAND_OBJECTS and rng.random() < 0.5
                and objs[0]['kind'] not in vocab.SKY_OBJECTS):
            extras_and.append(ph)
        else:
            extras_with.append(ph)
    if extras_and:
        subject = ' and '.join([subject] + extras_and)

    # When, weather and sky colour, in a varied order.
    tail = []
    weather_ph = ''
    if sky:
        cloudy = 'cloudy ' if w == 'clouds' else ''
        sky_ph = f'under {"an" if (cloudy or sky)[0] in "aeiou" else "a"} {cloudy}{sky} sky'
        if w not in ('clear', 'clouds'):
            weather_ph = _choice(rng, _weather_options(w, extras_with))
    else:
        sky_ph = ''
        if tm == 'night' and w == 'clear' and rng.random() < 0.5:
            sky_ph = 'under a starry sky'
        elif w != 'clear' or rng.random() < 0.4:
            weather_ph = _choice(rng, _weather_options(w, extras_with))
    time_ph = ''
    if tm == 'day':
        if not sky and weather_ph and rng.random() < 0.4:
            weather_ph = DAY_WEATHER[w]
        elif rng.random() < 0.5:
            time_ph = _choice(rng, TIME_PH['day'])
    else:
        time_ph = _choice(rng, TIME_PH[tm])
    tail = [p for p in (time_ph, weather_ph) if p]
    if len(tail) == 2 and rng.random() < 0.35:
        tail.reverse()
    if sky_ph:
        tail.append(sky_ph)
    if extras_with:
        tail.insert(int(rng.integers(len(tail) + 1)) if tail else 0,
                    'with ' + ' and '.join(extras_with))

    body = ' '.join(p for p in [subject, where] + tail if p)
    st = scene['style']
    if rng.random() < 0.25:
        return f'{_choice(rng, STYLE_PREFIX[st])} {body}'
    if rng.random() < 0.15 and time_ph and tail and tail[0] == time_ph:
        # "at sunset, a red lighthouse on a hill"
        body = time_ph + ', ' + ' '.join(p for p in [subject, where] + tail[1:] if p)
    return f'{body}, {_choice(rng, STYLE_SUFFIX[st])}'


# ---------------------------------------------------------------- parsing

_C = '|'.join(vocab.COLORS)
_O = '|'.join(sorted(vocab.OBJECTS, key=len, reverse=True))
KEYWORDS = {
    'time': {'dawn': r'\b(dawn|sunrise)\b', 'sunset': r'\bsunset\b',
             'dusk': r'\b(dusk|twilight)\b', 'night': r'\b(night|starry)\b',
             'day': r'\b(day|daylight|daytime)\b'},
    'weather': {'clear': r'\b(clear|sunny)\b', 'clouds': r'\b(cloudy|clouds)\b',
                'rain': r'\b(rain|rainy)\b', 'snow': r'\b(snow|snowy day)\b',
                'fog': r'\b(fog|foggy|mist)\b', 'storm': r'\b(storm|stormy|thunderstorm)\b'},
    'terrain': {'sea': r'\b(sea|coast)\b', 'lake': r'\blake\b', 'river': r'\briver\b',
                'island': r'\bisland\b', 'hills': r'\bhills?\b',
                'mountains': r'\bmountains?\b', 'volcano': r'\bvolcano\b',
                'desert': r'\bdesert\b', 'forest': r'\bforest\b',
                'meadow': r'\bmeadow\b', 'snowfield': r'\b(snowfield|snowy field)\b',
                'city': r'\bcity\b'},
    'style': {'realistic': r'\brealistic\b', 'watercolor': r'\bwatercolor\b',
              'cartoon': r'\bcartoon\b', 'bw': r'\bblack and white\b',
              'sketch': r'\bsketch\b'},
}


def parse_caption(caption):
    """Recovers what a caption states: {'time', 'weather', 'terrain', 'style'}
    (a value, or None when unstated), 'sky_color' (or None), 'objects' (set of
    kinds) and 'colors' ({kind: colour} for named colours). 'day' weather
    forms like 'on a rainy day' state both the time and the weather."""
    c = caption.lower()
    out = {}
    for factor, table in KEYWORDS.items():
        hits = [v for v, pat in table.items() if re.search(pat, c)]
        if factor == 'weather' and 'storm' in hits and 'rain' in hits:
            hits.remove('rain')          # never produced together; be safe
        out[factor] = hits[0] if len(hits) == 1 else (hits if hits else None)
    m = re.search(rf'\b({_C}) sky\b', c)
    out['sky_color'] = m.group(1) if m else None
    out['objects'] = {k for k in vocab.OBJECTS if re.search(rf'\b{k}\b', c)}
    out['colors'] = {m.group(2): m.group(1)
                     for m in re.finditer(rf'\b({_C}) ({_O})\b', c)}
    return out
