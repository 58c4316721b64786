"""Changing a workspace's alert configuration: rules, channels, their secrets, test deliveries.

Pages and the API call these and nothing else to change a rule or a channel; each writes its
audit event in the same transaction. Every input rule is checked once (``inputs.py``), so both
surfaces refuse the same input with the same words: ``InvalidInput`` names the field at fault
(the form fields' names; the API maps them to its own).

Secrets are write-only. A webhook's signing secret is generated when none is given and handed
back once (``SavedChannel.new_secret``) for the page or the API answer to show; a Teams
workflow URL carries its own signature, so it is sealed like a secret and shown only as
``scheme://host/…``. A channel given a new URL or secret starts over as delivering.
"""

from tenantatlas.alerts.configuration.channels import (
    create_channel,
    delete_channel,
    replace_secret,
    send_test,
    update_channel,
)
from tenantatlas.alerts.configuration.inputs import (
    ChannelInput,
    RuleInput,
    SavedChannel,
    TestSent,
    change_kind_choices,
    channel_input_of,
    clean_params,
    live_connections,
    rule_input_of,
)
from tenantatlas.alerts.configuration.rules import create_rule, delete_rule, update_rule

__all__ = [
    "ChannelInput",
    "RuleInput",
    "SavedChannel",
    "TestSent",
    "change_kind_choices",
    "channel_input_of",
    "clean_params",
    "create_channel",
    "create_rule",
    "delete_channel",
    "delete_rule",
    "live_connections",
    "replace_secret",
    "rule_input_of",
    "send_test",
    "update_channel",
    "update_rule",
]
