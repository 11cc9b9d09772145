"""The web face: blueprints for the API, the call page and the dashboard, the security guard,
and the panels' view models."""
