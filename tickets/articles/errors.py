"""Errors of tickets and articles (the API envelope maps them by code)."""

from helpdesk.core.errors import Conflict


class NotSolved(Conflict):
    code = "ticket_not_solved"
    message = "Only a solved or closed ticket becomes an article: solve it first."
