"""Mail HTML made safe to show, plain text from HTML, and the new part of a reply.

Sanitizing (nh3, the Ammonia sanitizer): no scripts, styles sheets, forms or event
handlers; links keep only http(s) and mailto; remote images do not load until the agent
asks (their address moves to `data-remote-src`, which keeps only absolute http(s) URLs);
`cid:` images point at stored attachments.
"""

from __future__ import annotations

import html as html_lib
import re
from urllib.parse import urlsplit

import nh3

from tickets.mail_in import quotes

ALLOWED_TAGS = frozenset(
    {
        "a",
        "abbr",
        "b",
        "blockquote",
        "br",
        "caption",
        "code",
        "col",
        "colgroup",
        "dd",
        "del",
        "div",
        "dl",
        "dt",
        "em",
        "font",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "img",
        "ins",
        "li",
        "ol",
        "p",
        "pre",
        "q",
        "s",
        "small",
        "span",
        "strike",
        "strong",
        "sub",
        "sup",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "u",
        "ul",
    }
)
ALLOWED_ATTRIBUTES = {
    "*": {"title", "dir", "lang", "align", "colspan", "rowspan", "width", "height"},
    "a": {"href", "name"},
    "img": {"src", "alt", "data-remote-src"},
    "font": {"color"},
}
# Within one tag ([^<>]): a scan that may cross into the next `<img` made "<img " * n
# quadratic (a 500 KB mail took minutes, past the worker's time limit).
_IMG_SRC = re.compile(r"""(<img\b[^<>]*?\s)src(\s*=\s*["']?\s*)(https?:)""", re.IGNORECASE)
_NOT_TEXT = {"script", "style", "head", "title"}
_CID = re.compile(r"""cid:([^"'\s>]+)""", re.IGNORECASE)
_BLOCK_END = re.compile(r"</(p|div|tr|h[1-6]|li|blockquote|table)>|<br\s*/?>", re.IGNORECASE)


def sanitize_html(html: str, *, cid_urls: dict[str, str] | None = None) -> str:
    """Safe HTML for the agent's browser; `cid_urls` maps Content-IDs to attachment URLs."""
    if not html.strip():
        return ""
    html = _IMG_SRC.sub(r"\1data-remote-src\2\3", html)
    if cid_urls:
        html = _CID.sub(lambda m: cid_urls.get(m.group(1).strip("<>"), "about:blank"), html)
    local_sources = set((cid_urls or {}).values())

    def only_local_images(element: str, attribute: str, value: str) -> str | None:
        # The pattern above misses sources hidden by odd markup (`//host/x`, `<img/src=`,
        # entities, a `>` in an earlier attribute); none of them may load by itself.
        if element == "img" and attribute == "src" and value not in local_sources:
            return None
        # The mail may carry its own data-remote-src: the page loads it as an image address
        # once the agent consents, so only an absolute http(s) URL is kept.
        if attribute == "data-remote-src":
            value = value.strip()
            return value if is_web_url(value) else None
        return value

    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes={key: set(value) for key, value in ALLOWED_ATTRIBUTES.items()},
        attribute_filter=only_local_images,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def is_web_url(value: str) -> bool:
    """An absolute http(s) URL with a host and no control characters."""
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in {"http", "https"} and bool(parts.hostname)


def html_to_text(html: str) -> str:
    """Readable text from HTML: block ends become line breaks, tags go (scripts, styles and
    the head with what they hold), entities decode. The HTML parser does the dropping: a
    pattern from each `<script>` to its end tag was quadratic in unclosed ones."""
    text = _BLOCK_END.sub("\n", html)
    text = nh3.clean(text, tags=set(), clean_content_tags=_NOT_TEXT)
    text = html_lib.unescape(text)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def split_quoted(text: str, html: str = "") -> tuple[str, str]:
    """(new part, quoted history and signatures) of a mail's text, using its HTML's structure
    when it has HTML; nothing is dropped. The rules: `tickets.mail_in.quotes`."""
    separation = quotes.separate(text, html)
    return separation.visible, separation.quoted


_QUOTE_BLOCK_START = re.compile(r"<(?:div|p|blockquote|hr|table)\b", re.IGNORECASE)
_FIRST_BLOCKQUOTE = re.compile(r"<blockquote\b", re.IGNORECASE)
_WORD_GAP = r"(?:\s|&nbsp;|&#160;|<[^>]*>)+"
ATTRIBUTION_WORDS = 6


def split_html_quote(html: str, quoted_text: str) -> tuple[str, str]:
    """(new part, quoted history) of a mail's sanitized HTML, for showing the formatted
    mail with its history collapsed as the text is. The cut is where the quoted text's
    first line (its attribution, "On … wrote:") starts, at the block around it, else at the
    first blockquote; both halves are sanitized again, which closes what the cut left open.
    Without quoted text, or nowhere to cut, everything is the new part."""
    if not quoted_text.strip() or not html:
        return html, ""
    first_line = next((line for line in quoted_text.splitlines() if line.strip()), "")
    words = [re.escape(html_lib.escape(word, quote=False)) for word in first_line.split()]
    cut = -1
    if words:
        found = re.search(_WORD_GAP.join(words[:ATTRIBUTION_WORDS]), html)
        if found:
            starts = [m.start() for m in _QUOTE_BLOCK_START.finditer(html, 0, found.start())]
            cut = starts[-1] if starts else found.start()
    if cut < 0:
        blockquote = _FIRST_BLOCKQUOTE.search(html)
        cut = blockquote.start() if blockquote else -1
    if cut <= 0:
        return html, ""
    tags = set(ALLOWED_TAGS)
    attributes = {key: set(value) for key, value in ALLOWED_ATTRIBUTES.items()}
    # Already sanitized: this pass only mends the structure the cut broke.
    new = nh3.clean(
        html[:cut],
        tags=tags,
        attributes=attributes,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    old = nh3.clean(
        html[cut:],
        tags=tags,
        attributes=attributes,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return new, old
