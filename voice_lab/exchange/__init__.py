"""Export and import of event logs: Voice Lab's versioned JSON (export.py), and imports of that,
of JSON Lines and of bare event arrays (imports.py), read a piece at a time (reader.py); the
bundle, the export with the recording in one ZIP (bundle.py); OpenTelemetry traces, written as
OTLP JSON Lines (otlp.py) and pushed live (otlp_push.py).
"""
