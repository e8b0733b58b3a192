"""``python -m medkg``: the same as the ``medkg`` command."""

from .cli import run

run()
