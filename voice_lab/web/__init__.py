"""The web face: blueprints for the API, the call page, the sessions list and a session's page,
their template filters, the security guard, and the panels' view models."""
