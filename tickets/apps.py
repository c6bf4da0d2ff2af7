from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "tickets"

    def ready(self) -> None:
        from tickets import receivers  # noqa: F401 - connects them
        from tickets.mail_in import esp

        # anymail's inbound signal is how ESP webhooks deliver mail: the receiver only
        # hands the raw message to the durable intake.
        esp.connect()
