"""Check the rows that existed before 0018 against its membership keys.

A migration of its own: VALIDATE CONSTRAINT takes a lock that lets reads and writes go on,
and any row naming another tenant's member stops it with the key in the error.
"""

import helpdesk.tenancy.rls
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('tickets', '0018_membership_tenant_fk'),
    ]

    operations = [
        helpdesk.tenancy.rls.ValidateTenantFK(model_name='message', name='tickets_message_author_member_tenant_fk'),
        helpdesk.tenancy.rls.ValidateTenantFK(model_name='notification', name='tickets_notification_member_tenant_fk'),
        helpdesk.tenancy.rls.ValidateTenantFK(model_name='notification', name='tickets_notification_actor_tenant_fk'),
        helpdesk.tenancy.rls.ValidateTenantFK(model_name='notificationsetting', name='tickets_notificationsetting_membership_tenant_fk'),
        helpdesk.tenancy.rls.ValidateTenantFK(model_name='satisfactionrating', name='tickets_satisfactionrating_assignee_tenant_fk'),
        helpdesk.tenancy.rls.ValidateTenantFK(model_name='savedview', name='tickets_savedview_owner_tenant_fk'),
        helpdesk.tenancy.rls.ValidateTenantFK(model_name='ticket', name='tickets_ticket_assignee_tenant_fk'),
        helpdesk.tenancy.rls.ValidateTenantFK(model_name='ticketread', name='tickets_ticketread_member_tenant_fk'),
    ]
