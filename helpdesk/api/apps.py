from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "helpdesk.api"
    label = "api"
