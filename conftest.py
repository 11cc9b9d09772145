"""Voice Lab's own test harness, loaded the way a user's suite loads it (see README)."""

pytest_plugins = ["voice_lab.testing"]
