"""Checks that an HTML page built from data shows the data as text: no markup but the page's own.

For the tests of pages that carry values from a shop's file (reports, index, model card, datasheet)::

    from html_check import live_markup
    assert live_markup(page, {"html", "head", "body", "p"}) == []

tests/ is on ``sys.path`` when pytest runs (as for ``from synthetic_shop import shop``).
"""

from __future__ import annotations

from html.parser import HTMLParser

# URL schemes that run code when followed; browsers ignore case, whitespace and control characters in them.
SCRIPT_SCHEMES = ("javascript:", "vbscript:", "data:text/html")
# elements whose content is code, not text: a payload found inside one of them is live
RAW_ELEMENTS = ("script", "style")


def _scheme(value: str) -> str:
    """An attribute value as a browser reads its scheme: without whitespace or control characters, lower-case."""
    return "".join(c for c in value if c > " " and c != "\x7f").lower()


class _Scanner(HTMLParser):
    """Collects what is live in a page: unexpected start tags, event handlers, script URLs, planted code."""

    def __init__(self, allowed_tags, markers):
        super().__init__(convert_charrefs=True)
        self.allowed, self.markers = {t.lower() for t in allowed_tags}, tuple(markers)
        self.found: list[str] = []
        self.raw: str | None = None  # the script or style element being read

    def handle_starttag(self, tag, attrs):
        if tag not in self.allowed:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            if value and _scheme(value).startswith(SCRIPT_SCHEMES):
                self.found.append(f"<{tag} {name}={value!r}>")
        self.raw = tag if tag in RAW_ELEMENTS else self.raw

    def handle_endtag(self, tag):
        if tag == self.raw:
            self.raw = None

    def handle_data(self, data):
        if self.raw:
            self.found.extend(f"{marker!r} in <{self.raw}>" for marker in self.markers if marker in data)


def live_markup(html_text: str, allowed_tags, markers=()) -> list[str]:
    """What in ``html_text`` is live markup beyond the page's own; ``[]`` when there is none.

    Reported: every start tag not in ``allowed_tags``, every attribute whose name
    starts with ``on`` (event handlers), every attribute value with a script URL
    (``javascript:`` ...), and, for pages whose own tags include ``<script>``
    (nbconvert's), every one of ``markers`` (e.g. a planted ``alert(``) found
    inside a script or style element.
    """
    scanner = _Scanner(allowed_tags, markers)
    scanner.feed(html_text)
    scanner.close()
    return scanner.found


class _Text(HTMLParser):
    """The text of a page as a reader sees it, and the cells of its tables."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.tables: list[list[list[str]]] = []
        self.skip = 0  # inside <script>, <style> or <title>: not shown in the page

    def handle_starttag(self, tag, attrs):
        if tag in (*RAW_ELEMENTS, "title"):
            self.skip += 1
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th") and self.tables and self.tables[-1]:
            self.tables[-1][-1].append("")

    def handle_endtag(self, tag):
        if tag in (*RAW_ELEMENTS, "title"):
            self.skip -= 1

    def handle_data(self, data):
        if self.skip:
            return
        self.parts.append(data)
        if self.tables and self.tables[-1] and self.tables[-1][-1]:
            self.tables[-1][-1][-1] += data


def _read(html_text: str) -> _Text:
    parser = _Text()
    parser.feed(html_text)
    parser.close()
    return parser


def page_text(html_text: str) -> str:
    """The text a reader sees (no script, style or title), whitespace runs as single spaces."""
    return " ".join("".join(_read(html_text).parts).split())


def tables(html_text: str) -> list[list[list[str]]]:
    """Every (not nested) table of ``html_text``: its rows (header rows too), each a list of stripped cell texts."""
    return [[[cell.strip() for cell in row] for row in table] for table in _read(html_text).tables]
