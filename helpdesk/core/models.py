"""Abstract base model shared by every table: UUIDv7 id and timestamps."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from helpdesk.core.ids import new_id


class BaseModel(models.Model):
    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
