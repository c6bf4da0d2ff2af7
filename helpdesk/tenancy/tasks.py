"""`tenant_task`: a Celery task whose body runs inside the tenant context of its `tenant_id`.

Built on the shared defaults of `helpdesk.core.tasks` (late acks, JSON, time limits, retries
with backoff); tenant-independent jobs use `helpdesk.core.tasks.system_task`. A task is named
after its own function's dotted path (or its `name=`), never after this module.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, cast, overload

from celery.contrib.django.task import DjangoTask

from helpdesk.core.errors import as_retryable
from helpdesk.core.tasks import TASK_DEFAULTS, register_task
from helpdesk.tenancy.context import tenant_context

logger = logging.getLogger(__name__)

_P = ParamSpec("_P")
_R = TypeVar("_R")


@overload
def tenant_task(func: Callable[_P, _R], /) -> DjangoTask[_P, _R]: ...
@overload
def tenant_task(
    *, own_transactions: bool = False, **options: Any
) -> Callable[[Callable[_P, _R]], DjangoTask[_P, _R]]: ...
def tenant_task(*args: Any, own_transactions: bool = False, **options: Any) -> Any:
    """Register a task whose body runs inside the tenant context of its `tenant_id` kwarg.

    With `own_transactions=True` the body enters `tenant_context(tenant_id)` itself, once per
    step that must be committed before the next begins (claim a row, talk to a peer, record
    the outcome); otherwise the whole body is one transaction."""

    def decorate(func: Callable[_P, _R]) -> DjangoTask[_P, _R]:
        body: Callable[..., _R] = func

        @functools.wraps(func)
        def run(*, tenant_id: str, **kwargs: Any) -> _R | None:
            try:
                if own_transactions:
                    return body(tenant_id=tenant_id, **kwargs)
                with tenant_context(tenant_id):
                    return body(tenant_id=tenant_id, **kwargs)
            except Exception as error:
                if _tenant_exists(tenant_id):
                    retryable = as_retryable(error, retried)
                    if retryable is error:
                        raise
                    raise retryable from error
                # Queued before its tenant was deleted: nothing left to do it for, and
                # retrying could never succeed.
                logger.warning(
                    "task %s dropped: tenant %s no longer exists", run.__name__, tenant_id
                )
                return None

        settings = {**TASK_DEFAULTS, **options}
        if "autoretry_for" in options:
            settings["autoretry_for"] = (*TASK_DEFAULTS["autoretry_for"], *options["autoretry_for"])
        retried: tuple[type[BaseException], ...] = settings["autoretry_for"]
        return cast("DjangoTask[_P, _R]", register_task(func, settings)(run))

    if args and callable(args[0]):
        return decorate(args[0])
    return decorate


def _tenant_exists(tenant_id: str) -> bool:
    """True also when it cannot be told (database down): then the error stands."""
    from helpdesk.tenancy.models import Tenant

    try:
        return Tenant.objects.filter(id=tenant_id).exists()
    except Exception:
        return True
