"""Content-Security-Policy on every response: the second guard behind the mail sanitizer.

Pages load scripts, styles, fonts and images only from the help desk itself: no inline
script, no eval (htmx runs with `allowEval: false`), no style attributes. Images may also be
`data:` URLs (icons in stylesheets). Remote images in customer mail load only after the
agent consents: the view that renders the consenting page calls `allow_remote_images`,
which widens `img-src` for that one response.

The API's HTML pages (DRF's browsable API, the Swagger UI at /api/docs/) are third-party
templates with inline style attributes and show no mail: they also get 'unsafe-inline'
for styles, never for scripts.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"
SELF = "'self'"
POLICY: dict[str, tuple[str, ...]] = {
    "default-src": (SELF,),
    "script-src": (SELF,),
    "style-src": (SELF,),
    "img-src": (SELF, "data:"),
    "font-src": (SELF,),
    "connect-src": (SELF,),
    "object-src": ("'none'",),
    "base-uri": ("'none'",),
    "frame-ancestors": ("'none'",),
}
REMOTE_IMAGE_SOURCES = (SELF, "data:", "https:", "http:")
API_HTML_PATHS = ("/api/",)
# Set on a response by `allow_remote_images`; read by the middleware.
_REMOTE_IMAGES_ATTRIBUTE = "helpdesk_csp_remote_images"


def allow_remote_images(response: HttpResponse) -> HttpResponse:
    """Let this one response's page load images from any http(s) host (the agent asked)."""
    setattr(response, _REMOTE_IMAGES_ATTRIBUTE, True)
    return response


def policy_for(request: HttpRequest, response: HttpResponse) -> str:
    """The policy header value for this response."""
    directives = dict(POLICY)
    if getattr(response, _REMOTE_IMAGES_ATTRIBUTE, False):
        directives["img-src"] = REMOTE_IMAGE_SOURCES
    if request.path.startswith(API_HTML_PATHS):
        directives["style-src"] = (SELF, "'unsafe-inline'")
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if HEADER not in response:
            response[HEADER] = policy_for(request, response)
        return response
