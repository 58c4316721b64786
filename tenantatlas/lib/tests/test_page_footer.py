"""Every page's footer names the product and its version, and speaks to the people using it."""

from __future__ import annotations

import importlib.metadata
import re
from typing import Any

from django.urls import reverse

from tenantatlas.testing import client_for


def footer_of(html: str) -> str:
    [footer] = re.findall(r"<footer[^>]*>(.*?)</footer>", html, re.S)
    return footer


def test_it_names_the_product_and_its_installed_version(alice: Any, acme: Any) -> None:
    version = importlib.metadata.version("tenantatlas")

    footer = footer_of(client_for(alice).get(reverse("providers:list", args=[acme.slug])).text)

    assert f"TenantAtlas {version}" in footer
    assert f'href="{reverse("api:openapi-view")}"' in footer


def test_it_carries_no_notes_about_how_pages_are_built(db: Any) -> None:
    footer = footer_of(client_for(None).get(reverse("accounts:login")).text)

    assert "TenantAtlas" in footer
    assert "database" not in footer
    assert "background jobs" not in footer
