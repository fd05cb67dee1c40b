#!/usr/bin/python3
"""Writes tests/data/lm/reference.tsv: log10 probabilities of n-grams as the
reference implementation (Debian's python3-sphinxbase) computes them from
each of the two CMU Sphinx models the embedded model mixes, for tests/lm.rs
to compare with our converted mixture.

Run by scripts/lm/reference, which fetches the packages; by hand:

    /usr/bin/python3 scripts/lm/reference.py SPHINXBASE_DIR A.lm.bin B.lm.bin > out.tsv

Columns: w2, w1, w, log10 P_A(w | w2 w1), log10 P_B(w | w2 w1). An empty
w2 (or w1) means no such context word (a bigram or unigram query). The
mix: every window of some sentences of our own prose (many trigram and
bigram hits), random word triples from the words both models know
(back-off to unigrams), sentence markers, an out-of-vocabulary context
word, and trigrams sphinxbase's search cannot reach in A.
"""

import random
import struct
import sys

sys.path.insert(0, sys.argv[1])
from sphinxbase.sphinxbase import NGramModel  # noqa: E402

# log10 of sphinxbase's logmath base, 1.0001.
LOG10_BASE = 4.342727686266964e-05

PROSE = """
the president said that the government would not change its policy
officials in the united states said on monday that the talks had failed
the civil war ended more than a century ago
she told reporters that the company would cut jobs next year
the peace process has been stalled for months
there is no evidence that the new law will reduce crime
he was born in new york and moved to california when he was ten
the price of oil rose sharply after the announcement
we do not know how many people were killed in the attack
the report was published by the department of health
most of the students passed the final exam
it is not clear whether the bank will raise interest rates
the team won the game in the last minute of the match
at the end of the day we all want the same thing
the first thing you need to do is to find a good lawyer
local time is about five hours ahead of new york
defense and intelligence officials declined to comment
the army called for a cessation of hostilities
""".strip().splitlines()


def words_of(path):
    """The vocabulary of a Sphinx trigram trie binary: its last section.

    The sizes below follow the layout described in src/lm/sphinx.rs.
    """
    data = open(path, "rb").read()
    assert data[:19] == b"Trie Language Model" and data[19] == 3
    n1, n2, n3 = struct.unpack_from("<3I", data, 20)
    bits = lambda x: x.bit_length()
    record = lambda entries, width: ((1 + entries) * width + 7) // 8 + 8
    off = 20 + 12 + 4 + 3 * 65536 * 4 + (n1 + 1) * 12
    off += record(n2, bits(n1) + 32 + bits(n3)) + record(n3, bits(n1) + 16)
    (length,) = struct.unpack_from("<i", data, off)
    # The words are ASCII but for the odd Latin-1 one ("d\xe9j\xe0").
    words = data[off + 4:off + 4 + length].decode("latin-1").split("\0")[:-1]
    assert len(words) == n1
    return words


def main():
    paths = sys.argv[2:4]
    models = [NGramModel(p) for p in paths]
    # Words both models know, in A's order (random draws stay reproducible).
    known_b = set(words_of(paths[1]))
    vocab = [w for w in words_of(paths[0]) if w in known_b]
    known = set(vocab)
    rng = random.Random(20240601)

    queries = []
    for line in PROSE:
        ws = ["<s>"] + line.split() + ["</s>"]
        for i in range(1, len(ws)):
            queries.append((ws[i - 2] if i >= 2 else "", ws[i - 1], ws[i]))
    plain = [w for w in vocab if w not in ("<s>", "</s>")]
    for _ in range(80):
        queries.append(tuple(rng.choice(plain) for _ in range(3)))
    for _ in range(20):
        queries.append(("", rng.choice(plain), rng.choice(plain)))
    for _ in range(20):
        queries.append(("", "", rng.choice(plain)))
    queries += [
        ("<s>", "<s>", "the"),
        ("", "", "</s>"),
        ("united", "states", "</s>"),
        ("zzyzxq", "civil", "war"),
        ("the", "zzyzxq", "war"),
        ("whips", "and", "bullhorns"),
        ("teased", "and", "bullhorns"),
        ("<s>", "and", "jerri"),
        ("coach", "and", "jerri"),
    ]

    print("w2\tw1\tw\tlog10_a\tlog10_b")
    seen = set()
    for q in queries:
        if q in seen or q[2] not in known:
            continue
        seen.add(q)
        # sphinxbase takes the word first, then its history, newest first;
        # an empty or unknown history word ends the history.
        args = [q[2]]
        for h in (q[1], q[0]):
            if not h:
                break
            args.append(h)
        values = ["%.6f" % (lm.prob(args) * LOG10_BASE) for lm in models]
        print("\t".join(list(q) + values))


if __name__ == "__main__":
    main()
