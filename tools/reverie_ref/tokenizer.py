"""CLIP BPE tokenizer (vocab.json + merges.txt) for making fixtures, following
the openai CLIP simple tokenizer. Text clean-up without ftfy: NFC
normalisation, HTML unescape, curly quotes straightened, whitespace collapsed,
lower-cased. Needs the 'regex' module (Debian: python3-regex) for \\p{L}.
"""

import html
import json
import os
import unicodedata

import regex

_PATTERN = regex.compile(
    r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
    regex.IGNORECASE)

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'",
                         "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"'})


def bytes_to_unicode():
    """Reversible byte -> printable unicode character table of GPT-2/CLIP BPE."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1)) + \
        list(range(ord("\u00ae"), ord("\u00ff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def clean_text(text):
    text = unicodedata.normalize("NFC", text).translate(_QUOTES)
    text = html.unescape(html.unescape(text)).strip()
    text = regex.sub(r"\s+", " ", text).strip()
    return text.lower()


def _token_content(value):
    if isinstance(value, dict):
        return value.get("content")
    return value


class CLIPTokenizer:
    def __init__(self, vocab, merges, pad_token="<|endoftext|>", max_length=77):
        self.encoder = vocab
        self.ranks = {tuple(m.split()): i for i, m in enumerate(merges)}
        self.byte_encoder = bytes_to_unicode()
        self.bos_id = vocab["<|startoftext|>"]
        self.eos_id = vocab["<|endoftext|>"]
        if pad_token not in vocab:
            raise ValueError(f"tokenizer: pad token {pad_token!r} is not in the vocabulary")
        self.pad_id = vocab[pad_token]
        self.max_length = max_length
        self.cache = {"<|startoftext|>": "<|startoftext|>", "<|endoftext|>": "<|endoftext|>"}

    @classmethod
    def from_folder(cls, folder):
        with open(os.path.join(folder, "vocab.json"), encoding="utf-8") as f:
            vocab = json.load(f)
        with open(os.path.join(folder, "merges.txt"), encoding="utf-8") as f:
            lines = f.read().strip().split("\n")
        merges = lines[1:49152 - 256 - 2 + 1]
        pad, max_len = "<|endoftext|>", 77
        cfg_path = os.path.join(folder, "tokenizer_config.json")
        if os.path.exists(cfg_path):
            with open(cfg_path, encoding="utf-8") as f:
                cfg = json.load(f)
            pad = _token_content(cfg.get("pad_token")) or pad
            max_len = cfg.get("model_max_length", max_len)
        # special_tokens_map.json wins over tokenizer_config.json (SD 2.x pads with "!")
        map_path = os.path.join(folder, "special_tokens_map.json")
        if os.path.exists(map_path):
            with open(map_path, encoding="utf-8") as f:
                pad = _token_content(json.load(f).get("pad_token")) or pad
        return cls(vocab, merges, pad, max_len)

    def _bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = list(token[:-1]) + [token[-1] + "</w>"]
        while len(word) > 1:
            pairs = {(word[i], word[i + 1]) for i in range(len(word) - 1)}
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            merged, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == best[0] and word[i + 1] == best[1]:
                    merged.append(best[0] + best[1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        out = " ".join(word)
        self.cache[token] = out
        return out

    def encode(self, text):
        """Token ids of text, without BOS/EOS."""
        ids = []
        for piece in _PATTERN.findall(clean_text(text)):
            piece = "".join(self.byte_encoder[b] for b in piece.encode("utf-8"))
            ids.extend(self.encoder[t] for t in self._bpe(piece).split(" "))
        return ids

    def __call__(self, text):
        """[BOS] + up to max_length-2 tokens + [EOS], padded to max_length (as
        diffusers' pipelines call the tokenizer: padding='max_length', truncation)."""
        ids = [self.bos_id] + self.encode(text)[: self.max_length - 2] + [self.eos_id]
        return ids + [self.pad_id] * (self.max_length - len(ids))
