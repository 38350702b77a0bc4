"""``python -m rnnkit``: the same as the ``rnnkit`` command."""

from .cli import run

if __name__ == "__main__":
    run()
