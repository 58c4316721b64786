pytest_plugins = ["tenantatlas.testing", "tenantatlas.simulator.testing"]
