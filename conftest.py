"""pytest plugins for the whole suite: the app tests (tenantatlas/<app>/tests) and tests/."""

pytest_plugins = ["tenantatlas.testing", "tenantatlas.simulator.testing"]
