"""Markdown to safe HTML, the one renderer for articles (the editor's preview, the agent
pages, the help center and the API all show its output).

markdown-it-py parses CommonMark with tables and strikethrough and escapes raw HTML; nh3
(ammonia) then keeps only the tags and attributes below, so no script, style, iframe or
event handler survives, links get `rel="noopener noreferrer nofollow"`, and an image shows
only when it is one of the knowledge base's own uploads (`/kb/images/<id>/`).
"""

from __future__ import annotations

import html as html_lib
import re

import nh3
from markdown_it import MarkdownIt

_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_MARKDOWN.enable(["table", "strikethrough"])

IMAGE_SRC = re.compile(r"^/kb/images/[0-9a-f-]{36}/$")

_TAGS = {
    "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "img", "li", "ol", "p", "pre", "s", "strong", "table", "tbody", "td", "th", "thead", "tr",
    "ul",
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
}


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    if tag == "img" and attribute == "src":
        return value if IMAGE_SRC.match(value) else None
    return value


def render_markdown(body: str) -> str:
    """The article body as sanitized HTML."""
    html = _MARKDOWN.render(body)
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        attribute_filter=_attribute_filter,
        strip_comments=True,
    )


def plain_text(body: str) -> str:
    """The body without Markdown or HTML (the reply editor inserts this into a reply)."""
    html = _MARKDOWN.render(body)
    text = nh3.clean(html, tags=set(), attributes={})
    return html_lib.unescape(re.sub(r"\n{3,}", "\n\n", text)).strip()
