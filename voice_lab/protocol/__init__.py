"""The realtime protocol as Voice Lab reads it: event names and categories, the JSON codec,
redaction, the event record. Pure: no Flask, no database."""
