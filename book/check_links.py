#!/usr/bin/env python3
"""Checks every link and image in the built book: a relative one must name a file the book
has, and its #fragment an id in that file. Links off the book (http, mailto) are not
fetched (CI has no internet); they are listed with --list-external.

    python3 book/check_links.py target/book
"""
import html.parser
import pathlib
import sys
import urllib.parse


class Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and "name" in attrs:
            self.ids.add(attrs["name"])
        for key in ("href", "src"):
            if attrs.get(key) and tag in ("a", "img", "link", "script"):
                self.links.append(attrs[key])


def parse(path, cache={}):
    if path not in cache:
        parser = Links()
        parser.feed(path.read_text(encoding="utf-8"))
        cache[path] = parser
    return cache[path]


def main():
    root = pathlib.Path(sys.argv[1]).resolve()
    pages = sorted(root.rglob("*.html"))
    if not pages:
        sys.exit(f"error: no HTML under {root}: build the book first (mdbook build book)")
    broken, external, checked = [], set(), 0
    for page in pages:
        for link in parse(page).links:
            url = urllib.parse.urlsplit(link)
            if url.scheme or link.startswith("//"):
                external.add(link)
                continue
            checked += 1
            target = page if not url.path else (page.parent / urllib.parse.unquote(url.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file() or root not in target.parents:
                broken.append(f"{page.relative_to(root)}: {link} (no such file)")
                continue
            if url.fragment and target.suffix == ".html":
                if urllib.parse.unquote(url.fragment) not in parse(target).ids:
                    broken.append(f"{page.relative_to(root)}: {link} (no such anchor)")
    if "--list-external" in sys.argv:
        print("\n".join(sorted(external)))
    for line in broken:
        print(f"broken link: {line}", file=sys.stderr)
    print(f"{checked} links in {len(pages)} pages checked, {len(broken)} broken, {len(external)} external not fetched")
    sys.exit(1 if broken else 0)


if __name__ == "__main__":
    main()
