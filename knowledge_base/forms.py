"""Forms of the agent pages: an article, its translation, a category, a section, an image."""

from __future__ import annotations

from typing import Any

from django import forms

from knowledge_base import selectors
from knowledge_base.models import Article, ArticleStatus, ArticleVisibility, Category, Section
from knowledge_base.services import BODY_LENGTH, TITLE_LENGTH


class ArticleForm(forms.Form):
    title = forms.CharField(max_length=TITLE_LENGTH)
    category: forms.ModelChoiceField[Category] = forms.ModelChoiceField(
        queryset=None, empty_label=None
    )
    section: forms.ModelChoiceField[Section] = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="(no section)"
    )
    body = forms.CharField(
        max_length=BODY_LENGTH,
        widget=forms.Textarea(attrs={"rows": 18, "spellcheck": "true"}),
        help_text="Markdown: # heading, **bold**, *italic*, [link](https://…), - lists, "
        "| tables |, `code`. Images: upload below, then insert.",
    )
    status = forms.ChoiceField(choices=ArticleStatus.choices, initial=ArticleStatus.DRAFT)
    visibility = forms.ChoiceField(
        choices=ArticleVisibility.choices, initial=ArticleVisibility.PUBLIC
    )
    tags = forms.CharField(
        required=False, max_length=1200, help_text="Separated by commas: billing, password"
    )
    related: forms.ModelMultipleChoiceField[Article] = forms.ModelMultipleChoiceField(
        queryset=None, required=False, widget=forms.SelectMultiple
    )
    note = forms.CharField(required=False, max_length=200, label="What changed (for the history)")
    # The revision the editor was opened on: a save from an older copy is refused.
    revision = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)

    def __init__(self, *args: Any, exclude_id: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Querysets evaluated per request, in the request's tenant.
        self.fields["category"].queryset = selectors.list_categories()  # type: ignore[attr-defined]
        self.fields["section"].queryset = selectors.list_sections()  # type: ignore[attr-defined]
        related = selectors.list_articles()
        if exclude_id is not None:
            related = related.exclude(id=exclude_id)
        self.fields["related"].queryset = related  # type: ignore[attr-defined]
        self.fields["section"].label_from_instance = (  # type: ignore[attr-defined]
            lambda section: f"{section.category.name}: {section.name}"
        )

    def clean_tags(self) -> list[str]:
        raw: str = self.cleaned_data.get("tags") or ""
        return [tag for tag in (part.strip() for part in raw.split(",")) if tag]


class TranslationForm(forms.Form):
    """An article's translation: its title and Markdown body (the language is in the URL)."""

    title = forms.CharField(max_length=TITLE_LENGTH)
    body = forms.CharField(
        max_length=BODY_LENGTH,
        widget=forms.Textarea(attrs={"rows": 18, "spellcheck": "true"}),
        help_text="Markdown, as in the article.",
    )


class CategoryForm(forms.Form):
    name = forms.CharField(max_length=120)
    description = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    position = forms.IntegerField(min_value=0, max_value=100_000, initial=0)


class SectionForm(forms.Form):
    category: forms.ModelChoiceField[Category] = forms.ModelChoiceField(
        queryset=None, empty_label=None
    )
    name = forms.CharField(max_length=120)
    position = forms.IntegerField(min_value=0, max_value=100_000, initial=0)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = selectors.list_categories()  # type: ignore[attr-defined]


class ImageForm(forms.Form):
    image = forms.FileField()


class ThemeForm(forms.Form):
    """The help center's look; the service checks the rules (colour form, logo type)."""

    name = forms.CharField(
        max_length=200, help_text="Shown in the help center, the portal and mail."
    )
    brand_colour = forms.CharField(
        max_length=7,
        required=False,
        label="Accent colour",
        widget=forms.TextInput(attrs={"type": "color"}),
        help_text="Buttons and links in the help center.",
    )
    logo = forms.FileField(
        required=False,
        help_text="PNG, JPEG, GIF or WebP, at most 512 KB.",
        widget=forms.ClearableFileInput(
            attrs={"accept": "image/png,image/jpeg,image/gif,image/webp"}
        ),
    )
    remove_logo = forms.BooleanField(required=False, label="Remove the logo")
