"""`python -m attnclf` is the `attnclf` command."""

from .cli import main

main()
