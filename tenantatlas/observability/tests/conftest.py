from __future__ import annotations

from tenantatlas.operations.tests.factories import contoso, fabrikam, initech

__all__ = ["contoso", "fabrikam", "initech"]
