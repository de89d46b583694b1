"""imapclient, imported without importlib.metadata when its version can be read directly.

imapclient/version.py sets `version` with `importlib.metadata.version("imapclient")` when
it is imported: that imports importlib.metadata (with csv, zipfile, email.parser and
importlib.resources) and scans every directory on sys.path for installed distributions,
about 17 ms of CPU, a quarter of what a whole raw smtplib + imaplib check costs. The same
answer is in the METADATA file of the dist-info directory installed beside the package, so
it is read from there and imapclient's version module is made from it: `imapclient.__version__`
and `version_info` are what they would have been. Nothing else of imapclient is touched.

When that cannot be done plainly (not exactly one dist-info directory beside the package,
no Version line, a version that is not X.Y.Z, or an imapclient whose version module has
other names than these two), imapclient is imported as it is, paying for the look-up.
"""

from __future__ import annotations

import os
import sys
import types

VERSION_MODULE = "imapclient.version"


def import_imapclient() -> types.ModuleType:
    """The imapclient package, imported (once) without the metadata scan where possible."""
    if "imapclient" not in sys.modules and VERSION_MODULE not in sys.modules:
        version_module = _version_module(_installed_version())
        if version_module is not None:
            sys.modules[VERSION_MODULE] = version_module
            try:
                import imapclient
            except ImportError:  # a version module unlike the one described above
                _forget_imapclient()
            else:
                return imapclient
    import imapclient

    return imapclient


def _installed_version() -> str | None:
    """The Version header of imapclient's METADATA, found beside the package (where the
    installer put both); None when it is not found there exactly once."""
    import importlib.util

    spec = importlib.util.find_spec("imapclient")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if len(locations) != 1:
        return None
    site = os.path.dirname(locations[0])
    try:
        found = [entry for entry in os.listdir(site)
                 if entry.lower().startswith("imapclient-") and entry.endswith(".dist-info")]
        if len(found) != 1:
            return None
        with open(os.path.join(site, found[0], "METADATA"), encoding="utf-8") as metadata:
            for line in metadata:
                if not line.strip():  # the headers end at the first blank line
                    break
                if line.startswith("Version:"):
                    return line.partition(":")[2].strip()
    except (OSError, UnicodeDecodeError):
        pass
    return None


def _version_module(version: str | None) -> types.ModuleType | None:
    """What imapclient/version.py defines: `version`, and `version_info` as
    (major, minor, micro, "final")."""
    parts = version.split(".") if version else []
    if len(parts) != 3 or not all(part.isascii() and part.isdigit() for part in parts):
        return None
    module = types.ModuleType(VERSION_MODULE)
    module.version = version
    module.version_info = (int(parts[0]), int(parts[1]), int(parts[2]), "final")
    return module


def _forget_imapclient() -> None:
    for name in [name for name in sys.modules if name == "imapclient" or name.startswith("imapclient.")]:
        del sys.modules[name]
