from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from automation.models import CannedResponseScope
from departments.models import Department


class CannedResponseForm(forms.Form):
    title = forms.CharField(max_length=120)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), max_length=50_000)
    scope = forms.ChoiceField(choices=CannedResponseScope.choices)
    # A bare QuerySet: the scoped manager would need a tenant at import time.
    department = forms.ModelChoiceField(queryset=QuerySet(model=Department).none(), required=False)

    def __init__(self, *args: Any, departments: Any, is_admin: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = departments
        if not is_admin:
            self.fields["scope"].choices = [(CannedResponseScope.PERSONAL, "Only me")]
