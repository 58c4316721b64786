pytest_plugins = ["tenantatlas.testing"]
