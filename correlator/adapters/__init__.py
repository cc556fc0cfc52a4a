"""Adapters: each supported alert payload format → canonical alerts (DESIGN §4).

Pure: no I/O and no clock reads (`received_at` is passed in). `decode_payload` is the entry
point; one module per format holds that format's knowledge.
"""

from __future__ import annotations

from correlator.adapters.decode import (
    FORMATS,
    MAX_BYTES,
    DeadLetter,
    Decoded,
    decode_payload,
    detect,
    excerpt,
)

__all__ = ["FORMATS", "MAX_BYTES", "DeadLetter", "Decoded", "decode_payload", "detect", "excerpt"]
