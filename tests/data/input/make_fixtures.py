#!/usr/bin/env python3
"""Generates the binary and compressed fixtures for tests/input.rs.

Every text in here was written for this test suite. The hand-editable
fixtures (html/*.html, text/*.txt, tree/, corpus.jsonl, list.txt) are
committed as they are; this script derives the rest from them and from the
records below, and is safe to rerun:

    python3 tests/data/input/make_fixtures.py

Needs the `zstd` command line tool for the .zst fixture.
"""

import gzip
import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))


def path(*parts):
    return os.path.join(HERE, *parts)


def write(name, data):
    with open(path(name), "wb") as f:
        f.write(data)


def gz(data):
    # mtime=0 keeps the output identical from run to run.
    return gzip.compress(data, mtime=0)


# --- compressed text, a bomb-ish file, bad encodings, binary ---------------

article = open(path("text", "article.txt"), "rb").read()
write("text/article.txt.gz", gz(article))
subprocess.run(
    ["zstd", "-q", "-f", "-19", path("text", "article.txt"), "-o", path("text", "article.txt.zst")],
    check=True,
)
# 4 MiB of one repeated sentence squeezes to a few kilobytes: a stand-in for
# a decompression bomb when the test sets a small --max-bytes.
write("text/bomb.txt.gz", gz(b"All work and no play makes a dull corpus.\n" * 100_000))
# Latin-1 bytes in a file that should be UTF-8: the e-acute and the
# i-diaeresis are single bytes 0xe9 and 0xef, invalid as UTF-8.
write(
    "text/latin1.txt",
    "The caf\u00e9 on the corner served a na\u00efve little espresso.\n".encode("latin-1"),
)
write("text/bom.txt", b"\xef\xbb\xbfA file that starts with a byte-order mark.\n")
write(
    "text/binary.bin",
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00"
    + bytes(range(256)) * 4,
)
write("corpus.jsonl.gz", gz(open(path("corpus.jsonl"), "rb").read()))

# --- WARC and WET -----------------------------------------------------------


def record(kind, headers, content):
    """One WARC record; Content-Length is computed from the content."""
    lines = ["WARC/1.1", f"WARC-Type: {kind}"]
    lines += [f"{k}: {v}" for k, v in headers]
    lines.append(f"Content-Length: {len(content)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    return head + content + b"\r\n\r\n"


def http(status, headers, body):
    head = [f"HTTP/1.1 {status}"] + [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def chunked(body, size=100):
    out = b""
    for i in range(0, len(body), size):
        piece = body[i : i + size]
        out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    return out + b"0\r\n\r\n"


LIBRARY_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8">
<title>Branch library reopens after roof repairs - Riverside Gazette</title>
<link rel="canonical" href="https://riverside-gazette.example/news/library-reopens">
</head><body>
<nav><a href="/">Home</a> <a href="/news">News</a> <a href="/sport">Sport</a></nav>
<article>
<h1>Branch library reopens after roof repairs</h1>
<p>The branch library on Quarry Lane reopened on Monday morning after eight months of repairs to its leaking roof, and the first visitors were waiting at the door before the staff had switched on the lights.</p>
<p>Workers replaced the slate roof, the gutters and a rotten beam above the children's corner, where buckets had stood on wet days for most of the previous winter. The building also has new lighting and a ramp at the side entrance.</p>
<p>READ MORE: <a href="/news/roof-appeal">Residents raise funds for library roof</a></p>
<p>The librarian, Osric Penhallow, said that borrowing had fallen sharply while the branch was shut, because many older readers could not reach the central library by bus. He hopes the reading group and the homework club will both restart before the end of the month.</p>
<p>Opening hours are unchanged, and books borrowed from other branches can be returned at Quarry Lane from today.</p>
</article>
<aside><h3>Most read</h3><ul><li><a href="/a">Floodgates tested ahead of spring tides</a></li></ul></aside>
<footer>WordPress Plugins &amp; Solutions by Example Web Works</footer>
</body></html>
"""

# A second page with no charset of its own: the HTTP header says
# windows-1252, and the body is sent in chunks.
MARKET_PAGE = """<html><head><title>Cheese stall wins regional prize</title></head><body>
<div class="story">
<p>A cheese stall from the Saturday market has won first prize at the regional food awards for a soft goat\u2019s cheese washed in local cider, beating more than sixty entries from across the county.</p>
<p>The stall\u2019s owner, Bethan Roskilly, started making cheese in her kitchen six years ago and now buys milk from two farms in the valley. She said the prize would help her to hire a second cheesemaker before the summer.</p>
<p>The judges praised the cheese for its delicate rind and for a flavour that was \u201cboth gentle and surprising\u201d. The winning cheese will be on sale at the market this weekend, while stocks last.</p>
</div>
<div class="footer">Share this</div>
</body></html>
"""

WARCINFO = record(
    "warcinfo",
    [("WARC-Date", "2024-04-01T00:00:00Z"), ("WARC-Record-ID", "<urn:uuid:00000000-0000-4000-8000-000000000000>"),
     ("Content-Type", "application/warc-fields")],
    b"software: hand-written test fixture\r\nformat: WARC File Format 1.1\r\n",
)


def response(uri, rid, http_bytes):
    return record(
        "response",
        [("WARC-Target-URI", uri), ("WARC-Date", "2024-04-01T10:00:00Z"),
         ("WARC-Record-ID", f"<urn:uuid:{rid}>"),
         ("Content-Type", "application/http; msgtype=response")],
        http_bytes,
    )


def request(uri):
    return record(
        "request",
        [("WARC-Target-URI", uri), ("Content-Type", "application/http; msgtype=request")],
        f"GET {uri} HTTP/1.1\r\nHost: example\r\n\r\n".encode(),
    )


def metadata(uri):
    return record(
        "metadata",
        [("WARC-Target-URI", uri), ("Content-Type", "application/warc-fields")],
        b"fetchTimeMs: 120\r\n",
    )


LIB = "https://riverside-gazette.example/news/library-reopens?utm_source=feed"
MARKET = "http://valley-market.example/cheese-prize"
warc_records = [
    WARCINFO,
    request(LIB),
    response(LIB, "11111111-1111-4111-8111-111111111111",
             http("200 OK", [("Content-Type", "text/html; charset=UTF-8")], LIBRARY_PAGE.encode("utf-8"))),
    metadata(LIB),
    # A redirect and an image: responses that yield no document.
    response("http://riverside-gazette.example/old", "22222222-2222-4222-8222-222222222222",
             http("301 Moved Permanently", [("Location", LIB), ("Content-Type", "text/html")],
                  b"<html><body>Moved</body></html>")),
    response("https://riverside-gazette.example/logo.png", "33333333-3333-4333-8333-333333333333",
             http("200 OK", [("Content-Type", "image/png")], b"\x89PNG\r\n\x1a\n\x00\x00")),
    response(MARKET, "44444444-4444-4444-8444-444444444444",
             http("200 OK", [("Content-Type", "text/html; charset=windows-1252"), ("Transfer-Encoding", "chunked")],
                  chunked(MARKET_PAGE.encode("cp1252")))),
]
write("warc/crawl.warc.gz", b"".join(gz(r) for r in warc_records))

# A broken gzip member in the middle: the record before and after survive.
broken = [gz(r) for r in warc_records]
damaged = bytearray(broken[2])
for i in range(40, 60):
    damaged[i] ^= 0x55
broken[2] = bytes(damaged)
write("warc/broken-member.warc.gz", b"".join(broken))

WET_1 = ("Ferry timetable trial extended\n"
         "The early ferry crossings will continue for another year after passenger numbers beat the "
         "council's forecast in every month of the trial.\n").encode()
WET_2 = ("Allotment society elects new chair\n"
         "Members of the allotment society chose a retired beekeeper as their new chair at a meeting "
         "in the church hall on Wednesday.\nREAD MORE: Bees return to the town park\n").encode()


def conversion(uri, rid, text):
    return record(
        "conversion",
        [("WARC-Target-URI", uri), ("WARC-Date", "2024-04-01T10:00:00Z"),
         ("WARC-Record-ID", f"<urn:uuid:{rid}>"), ("WARC-Refers-To", "<urn:uuid:99999999-9999-4999-8999-999999999999>"),
         ("WARC-Block-Digest", "sha1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
         ("Content-Type", "text/plain")],
        text,
    )


wet_records = [
    WARCINFO,
    conversion("https://coastal-ledger.example/ferry-trial", "55555555-5555-4555-8555-555555555555", WET_1),
    conversion("https://coastal-ledger.example/allotments", "66666666-6666-4666-8666-666666666666", WET_2),
]
write("warc/sample.warc.wet.gz", b"".join(gz(r) for r in wet_records))
# Uncompressed too: detection must not depend on gzip.
write("warc/sample.warc.wet", b"".join(wet_records))

# The last record promises more content than the file holds.
truncated = b"".join(wet_records)[:-60]
write("warc/truncated.warc.wet.gz", gz(truncated))
