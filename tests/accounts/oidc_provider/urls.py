"""A login form and django-oauth-toolkit's endpoints under /o/."""

from typing import Any

from django.contrib.auth import authenticate, login
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect
from django.urls import include, path
from django.utils.html import escape


def login_view(request: HttpRequest) -> Any:
    if request.method == "POST":
        user = authenticate(
            request,
            username=request.POST.get("username", ""),
            password=request.POST.get("password", ""),
        )
        if user is not None:
            login(request, user)
            return redirect(request.GET.get("next", "/"))
    token = escape(get_token(request))
    return HttpResponse(
        f'<form method="post"><input name="csrfmiddlewaretoken" value="{token}">'
        '<input name="username" aria-label="Username">'
        '<input name="password" type="password" aria-label="Password">'
        "<button>Sign in</button></form>"
    )


urlpatterns = [
    path("login/", login_view),
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
]
