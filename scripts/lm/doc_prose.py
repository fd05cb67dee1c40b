#!/usr/bin/env python3
"""Prose paragraphs from a tree of HTML documentation pages.

Usage: doc_prose.py SRC_DIR OUT_DIR [PARAGRAPHS_PER_FILE]

Walks SRC_DIR for *.html pages (index and search pages left out), keeps the
text of block elements outside code, math, tables and navigation, and
writes each paragraph of eight words or more of which at least 80% are
plain words (so that parameter lists, formulas and code fragments stay
out) once, in files of PARAGRAPHS_PER_FILE paragraphs (default 2000) in
OUT_DIR. Prints the number of paragraphs and words on stderr.

Used by scripts/science to make a model of scientific prose and a test
set of it from Debian's documentation packages; nothing it writes is
shipped.
"""

import hashlib
import html.parser
import os
import re
import sys

SKIP = {"pre", "code", "script", "style", "math", "table", "nav", "footer",
        "head", "title", "tt", "kbd", "samp"}
BLOCK = {"p", "li", "dd", "dt", "h1", "h2", "h3", "h4", "blockquote", "td",
         "div", "section"}
WORD = re.compile(r"^[A-Za-z][A-Za-z'\-]*[.,;:]?$")


class Blocks(html.parser.HTMLParser):
    """Collects the text of each block element outside skipped ones."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.skip = 0
        self.buf = []
        self.paragraphs = []

    def flush(self):
        text = " ".join("".join(self.buf).split())
        if text:
            self.paragraphs.append(text)
        self.buf = []

    def handle_starttag(self, tag, attrs):
        if tag in SKIP:
            self.skip += 1
        elif tag in BLOCK:
            self.flush()

    def handle_endtag(self, tag):
        if tag in SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in BLOCK:
            self.flush()

    def handle_data(self, data):
        if not self.skip:
            self.buf.append(data)


def pages(root):
    for directory, _, names in sorted(os.walk(root)):
        for name in sorted(names):
            if name.endswith(".html") and name not in ("search.html", "genindex.html") \
                    and "modindex" not in name:
                yield os.path.join(directory, name)


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    src, out = sys.argv[1], sys.argv[2]
    per_file = int(sys.argv[3]) if len(sys.argv) == 4 else 2000
    os.makedirs(out, exist_ok=True)
    seen, kept, words, files = set(), [], 0, 0

    def write():
        nonlocal kept, files
        if kept:
            with open(os.path.join(out, f"part{files:05d}.txt"), "w") as f:
                f.write("\n\n".join(kept) + "\n")
            files += 1
            kept = []

    for page in pages(src):
        parser = Blocks()
        with open(page, errors="replace") as f:
            parser.feed(f.read())
        parser.flush()
        for text in parser.paragraphs:
            tokens = text.split()
            if len(tokens) < 8 or sum(1 for t in tokens if WORD.match(t)) < 0.8 * len(tokens):
                continue
            digest = hashlib.md5(text.encode()).digest()
            if digest in seen:
                continue
            seen.add(digest)
            kept.append(text)
            words += len(tokens)
            if len(kept) == per_file:
                write()
    write()
    print(f"{src}: {len(seen)} paragraphs, {words} words", file=sys.stderr)


if __name__ == "__main__":
    main()
