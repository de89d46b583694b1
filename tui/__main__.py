"""`python -m tui` and the `mailprov` command. A Ctrl+C while the CLI is still being
imported is as quiet as one inside main(): one line and exit 130, never a traceback."""


def run() -> int:
    try:
        from tui.cli import main

        return main()
    except KeyboardInterrupt:
        import sys

        print("mailprov: interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(run())
