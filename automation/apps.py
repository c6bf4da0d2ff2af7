from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "automation"

    def ready(self) -> None:
        from automation import receivers  # noqa: F401  (connects the receivers)
        from automation.assignment import receivers as assignment_receivers  # noqa: F401
