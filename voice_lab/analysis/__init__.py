"""What the events mean: timelines, transcripts, latency and usage figures, protocol checks,
and the fold that keeps a session's panel figures. Pure: no Flask, no database."""
