"""``python -m embedrec``: the same as the ``embedrec`` command."""

from embedrec.cli.main import main

if __name__ == "__main__":
    main()
