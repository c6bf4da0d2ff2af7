from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "helpdesk.core"
    label = "core"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from helpdesk.core import checks, grants  # noqa: F401 - checks register on import

        # Django's own hook is the one place that runs after every migrate (also when tests
        # build their database), so table privileges for the runtime roles are granted there.
        post_migrate.connect(grants.grant_runtime_privileges, dispatch_uid="helpdesk-grants")
