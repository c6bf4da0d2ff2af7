"""What the reply editor writes, as mail and as the thread shows it.

The editor's text is Markdown (bold, italics, links, lists, quotes, code) with pictures
pasted or dropped into it written as `![name](cid:<token>)`. `render_html` makes it
sanitized HTML: markdown-it-py escapes raw HTML, nh3 (ammonia) keeps only the tags below,
links keep http(s) and mailto and get `rel="noopener noreferrer nofollow"`, and an image
shows only when it is one of the message's own inline attachments (its `cid:` token maps
to the attachment's URL; anything else is dropped, so a reply never loads a remote image).
`render_text` is the plain-text alternative: the Markdown itself, which reads as text,
with each picture named in brackets.
"""

from __future__ import annotations

import re

import nh3
from markdown_it import MarkdownIt

# "breaks": a line break in the editor is a line break in the mail, as agents expect.
_MARKDOWN = MarkdownIt(
    "commonmark", {"html": False, "linkify": False, "typographer": False, "breaks": True}
)
_MARKDOWN.enable(["strikethrough"])
_MARKDOWN.disable(["heading", "lheading"])  # "# 1" at a line's start is a ticket number

TAGS = {
    "a", "blockquote", "br", "code", "del", "em", "hr", "img", "li", "ol", "p", "pre", "s",
    "strong", "ul",
}  # fmt: skip
ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt"}, "ol": {"start"}}
_CID_IMAGE = re.compile(r"!\[([^\]\n]*)\]\(cid:([A-Za-z0-9._-]{1,200})\)")
MAX_INLINE_TOKEN = 200


def inline_tokens(body: str) -> set[str]:
    """The `cid:` tokens of the pictures the text shows."""
    return {match.group(2) for match in _CID_IMAGE.finditer(body)}


def render_html(body: str, *, inline_urls: dict[str, str] | None = None) -> str:
    """The editor's Markdown as sanitized HTML; `inline_urls` maps a picture's token to the
    URL it is shown from (its attachment). Pictures without one are left out."""
    urls = inline_urls or {}

    def only_own_images(tag: str, attribute: str, value: str) -> str | None:
        if tag == "img" and attribute == "src":
            token = value[4:] if value.startswith("cid:") else ""
            return urls.get(token)
        return value

    return nh3.clean(
        _MARKDOWN.render(body),
        tags=TAGS,
        attributes={key: set(value) for key, value in ATTRIBUTES.items()},
        url_schemes={"http", "https", "mailto", "cid"},
        link_rel="noopener noreferrer nofollow",
        attribute_filter=only_own_images,
        strip_comments=True,
    ).strip()


def render_text(body: str) -> str:
    """The plain-text alternative: the Markdown as written, a picture as `[image: name]`."""
    return _CID_IMAGE.sub(lambda m: f"[image: {m.group(1) or m.group(2)}]", body).strip()
