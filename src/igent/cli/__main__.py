"""``python -m igent.cli``: the same as the ``igent`` console script."""

from igent.cli import main

main()
