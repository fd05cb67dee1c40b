#!/usr/bin/env python3
"""Builds unspin's spun -> original pairs from general thesauri.

Inputs (fetched by scripts/build-lexicon, never from ../shared/data):
  --moby FILE     the Moby thesaurus as printed by `moby-dump` (crate
                  thesaurus-moby): `head|syn|syn|...` per line
  --wordnet DIR   WordNet 3.0 database files from Debian's wordnet-base
                  (data.*, index.*, *.exc)
Output: TSV `spun<TAB>original<TAB>weight<TAB>sources` on stdout, ready for
`unspin lexicon build`.

A spinner replaces an original O by one of O's synonyms S. So each thesaurus
link O -> S becomes the lexicon pair S -> O, and its weight estimates the
channel probability P(S | O): the link's strength divided by the total
strength of all of O's links. An original with a short synonym list that
contains S is therefore far likelier than one with hundreds. Strengths:

  Moby, S listed under O ............................. 1.0
  Moby, mutual (O also listed under S) ............... +1.0
  Moby, reverse only (O listed under S, not S under O)  0.35
  WordNet, S and O share a synset .................... +2.0 / sense rank of that synset for O
  Moby siblings (listed together under >= 4 heads) ... 0.15 (multiword S only)

Inflected forms are generated on both sides with the same slot (plural,
3rd person, past, past participle, -ing), using WordNet's exception lists
for irregular forms and regular English rules otherwise.

A pair whose two sides are one word in British and American spelling
("defence" and "defense", "criticised" and "criticized"), or one word
written with and without a space or hyphen ("car maker", "carmaker"), is
left out: a spelling is not a swap, and restoring it would only turn
British text American (--keep-spelling-variants keeps them).
"""

import argparse
import collections
import os
import re
import sys

STOP = set("""a an the and or but if of to in on at by for with from as is are was were be been being
it its he she they them his her their we us our you your i me my this that these those there here
not no nor so than then too very can could will would shall should may might must do does did done
have has had having am what which who whom whose when where why how all any both each few more most
other some such only own same just also into over under again further once up down out off about
s t don now""".split())

# British -> American spelling, by word ending (applied to every word of a
# term, so inflected forms follow): -ise/-isation, -yse, -our, -re, -mme,
# -ence, -ogue.
SPELLING_RULES = [
    (re.compile(r"is(e|ed|es|ing|er|ers|ation|ations)$"), r"iz\1"),
    (re.compile(r"ys(e|ed|es|ing)$"), r"yz\1"),
    (re.compile(r"our(s|ed|ing|able|ably|ite|ites|ful|less|er|ers)?$"), r"or\1"),
    (re.compile(r"([^aeiou])re(s|d)?$"), r"\1er\2"),
    (re.compile(r"mme(s)?$"), r"m\1"),
    (re.compile(r"ence(s)?$"), r"ense\1"),
    (re.compile(r"ogue(s)?$"), r"og\1"),
]
# Variants no ending rule covers.
SPELLING_WORDS = {
    "grey": "gray", "greys": "grays", "tyre": "tire", "tyres": "tires",
    "cheque": "check", "cheques": "checks", "plough": "plow", "ploughs": "plows",
    "sceptic": "skeptic", "sceptics": "skeptics", "sceptical": "skeptical",
    "jewellery": "jewelry", "aeroplane": "airplane", "aeroplanes": "airplanes",
    "manoeuvre": "maneuver", "manoeuvres": "maneuvers", "pyjamas": "pajamas",
    "fulfil": "fulfill", "enrol": "enroll", "skilful": "skillful",
    "draught": "draft", "draughts": "drafts", "kerb": "curb", "kerbs": "curbs",
}


def spelling_key(term):
    """`term` in American spelling, by the rules above (other words as they are)."""
    out = []
    for w in term.split(" "):
        w = SPELLING_WORDS.get(w, w)
        for rule, repl in SPELLING_RULES:
            w2 = rule.sub(repl, w)
            if w2 != w:
                w = w2
                break
        out.append(w)
    return " ".join(out)


def spelling_variants(a, b):
    """True if `a` and `b` are one term in British and American spelling,
    or written with and without a space or hyphen ("car maker", "carmaker";
    "e-mail", "email")."""
    def key(t):
        return spelling_key(t).replace(" ", "").replace("-", "")
    return a != b and key(a) == key(b)


VERB_SLOTS = ("3sg", "past", "pp", "ing")
NOUN_SLOTS = ("pl",)
VOWELS = set("aeiou")


def load_moby(path):
    moby = {}
    for line in open(path, encoding="utf-8"):
        parts = [p.strip() for p in line.rstrip("\n").split("|")]
        if len(parts) < 2 or not parts[0]:
            continue
        head = parts[0]
        syns = [p for p in parts[1:] if p and p != head]
        moby.setdefault(head, [])
        seen = set(moby[head])
        for s in syns:
            if s not in seen:
                moby[head].append(s)
                seen.add(s)
    return moby


def load_wordnet(d):
    """Returns (synsets, pos_of, sense_rank, exceptions).

    synsets: list of lemma lists; pos_of: lemma -> set of 'n','v','a','r';
    sense_rank: (lemma, synset index) -> 1-based rank by frequency;
    exceptions: pos -> base -> list of irregular forms."""
    synsets = []
    offset_ix = {}
    for pos, name in (("n", "noun"), ("v", "verb"), ("a", "adj"), ("r", "adv")):
        for line in open(os.path.join(d, "data." + name), encoding="latin-1"):
            if line.startswith("  "):
                continue
            f = line.split()
            off, w_cnt = f[0], int(f[3], 16)
            lemmas = []
            for k in range(w_cnt):
                w = f[4 + 2 * k]
                w = re.sub(r"\([a-z]+\)$", "", w).replace("_", " ").lower()
                if w not in lemmas:
                    lemmas.append(w)
            offset_ix[(pos, off)] = len(synsets)
            synsets.append((pos, lemmas))
    pos_of = collections.defaultdict(set)
    sense_rank = {}
    for pos, name in (("n", "noun"), ("v", "verb"), ("a", "adj"), ("r", "adv")):
        for line in open(os.path.join(d, "index." + name), encoding="latin-1"):
            if line.startswith("  "):
                continue
            f = line.split()
            lemma = f[0].replace("_", " ").lower()
            p_cnt = int(f[3])
            offsets = f[4 + p_cnt + 2:]
            pos_of[lemma].add(pos)
            for rank, off in enumerate(offsets, 1):
                ix = offset_ix.get((pos, off))
                if ix is not None:
                    sense_rank[(lemma, ix)] = rank
    exceptions = {}
    for pos, name in (("n", "noun"), ("v", "verb"), ("a", "adj")):
        table = collections.defaultdict(list)
        for line in open(os.path.join(d, name + ".exc"), encoding="latin-1"):
            f = line.split()
            if len(f) >= 2:
                form, base = f[0].replace("_", " "), f[1].replace("_", " ")
                if form not in table[base]:
                    table[base].append(form)
        exceptions[pos] = table
    return synsets, pos_of, sense_rank, exceptions


def double_final(w):
    """stop -> stopp (for -ed/-ing): one-syllable consonant-vowel-consonant."""
    if len(w) < 3 or w[-1] in "wxy" or w[-1] in VOWELS:
        return False
    if w[-2] not in VOWELS or w[-3] in VOWELS:
        return False
    syllables = len(re.findall(r"[aeiouy]+", w))
    return syllables == 1


def plural(w, exc):
    irregular = [f for f in exc["n"].get(w, []) if f != w]
    if irregular:
        return irregular[0]
    if re.search(r"(s|x|z|ch|sh)$", w):
        return w + "es"
    if re.search(r"[^aeiou]y$", w):
        return w[:-1] + "ies"
    return w + "s"


def verb_forms(w, exc):
    forms = {"3sg": plural_verb(w)}
    irregular = [f for f in exc["v"].get(w, []) if f != w]
    ing = [f for f in irregular if f.endswith("ing")]
    ed = [f for f in irregular if not f.endswith("ing") and not f.endswith("s")]
    if w.endswith("ie"):
        regular_ing = w[:-2] + "ying"
    elif w.endswith("e") and not w.endswith(("ee", "ye", "oe")) and len(w) > 2:
        regular_ing = w[:-1] + "ing"
    elif double_final(w):
        regular_ing = w + w[-1] + "ing"
    else:
        regular_ing = w + "ing"
    forms["ing"] = ing[0] if ing else regular_ing
    if w.endswith("e"):
        regular_ed = w + "d"
    elif re.search(r"[^aeiou]y$", w):
        regular_ed = w[:-1] + "ied"
    elif double_final(w):
        regular_ed = w + w[-1] + "ed"
    else:
        regular_ed = w + "ed"
    if len(ed) >= 2:
        pp = [f for f in ed if f.endswith("n")]
        past = [f for f in ed if not f.endswith("n")]
        forms["past"] = (past or ed)[0]
        forms["pp"] = (pp or ed)[0]
    elif len(ed) == 1:
        forms["past"] = forms["pp"] = ed[0]
    else:
        forms["past"] = forms["pp"] = regular_ed
    return forms


def plural_verb(w):
    if re.search(r"(s|x|z|ch|sh|o)$", w):
        return w + "es"
    if re.search(r"[^aeiou]y$", w):
        return w[:-1] + "ies"
    return w + "s"


def head_index(words, pos):
    """Which word of a phrase inflects: the verb first, the noun last (or the
    word before 'of' in 'cessation of hostilities')."""
    if pos == "v":
        return 0
    if "of" in words[1:]:
        return words.index("of", 1) - 1
    return len(words) - 1


def inflections(term, pos, exc):
    words = term.split(" ")
    h = head_index(words, pos)
    head = words[h]
    if not re.fullmatch(r"[a-z]+", head):
        return {}
    forms = {"pl": plural(head, exc)} if pos == "n" else verb_forms(head, exc)
    out = {}
    for slot, f in forms.items():
        if f and f != head:
            out[slot] = " ".join(words[:h] + [f] + words[h + 1:])
    return out


def term_pos(term, pos_of):
    if term in pos_of:
        return pos_of[term]
    words = term.split(" ")
    if len(words) == 1:
        return set()
    found = set()
    if "v" in pos_of.get(words[0], ()):
        found.add("v")
    h = head_index(words, "n")
    if "n" in pos_of.get(words[h], ()):
        found.add("n")
    return found


def ok_term(t):
    return bool(t) and len(t) <= 60 and t.count(" ") <= 5 and not any(c.isdigit() for c in t)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--moby", required=True)
    ap.add_argument("--wordnet", required=True)
    ap.add_argument("--keep-spelling-variants", action="store_true",
                    help="keep pairs that are one word in British and American spelling")
    ap.add_argument("--sibling-min", type=int, default=4)
    ap.add_argument("--sibling-max-entry", type=int, default=400)
    ap.add_argument("--unigrams", help="word<TAB>log10 P(word) of the language model: ranks candidates "
                    "by P(spun|original) * P(original) and drops originals it cannot score")
    ap.add_argument("--max-per-key", type=int, default=64)
    ap.add_argument("--direct-total", action="store_true",
                    help="normalize P(S|O) by O's direct links only (Moby entry, WordNet synsets)")
    ap.add_argument("--prior-exponent", type=float, default=1.0,
                    help="rank candidates by P(S|O) * P(O)^x (default 1; 0.5 was measured and was no "
                         "better: exact restoration at 30%% 35.0%% against 35.8%%)")
    args = ap.parse_args()

    moby = load_moby(args.moby)
    synsets, pos_of, sense_rank, exc = load_wordnet(args.wordnet)
    print(f"moby: {len(moby)} heads, {sum(map(len, moby.values()))} links; "
          f"wordnet: {len(synsets)} synsets, {len(pos_of)} lemmas", file=sys.stderr)

    # strength[O][S] and the sources of each link; direct[O] sums the
    # strengths of O's own entries (Moby under O, WordNet synsets), the lists
    # a spinner picks from. Reverse and sibling links are our guesses at
    # other spinners' lists: they are scored against that same total rather
    # than diluting it.
    strength = collections.defaultdict(lambda: collections.defaultdict(float))
    direct = collections.defaultdict(float)
    sources = collections.defaultdict(set)
    moby_sets = {h: set(v) for h, v in moby.items()}
    for o, syns in moby.items():
        for s in syns:
            mutual = o in moby_sets.get(s, ())
            strength[o][s] += 2.0 if mutual else 1.0
            direct[o] += 2.0 if mutual else 1.0
            sources[(s, o)].update(("moby", "mutual") if mutual else ("moby",))
            if not mutual:
                # The reverse link: a spinner whose list for s holds o.
                strength[s][o] += 0.35
                sources[(o, s)].add("moby-reverse")
    for ix, (pos, lemmas) in enumerate(synsets):
        if len(lemmas) < 2:
            continue
        for o in lemmas:
            rank = sense_rank.get((o, ix), 8)
            for s in lemmas:
                if s != o:
                    strength[o][s] += 2.0 / rank
                    direct[o] += 2.0 / rank
                    sources[(s, o)].add("wordnet")

    # Siblings: multiword phrases listed together with a word under several
    # Moby heads ("flying machine" and "aircraft" under airplane, plane, ...).
    sib = collections.Counter()
    for h, syns in moby.items():
        if len(syns) > args.sibling_max_entry:
            continue
        multi = [s for s in syns if " " in s]
        single = [s for s in syns if " " not in s]
        for p in multi:
            for w in single:
                sib[(p, w)] += 1
    n_sib = 0
    for (p, w), n in sib.items():
        if n >= args.sibling_min and p not in strength[w]:
            strength[w][p] += 0.15
            sources[(p, w)].add("moby-sibling")
            n_sib += 1
    del sib
    print(f"sibling links: {n_sib}", file=sys.stderr)

    unigram = None
    if args.unigrams:
        unigram = {}
        for line in open(args.unigrams, encoding="utf-8"):
            w, lp = line.rstrip("\n").split("\t")
            unigram[w] = float(lp)

    def prior(term):
        if unigram is None:
            return 0.0
        total = 0.0
        for w in term.split(" "):
            lp = unigram.get(w)
            if lp is None:
                return None
            total += lp
        return total

    by_key = collections.defaultdict(dict)

    dropped_variants = 0

    def emit(s, o, w, src):
        nonlocal dropped_variants
        if not args.keep_spelling_variants and spelling_variants(s, o):
            dropped_variants += 1
            return
        old = by_key[s].get(o)
        if old is None or old[0] < w:
            by_key[s][o] = (w, src if old is None else ",".join(sorted(set(src.split(",")) | set(old[1].split(",")))))
        elif old is not None:
            by_key[s][o] = (old[0], ",".join(sorted(set(src.split(",")) | set(old[1].split(",")))))

    import math
    for o, links in strength.items():
        if not ok_term(o) or o in STOP:
            continue
        if unigram is not None and prior(o) is None:
            continue
        total = direct[o] if args.direct_total and direct[o] > 0 else sum(links.values())
        o_pos = term_pos(o, pos_of)
        o_infl = {}
        for s, st in links.items():
            if not ok_term(s) or s in STOP:
                continue
            w = min(1.0, st / total)
            src = sources[(s, o)]
            src_names = ",".join(sorted(src))
            emit(s, o, w, src_names)
            shared = o_pos & term_pos(s, pos_of)
            for pos in sorted(shared & {"n", "v"}):
                if pos not in o_infl:
                    o_infl[pos] = inflections(o, pos, exc)
                s_infl = inflections(s, pos, exc)
                for slot, of in o_infl[pos].items():
                    sf = s_infl.get(slot)
                    if sf and sf != of and (unigram is None or prior(of) is not None):
                        emit(sf, of, w, src_names + ",inflected")

    out = sys.stdout
    written = 0
    for s, cands in by_key.items():
        ranked = sorted(cands.items(),
                        key=lambda kv: -(math.log10(kv[1][0]) + args.prior_exponent * (prior(kv[0]) or 0.0)))
        for o, (w, src) in ranked[: args.max_per_key]:
            out.write(f"{s}\t{o}\t{w:.6g}\t{src}\n")
            written += 1
    print(f"keys: {len(by_key)}, pairs written: {written}, "
          f"spelling variants left out: {dropped_variants}", file=sys.stderr)


if __name__ == "__main__":
    main()
