from django.urls import path

from knowledge_base import api

app_name = "kb-api"

urlpatterns = [
    path("kb/categories/", api.KbCategoryListAPI.as_view(), name="category-list"),
    path(
        "kb/categories/<uuid:category_id>/",
        api.KbCategoryDetailAPI.as_view(),
        name="category-detail",
    ),
    path("kb/sections/", api.KbSectionListAPI.as_view(), name="section-list"),
    path("kb/sections/<uuid:section_id>/", api.KbSectionDetailAPI.as_view(), name="section-detail"),
    path("kb/articles/", api.KbArticleListAPI.as_view(), name="article-list"),
    path("kb/articles/<uuid:article_id>/", api.KbArticleDetailAPI.as_view(), name="article-detail"),
    path(
        "kb/articles/<uuid:article_id>/revisions/",
        api.KbRevisionListAPI.as_view(),
        name="revision-list",
    ),
    path(
        "kb/articles/<uuid:article_id>/revisions/<int:number>/",
        api.KbRevisionDetailAPI.as_view(),
        name="revision-detail",
    ),
    path(
        "kb/articles/<uuid:article_id>/revisions/<int:number>/restore/",
        api.KbRevisionRestoreAPI.as_view(),
        name="revision-restore",
    ),
    path(
        "kb/articles/<uuid:article_id>/translations/",
        api.KbTranslationListAPI.as_view(),
        name="translation-list",
    ),
    path(
        "kb/articles/<uuid:article_id>/translations/<str:language>/",
        api.KbTranslationDetailAPI.as_view(),
        name="translation-detail",
    ),
    path(
        "kb/articles/<uuid:article_id>/translations/<str:language>/revisions/",
        api.KbTranslationRevisionListAPI.as_view(),
        name="translation-revision-list",
    ),
    path(
        "kb/articles/<uuid:article_id>/translations/<str:language>/revisions/<int:number>/restore/",
        api.KbTranslationRevisionRestoreAPI.as_view(),
        name="translation-revision-restore",
    ),
    path("kb/preview/", api.KbPreviewAPI.as_view(), name="preview"),
    path("kb/theme/", api.KbThemeAPI.as_view(), name="theme"),
    path("kb/theme/logo/", api.KbThemeLogoAPI.as_view(), name="theme-logo"),
]
