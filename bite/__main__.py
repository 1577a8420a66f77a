"""Run the CLI with ``python -m bite``."""

from bite.cli import main

if __name__ == "__main__":
    main()
