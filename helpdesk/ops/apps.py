from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "helpdesk.ops"
    label = "ops"
