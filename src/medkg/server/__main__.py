"""``python -m medkg.server``: the ``serve`` command with all its options."""

from .command import serve

if __name__ == "__main__":
    serve(prog_name="python -m medkg.server")
