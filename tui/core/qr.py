"""A QR code drawn with Unicode half blocks, for a phone to open a sign-in URL shown in a
terminal (over SSH, where no image can be shown). Encoded by segno (pure Python).

Light modules are drawn as blocks and dark ones left as the terminal's background, the way
`qrencode -t UTF8` does: on the usual dark terminal the code reads dark-on-light, as
scanners expect. Each text line holds two rows of modules.
"""

from __future__ import annotations

QUIET_ZONE = 2  # modules of light border around the code (the standard asks 4; 2 scans fine)
_BLOCKS = {(True, True): "█", (True, False): "▀", (False, True): "▄", (False, False): " "}


def qr_lines(text: str) -> list[str]:
    """The QR code of `text` as lines of half blocks (light = block)."""
    import segno

    code = segno.make(text, error="l", micro=False)
    rows = [[not bool(module) for module in row] for row in code.matrix]  # True: a light module
    width = len(rows[0]) + 2 * QUIET_ZONE
    light_row = [True] * width
    rows = [light_row] * QUIET_ZONE + [[True] * QUIET_ZONE + row + [True] * QUIET_ZONE for row in rows]
    rows += [light_row] * QUIET_ZONE
    if len(rows) % 2:
        rows.append(light_row)
    return ["".join(_BLOCKS[top, bottom] for top, bottom in zip(rows[i], rows[i + 1])) for i in range(0, len(rows), 2)]
