"""Tests that belong to no single app: browser tours (``e2e``) and the reliability suite (R1–R7).

App tests live next to their app (``tenantatlas/<app>/tests/``); these drive the whole product.
"""
