"""`python -m tests.rewrite_ahead`: rewrite the test modules' asserts once, before the test
processes of `make test` start.

pytest rewrites a test module's asserts (to explain a failure) as it imports it and caches the
result next to the module. On a fresh checkout (CI) the five test processes of pytest-xdist
start at once and each rewrote every test module itself: ~1.6 s of CPU each, on two cores.
Here it is done once, in one process per core, into pytest's own cache (a file per module,
written whole and renamed into place, as pytest does). pytest still checks each cached file
against its module and rewrites it itself if it is out of date.

This uses parts of pytest that are not public: when anything is not as expected, it says so
in one line and leaves the rewriting to pytest, as before.
"""

from __future__ import annotations

import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

TESTS = Path(__file__).parent


class _NoTrace:
    @staticmethod
    def trace(message: str) -> None:
        """pytest's own would log it; a cache file not written is rewritten by pytest."""


def rewrite(path: Path) -> None:
    from _pytest.assertion import rewrite as pytest_rewrite

    cached = pytest_rewrite.get_cache_dir(path) / (path.name[:-3] + pytest_rewrite.PYC_TAIL)
    if pytest_rewrite._read_pyc(path, cached) is not None:
        return  # up to date
    source_stat, code = pytest_rewrite._rewrite_test(path, None)  # no config: pytest's defaults
    if pytest_rewrite.try_makedirs(cached.parent):
        pytest_rewrite._write_pyc(_NoTrace(), code, source_stat, cached)


def rewritten_modules() -> list[Path]:
    """What pytest rewrites here: the test modules, conftest.py and the plugins it names."""
    from tests.conftest import pytest_plugins

    plugins = [TESTS / f"{name.removeprefix('tests.')}.py" for name in pytest_plugins]
    return sorted(TESTS.glob("test_*.py")) + [TESTS / "conftest.py", *plugins]


def main() -> int:
    try:
        modules = rewritten_modules()
        with ProcessPoolExecutor() as pool:
            list(pool.map(rewrite, modules))
    except Exception as error:  # noqa: BLE001 - pytest does the work itself then
        print(f"tests/rewrite_ahead.py: left to pytest ({type(error).__name__}: {error})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
