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
    finally:
        _no_collection_at_exit()


def _no_collection_at_exit() -> None:
    """The process ends after this: Python's last garbage collection would walk every object
    the imports made (~10 ms of CPU, a sixth of a whole raw check's cost) only to free memory
    the system takes back anyway. Frozen objects are skipped by it; objects that are no longer
    referenced are still freed as usual. What must be closed is closed before this point (a
    command closes its database in tui.commands.run_command; the UI leaves by os._exit)."""
    import gc

    gc.freeze()


if __name__ == "__main__":
    raise SystemExit(run())
