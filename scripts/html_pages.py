#!/usr/bin/env python3
"""Articles set in web pages: does `unspin` find the article, and does it
score the page as it scores the article's plain text?

Each article of a corpus folder (one text file per article, title on the
first line, as ../shared/data/bbc) is set in five page templates written
for this script, in the styles scraped news comes in: a semantic page
(header, navigation, a "most read" sidebar, footer), a div-soup page with
a related-stories box and a newsletter form, a blog post with share
buttons and reader comments, an old table layout with paragraphs split by
<br>, and a page with "READ MORE" cross-links between paragraphs. Every
word around the article (menus, headlines, comments) is ours.

    html_pages.py make LIST OUT             # pages of the files in LIST
    html_pages.py wet OUT                   # OUT/<template>.wet from the pages
    html_pages.py extraction LIST OUT RESTORED.jsonl
    html_pages.py agreement LIST OUT PLAIN.jsonl PAGES.jsonl
    html_pages.py marks OUT RESTORED.jsonl MARKED   # restore --format html

`make` writes OUT/<template>/<n>.html for the n-th file of LIST; `wet`
writes the pages' text as WET conversion records (every text block on a
line, as Common Crawl's WET files have it: no article extraction);
`extraction` compares the text `unspin restore --format json` read from
each page (its edits undone) with the article's words; `agreement`
compares `unspin score --format jsonl` of the pages with that of the plain
files. scripts/html-pages runs the three.
"""

import collections
import html
import html.parser
import json
import os
import re
import sys

TEMPLATES = ["semantic", "div-soup", "blog-comments", "table-br", "read-more"]

NAV = ["Home", "News", "World", "Business", "Technology", "Science", "Sport",
       "Arts", "Travel", "Weather", "Opinion", "Video"]

# Headlines and comments written for this script.
HEADLINES = [
    "Council approves plan for new riverside footbridge",
    "Local bakery wins regional prize for its sourdough",
    "Storm warning issued for coastal towns this weekend",
    "School choir to perform at the town hall in March",
    "Bus timetable changes come into force on Monday",
    "Museum extends opening hours over the summer months",
    "Volunteers clear litter from the canal towpath",
    "Hospital car park charges to be reviewed next year",
    "Cyclists call for safer junction near the station",
    "Library launches evening classes for beginners",
]

COMMENTS = [
    "I read this twice and I still have questions about the figures.",
    "Good to see this covered at last, it has been going on for months.",
    "Does anyone know where the full report can be found?",
    "My neighbour said the same thing last week, nobody listened then.",
    "Interesting piece, though I would have liked more detail on the costs.",
]

FOOTER = ("Contact us | Terms of use | Privacy policy | Cookies | "
          "Accessibility help | Advertise with us")


def read_article(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    lines = text.split("\n")
    title = lines[0].strip()
    body = "\n".join(lines[1:])
    paras = [p.strip().replace("\n", " ") for p in re.split(r"\n\s*\n", body)]
    paras = [p for p in paras if p]
    return title, paras


def esc(s):
    return html.escape(s, quote=True)


def head(title):
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{esc(title)} | The Daily Example</title>"
            f"<meta property=\"og:title\" content=\"{esc(title)}\">"
            "<link rel=\"stylesheet\" href=\"/css/site.css\">"
            "<script>window.dataLayer = window.dataLayer || [];</script>"
            "</head>\n")


def nav_links():
    return "".join(f"<li><a href=\"/{n.lower()}\">{n}</a></li>" for n in NAV)


def headlines(n, k):
    picks = [HEADLINES[(n + i) % len(HEADLINES)] for i in range(k)]
    return "".join(f"<li><a href=\"/story/{n}-{i}\">{esc(h)}</a></li>"
                   for i, h in enumerate(picks))


def page(template, n, title, paras):
    t, ps = esc(title), [esc(p) for p in paras]
    if template == "semantic":
        body = "".join(f"<p>{p}</p>\n" for p in ps)
        return (head(title) + "<body><header><div class=\"logo\">The Daily Example</div>"
                f"<nav><ul>{nav_links()}</ul></nav></header>\n<main><article>"
                f"<h1>{t}</h1><p class=\"byline\">By a staff reporter</p>"
                f"<time datetime=\"2005-03-01\">1 March 2005</time>\n{body}</article>\n"
                f"<aside><h2>Most read</h2><ol>{headlines(n, 5)}</ol></aside></main>\n"
                f"<footer><p>{FOOTER}</p></footer></body></html>\n")
    if template == "div-soup":
        body = "".join(f"<div class=\"txt\">{p}</div>\n" for p in ps)
        return (head(title) + "<body><div id=\"wrapper\"><div class=\"topmenu\">"
                + " | ".join(f"<a href=\"/{x.lower()}\">{x}</a>" for x in NAV)
                + "</div>\n<div class=\"content\"><div class=\"story-body\">"
                f"<h2 class=\"headline\">{t}</h2>\n{body}</div>\n"
                f"<div class=\"related\"><b>Related stories</b><ul>{headlines(n + 3, 4)}</ul></div>\n"
                "<div class=\"newsletter\"><form action=\"/subscribe\"><label>Get the "
                "morning briefing in your inbox</label><input type=\"email\" "
                "name=\"email\"><button>Sign up</button></form></div></div>\n"
                f"<div class=\"bottom\">{FOOTER}</div></div></body></html>\n")
    if template == "blog-comments":
        body = "".join(f"<p>{p}</p>\n" for p in ps)
        comments = "".join(
            f"<li class=\"comment\"><div class=\"comment-author\">reader{i + 1}</div>"
            f"<div class=\"comment-content\"><p>{esc(COMMENTS[(n + i) % len(COMMENTS)])}</p>"
            "</div><a class=\"reply\" href=\"#\">Reply</a></li>" for i in range(3))
        return (head(title) + "<body class=\"single-post\"><div id=\"page\">"
                f"<div class=\"site-header\"><ul class=\"menu\">{nav_links()}</ul></div>\n"
                f"<div class=\"post\"><h1 class=\"entry-title\">{t}</h1>"
                "<div class=\"entry-meta\">Posted on 1 March 2005 by editor</div>\n"
                f"<div class=\"entry-content\">\n{body}</div>\n"
                "<div class=\"sharedaddy\">Share this: <a href=\"#\">Facebook</a> "
                "<a href=\"#\">Twitter</a> <a href=\"#\">Email</a></div></div>\n"
                f"<div id=\"comments\"><h3>3 thoughts on this story</h3><ol>{comments}</ol>"
                "<div id=\"respond\"><h3>Leave a reply</h3><form><textarea></textarea>"
                "<input type=\"submit\" value=\"Post comment\"></form></div></div>\n"
                f"<div class=\"site-footer\">{FOOTER}</div></div></body></html>\n")
    if template == "table-br":
        body = "<br><br>\n".join(ps)
        return (head(title) + "<body><table width=\"100%\"><tr>"
                "<td class=\"left\" width=\"160\">"
                + "<br>".join(f"<a href=\"/{x.lower()}\">{x}</a>" for x in NAV)
                + "</td>\n<td class=\"main\"><font size=\"4\"><b>"
                f"{t}</b></font><br><br>\n{body}\n</td>"
                f"<td class=\"right\" width=\"200\"><b>Top stories</b><br>{headlines(n + 5, 3)}</td>"
                f"</tr></table><center><small>{FOOTER}</small></center></body></html>\n")
    if template == "read-more":
        out = []
        for i, p in enumerate(ps):
            out.append(f"<p>{p}</p>\n")
            if i % 3 == 2 and i + 1 < len(ps):
                h = esc(HEADLINES[(n + i) % len(HEADLINES)])
                out.append(f"<p><strong>READ MORE: <a href=\"/story/{n}-{i}\">{h}</a>"
                           "</strong></p>\n")
        return (head(title) + "<body><header><nav><ul>" + nav_links() + "</ul></nav></header>\n"
                f"<div class=\"article\"><h1>{t}</h1>\n" + "".join(out)
                + f"<div class=\"more\"><h3>More on this story</h3><ul>{headlines(n + 1, 3)}"
                f"</ul></div></div>\n<footer>{FOOTER}</footer></body></html>\n")
    raise ValueError(template)


def make(corpus_list, out):
    with open(corpus_list) as f:
        paths = [l.strip() for l in f if l.strip()]
    for template in TEMPLATES:
        os.makedirs(os.path.join(out, template), exist_ok=True)
    for n, path in enumerate(paths):
        title, paras = read_article(path)
        for template in TEMPLATES:
            with open(os.path.join(out, template, f"{n:05}.html"), "w", encoding="utf-8") as f:
                f.write(page(template, n, title, paras))


BLOCKS = {"p", "div", "li", "h1", "h2", "h3", "br", "tr", "td", "header", "footer", "nav",
          "aside", "article", "main", "title", "ul", "ol", "form", "label", "time", "center",
          "table"}


class PageText(html.parser.HTMLParser):
    """Every text block of a page on a line of its own, as in the WET files
    of Common Crawl (scripts and styles left out)."""

    def __init__(self):
        super().__init__()
        self.out, self.skip = [], 0

    def handle_starttag(self, tag, attrs):
        self.skip += tag in ("script", "style")
        if tag in BLOCKS:
            self.out.append("\n")

    def handle_endtag(self, tag):
        self.skip -= tag in ("script", "style")
        if tag in BLOCKS:
            self.out.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.out.append(data)

    def text(self):
        lines = (re.sub(r"[ \t]+", " ", l).strip() for l in "".join(self.out).split("\n"))
        return "\n".join(l for l in lines if l) + "\n"


def wet(out):
    """OUT/<template>.wet: each page of OUT/<template>/ as the text of a WET
    conversion record, with the page's path as its target URI."""
    for template in TEMPLATES:
        folder = os.path.join(out, template)
        with open(os.path.join(out, template + ".wet"), "wb") as w:
            for name in sorted(os.listdir(folder)):
                parser = PageText()
                with open(os.path.join(folder, name), encoding="utf-8") as f:
                    parser.feed(f.read())
                body = parser.text().encode("utf-8")
                w.write(b"WARC/1.0\r\nWARC-Type: conversion\r\n"
                        + f"WARC-Target-URI: {folder}/{name}\r\n".encode()
                        + b"Content-Type: text/plain\r\n"
                        + f"Content-Length: {len(body)}\r\n\r\n".encode() + body + b"\r\n\r\n")


def words(text):
    return re.findall(r"\w+", text.lower())


def input_text(record):
    """The text a record's edits were made to: the restored text with every
    edit undone (edits carry byte offsets into that text, in order)."""
    out = record["text"].encode("utf-8")
    for e in record.get("edits") or []:
        # Everything before this edit is the input's already.
        new, old = e["new"].encode("utf-8"), e["old"].encode("utf-8")
        at = e["start"]
        assert out[at:at + len(new)] == new, (record["source"], e)
        out = out[:at] + old + out[at + len(new):]
    return out.decode("utf-8")


def by_template(records, out):
    """(template, n) of each record's source page."""
    prefix = out.rstrip("/") + "/"
    for r in records:
        rel = r["source"][len(prefix):] if r["source"].startswith(prefix) else r["source"]
        template, name = rel.split("/")[-2:]
        yield template, int(name.split(".")[0]), r


def extraction(corpus_list, out, restored):
    with open(corpus_list) as f:
        paths = [l.strip() for l in f if l.strip()]
    with open(restored) as f:
        records = [json.loads(l) for l in f]
    stats = collections.defaultdict(lambda: collections.Counter())
    worst = collections.defaultdict(list)
    for template, n, r in by_template(records, out):
        s = stats[template]
        s["pages"] += 1
        if r.get("error"):
            s["errors"] += 1
            continue
        title, paras = read_article(paths[n])
        # The headline opens the text, as in the plain file.
        want = collections.Counter(words(title + "\n" + "\n".join(paras)))
        text = input_text(r)
        got = collections.Counter(words(text))
        both = sum((want & got).values())
        recall = both / max(1, sum(want.values()))
        precision = both / max(1, sum(got.values()))
        s["want"] += sum(want.values())
        s["got"] += sum(got.values())
        s["both"] += both
        s["complete"] += recall >= 0.999
        s["exact"] += recall >= 0.999 and precision >= 0.999
        s["title"] += text.split("\n")[0].split() == title.split()
        worst[template].append((recall, precision, r["source"]))
    print("| template | pages | errors | article words found | extracted words from the article | "
          "pages with every article word | pages with nothing else | text opens with the headline |")
    print("|---|---|---|---|---|---|---|---|")
    for template in TEMPLATES:
        s = stats[template]
        ok = s["pages"] - s["errors"]
        print(f"| {template} | {s['pages']} | {s['errors']} | {100 * s['both'] / max(1, s['want']):.2f}% | "
              f"{100 * s['both'] / max(1, s['got']):.2f}% | {100 * s['complete'] / max(1, ok):.1f}% | "
              f"{100 * s['exact'] / max(1, ok):.1f}% | {100 * s['title'] / max(1, ok):.1f}% |")
    for template in TEMPLATES:
        bad = sorted(worst[template])[:3]
        for recall, precision, source in bad:
            if recall < 0.999 or precision < 0.999:
                print(f"  lowest {template}: recall {recall:.3f} precision {precision:.3f} {source}",
                      file=sys.stderr)


def agreement(corpus_list, out, plain_jsonl, pages_jsonl):
    with open(corpus_list) as f:
        paths = [l.strip() for l in f if l.strip()]
    index = {p: i for i, p in enumerate(paths)}
    plain = {}
    with open(plain_jsonl) as f:
        for l in f:
            r = json.loads(l)
            plain[index[r["source"]]] = r
    stats = collections.defaultdict(lambda: collections.Counter())
    diffs = collections.defaultdict(list)
    with open(pages_jsonl) as f:
        records = [json.loads(l) for l in f]
    for template, n, r in by_template(records, out):
        s = stats[template]
        s["pages"] += 1
        p = plain[n]
        if r.get("error") or p.get("error"):
            s["errors"] += 1
            continue
        s["same"] += r["label"] == p["label"]
        s["spun_plain"] += p["label"] != "clean"
        s["spun_page"] += r["label"] != "clean"
        diffs[template].append(abs(r["spin_rate"] - p["spin_rate"]))
    print("| template | pages | same label as the plain text | not clean: plain / page | "
          "spin_rate difference: mean / 95th percentile |")
    print("|---|---|---|---|---|")
    for template in TEMPLATES:
        s = stats[template]
        ok = max(1, s["pages"] - s["errors"])
        d = sorted(diffs[template]) or [0.0]
        print(f"| {template} | {s['pages']} | {100 * s['same'] / ok:.1f}% | "
              f"{100 * s['spun_plain'] / ok:.1f}% / {100 * s['spun_page'] / ok:.1f}% | "
              f"{sum(d) / len(d):.4f} / {d[int(0.95 * (len(d) - 1))]:.4f} |")


def marks(out, restored, marked):
    """How many of `restore`'s edits (RESTORED, JSON) `restore --format html`
    marked in the pages it wrote under MARKED, and in the edits' order."""
    with open(restored) as f:
        records = [json.loads(l) for l in f]
    stats = collections.defaultdict(collections.Counter)
    for template, n, r in by_template(records, out):
        with open(os.path.join(marked, template, f"{n:05}.html"), encoding="utf-8") as f:
            page = f.read()
        found = [html.unescape(m) for m in re.findall(r'<mark title="spun: ([^"]*)">', page)]
        olds = [e["old"] for e in r.get("edits") or []]
        s = stats[template]
        s["edits"] += len(olds)
        s["marked"] += len(found)
        s["in order"] += found == olds
        s["pages"] += 1
        if found != olds:
            diff = next(
                (i for i, (a, b) in enumerate(zip(found, olds)) if a != b), min(len(found), len(olds))
            )
            print(f"  marks differ from the edits: {template}/{n:05} at mark {diff}: "
                  f"{found[diff:diff + 3]} against {olds[diff:diff + 3]}", file=sys.stderr)
    print("| template | edits | marked in the page | pages whose marks are the edits, in order |")
    print("|---|---|---|---|")
    for template in TEMPLATES:
        s = stats[template]
        print(f"| {template} | {s['edits']} | {100 * s['marked'] / max(1, s['edits']):.2f}% | "
              f"{100 * s['in order'] / max(1, s['pages']):.1f}% |")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"make": make, "wet": wet, "extraction": extraction, "agreement": agreement,
     "marks": marks}[cmd](*args)
