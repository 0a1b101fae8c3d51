"""`python -m aisonar` is the `aisonar` command."""

from aisonar.cli import main

main()
