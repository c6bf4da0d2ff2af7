from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "helpdesk.tenancy"
    label = "tenancy"
