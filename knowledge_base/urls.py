from django.urls import path

from knowledge_base import views

app_name = "knowledge_base"

urlpatterns = [
    path("", views.article_list, name="article-list"),
    path("new/", views.article_new, name="article-new"),
    path("categories/", views.categories, name="categories"),
    path("preview/", views.preview, name="preview"),
    path("theme/", views.theme, name="theme"),
    path("images/<uuid:image_id>/", views.image, name="image"),
    path("<slug:slug>/", views.article_detail, name="article-detail"),
    path("<slug:slug>/edit/", views.article_edit, name="article-edit"),
    path("<slug:slug>/delete/", views.article_delete, name="article-delete"),
    path(
        "<slug:slug>/translations/<str:language>/",
        views.translation_edit,
        name="translation-edit",
    ),
    path(
        "<slug:slug>/translations/<str:language>/revisions/<int:number>/restore/",
        views.translation_revision_restore,
        name="translation-revision-restore",
    ),
    path(
        "<slug:slug>/translations/<str:language>/delete/",
        views.translation_delete,
        name="translation-delete",
    ),
    path("<slug:slug>/images/", views.image_upload, name="image-upload"),
    path("<slug:slug>/revisions/", views.revision_list, name="revision-list"),
    path(
        "<slug:slug>/revisions/<int:number>/",
        views.revision_detail,
        name="revision-detail",
    ),
    path(
        "<slug:slug>/revisions/<int:number>/restore/",
        views.revision_restore,
        name="revision-restore",
    ),
]
