from tenantatlas.operations.tests.factories import contoso, fabrikam, initech  # noqa: F401
