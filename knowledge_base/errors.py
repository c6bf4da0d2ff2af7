from helpdesk.core.errors import Conflict, NotFound


class ArticleNotFound(NotFound):
    code = "article_not_found"
    message = "No such article."


class ArticleSlugTaken(Conflict):
    code = "article_slug_taken"
    message = "An article with that address exists."
