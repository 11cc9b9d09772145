"""`python -m voice_lab.testing` serves Voice Lab the way `voice_lab_server` starts it."""

from ..serving import serve

serve()
