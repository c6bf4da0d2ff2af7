from rest_framework.pagination import CursorPagination


class IdCursorPagination(CursorPagination):
    """Newest first by UUIDv7 id; body {"results", "next", "previous"}."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
