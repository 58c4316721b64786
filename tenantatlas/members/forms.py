from __future__ import annotations

from django import forms

from tenantatlas.workspaces.models import Role


class InviteForm(forms.Form):
    user = forms.CharField(
        label="Username or e-mail",
        max_length=254,
        strip=True,
        help_text="They join once they accept, signed in with that username or e-mail address.",
    )
    role = forms.ChoiceField(choices=Role.choices, initial=Role.READONLY)


class InvitationAnswerForm(forms.Form):
    action = forms.ChoiceField(choices=[("accept", "Accept"), ("decline", "Decline")])


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class WorkspaceForm(forms.Form):
    name = forms.CharField(label="Workspace name", max_length=100, strip=True)
