#!/usr/bin/python3
"""Fits a CLIP-format BPE tokenizer (vocab.json + merges.txt + the special
token files) to scenegen's caption language. Same rules as openai CLIP:
captions are cleaned and lower-cased, split by CLIP's regex, byte-encoded,
and BPE merges are learned on words ending in '</w>'. The vocabulary keeps
CLIP's layout -- 256 byte symbols, the same with '</w>', one entry per merge,
then <|startoftext|> and <|endoftext|> last -- so any text still tokenizes
(unknown words fall back to byte symbols). Not the training of the encoder.

    /usr/bin/python3 tools/train/fit_tokenizer.py OUT_DIR [--scenes 20000]
"""

import argparse
import collections
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import scenegen as sg  # noqa: E402
from reverie_ref.tokenizer import _PATTERN, CLIPTokenizer, bytes_to_unicode, clean_text  # noqa: E402

from train import arch  # noqa: E402


def caption_corpus(n_scenes, variants=3, seed=0, split="train"):
    """Captions of n_scenes scenes, `variants` phrasings each."""
    caps = []
    for i in range(n_scenes):
        scene = sg.sample_scene(sg.item_seed(seed + 7919, i), split=split)
        for v in range(variants):
            caps.append(sg.make_caption(scene, np.random.default_rng([i, v, 0x70C])))
    return caps


def word_counts(captions):
    """CLIP pre-tokenisation: clean, lower-case, regex split, byte-encode."""
    be = bytes_to_unicode()
    counts = collections.Counter()
    for c in captions:
        for piece in _PATTERN.findall(clean_text(c)):
            counts["".join(be[b] for b in piece.encode("utf-8"))] += 1
    return counts


def learn_merges(counts, max_merges=4000, min_count=1):
    """Classic BPE: repeatedly merge the most frequent adjacent pair (ties:
    the lexicographically smallest) until every word is one symbol or no
    pair occurs min_count times."""
    words = {w: list(w[:-1]) + [w[-1] + "</w>"] for w in counts}
    merges = []
    while len(merges) < max_merges:
        pairs = collections.Counter()
        for w, syms in words.items():
            for a, b in zip(syms, syms[1:]):
                pairs[(a, b)] += counts[w]
        if not pairs:
            break
        best = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))
        if best[1] < min_count:
            break
        a, b = best[0]
        merges.append((a, b))
        for w, syms in words.items():
            out, i = [], 0
            while i < len(syms):
                if i < len(syms) - 1 and syms[i] == a and syms[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(syms[i])
                    i += 1
            words[w] = out
    return merges, words


def build_vocab(merges):
    """CLIP's vocab order: bytes, bytes + '</w>', merges, specials. A merge
    whose result already exists (two merge paths to one string) adds no id."""
    base = list(bytes_to_unicode().values())
    tokens = base + [t + "</w>" for t in base]
    vocab = {t: i for i, t in enumerate(tokens)}
    for a, b in merges:
        if a + b not in vocab:
            vocab[a + b] = len(vocab)
    vocab[arch.BOS] = len(vocab)
    vocab[arch.EOS] = len(vocab)
    return vocab


def _token(content):
    return {"content": content, "lstrip": False, "normalized": True, "rstrip": False, "single_word": False}


def write_tokenizer(out_dir, vocab, merges):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(out_dir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(f"{a} {b}\n")
    specials = {"bos_token": _token(arch.BOS), "eos_token": _token(arch.EOS), "pad_token": arch.EOS,
                "unk_token": _token(arch.EOS)}
    with open(os.path.join(out_dir, "special_tokens_map.json"), "w") as f:
        json.dump(specials, f, indent=2)
        f.write("\n")
    cfg = {"add_prefix_space": False, "do_lower_case": True, "errors": "replace", "model_max_length": 77,
           "name_or_path": arch.NAME, "pad_token": arch.EOS, "special_tokens_map_file": "./special_tokens_map.json",
           "tokenizer_class": "CLIPTokenizer"}
    for k in ("bos_token", "eos_token", "unk_token"):
        cfg[k] = dict(specials[k], __type="AddedToken")
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")


def check(out_dir, captions, words):
    """Re-tokenizes with reverie_ref's CLIP tokenizer: every caption word must
    be one token, and the ids must be what the learned segmentation says."""
    tok = CLIPTokenizer.from_folder(out_dir)
    multi = sorted(w for w, s in words.items() if len(s) > 1)
    longest = 0
    for c in captions:
        ids = tok(c)
        assert ids[0] == tok.bos_id and len(ids) == 77
        n = ids.index(tok.eos_id)
        longest = max(longest, n + 1)
        assert n < 76, f"caption too long for 77 tokens: {c!r}"
    for w, syms in words.items():
        got = tok._bpe(w)
        assert got == " ".join(syms), (w, got, syms)
    return {"words": len(words), "multi_token_words": multi, "longest_caption_tokens": longest,
            "vocab_size": len(tok.encoder)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--scenes", type=int, default=20000)
    ap.add_argument("--variants", type=int, default=3)
    args = ap.parse_args(argv)
    caps = caption_corpus(args.scenes, args.variants)
    # the held-out split's captions use the same words; include them in the
    # word list (not their counts' pairs of factors, which BPE never sees)
    caps_all = caps + caption_corpus(args.scenes // 10, 1, seed=1, split="heldout")
    counts = word_counts(caps_all)
    merges, words = learn_merges(counts)
    vocab = build_vocab(merges)
    write_tokenizer(args.out, vocab, merges)
    info = check(args.out, caps_all, words)
    info.update({"merges": len(merges), "captions": len(caps_all)})
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
