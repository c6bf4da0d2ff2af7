"""All outgoing mail: one builder, one outbox (`OutboundEmail`), one delivery task.

Replies, acknowledgements, status mails, surveys, agent notifications, invitations and
password resets are each built here from a template under templates/emails/, stored as an
`OutboundEmail` row (queued, with its own Message-ID) in the caller's transaction, and sent
by `deliver_outbound_email` after the commit. Nothing else imports django.core.mail or
anymail's sending side (an import-linter contract).
"""
