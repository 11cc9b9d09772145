"""`python -m voice_lab COMMAND`: the same commands as `flask --app app COMMAND`."""

from flask.cli import FlaskGroup

from . import create_app

cli = FlaskGroup(create_app=create_app, help="Voice Lab commands (doctor, export, import, run).")

if __name__ == "__main__":
    cli()
