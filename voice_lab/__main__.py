"""`python -m voice_lab COMMAND`: the `voice-lab` command (run, doctor, export, import)."""

from .cli import main

if __name__ == "__main__":
    main()
