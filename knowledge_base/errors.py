from helpdesk.core.errors import Conflict, DomainError, NotFound


class ArticleNotFound(NotFound):
    code = "article_not_found"
    message = "No such article."


class CategoryNotFound(NotFound):
    code = "category_not_found"
    message = "No such category."


class SectionNotFound(NotFound):
    code = "section_not_found"
    message = "No such section."


class RevisionNotFound(NotFound):
    code = "revision_not_found"
    message = "No such revision of this article."


class ArticleChanged(Conflict):
    code = "article_changed"
    message = (
        "Someone saved this article since you opened it. Your text is still here: keep a "
        "copy of what you changed, reload the article and make the change again."
    )


class ArticleSlugTaken(Conflict):
    code = "article_slug_taken"
    message = "An article with that address exists."


class CategoryNotEmpty(Conflict):
    code = "category_not_empty"
    message = "The category still has articles: move or delete them first."


class InvalidArticle(DomainError):
    code = "invalid_article"
    message = "That article is not valid."


class InvalidImage(DomainError):
    code = "invalid_image"
    message = "That image cannot be used."


class TranslationNotFound(NotFound):
    code = "translation_not_found"
    message = "This article has no translation in that language."


class InvalidTranslation(DomainError):
    code = "invalid_translation"
    message = "That translation is not valid."


class TranslationExists(Conflict):
    code = "translation_exists"
    message = "The article already has a translation in that language."
