"""What a GGUF file says of itself, read from its header without loading the model.

The header is a list of typed key-value pairs (GGUF v2/v3, little-endian). Scalars and
strings are kept; arrays (the tokenizer's vocabulary, mostly) are skipped and kept as
their length. Reading Gemma 3 270M's header (262k-token vocabulary) takes about 40 ms,
which is why the gateway reads it itself instead of loading the model or depending on the
`gguf` package: see docs/architecture.md, "Local models".
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
            10: "<Q", 11: "<q", 12: "<d"}
STRING = 8
"""The type code of a string value (tests write GGUF headers with it too)."""
_ARRAY = 9

FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
    11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
    17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS",
    23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S",
    29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0", 37: "TQ2_0", 38: "MXFP4_MOE",
}
"""llama.cpp's `general.file_type` values (enum llama_ftype) and their usual names."""


class GGUFError(ValueError):
    """The file is not a GGUF file this reader understands."""


@dataclass(frozen=True, slots=True)
class GGUFInfo:
    metadata: dict[str, object]
    """Every key: scalars and strings as they are, arrays as their length."""
    size_bytes: int

    @property
    def architecture(self) -> str | None:
        return _str(self.metadata.get("general.architecture"))

    @property
    def quantization(self) -> str | None:
        file_type = self.metadata.get("general.file_type")
        return FILE_TYPES.get(file_type, f"type {file_type}") if isinstance(file_type, int) else None

    @property
    def context_length(self) -> int | None:
        value = self.metadata.get(f"{self.architecture}.context_length")
        return value if isinstance(value, int) else None

    @property
    def chat_template(self) -> str | None:
        return _str(self.metadata.get("tokenizer.chat_template"))


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


class Cursor:
    """Reads a GGUF header's values one after another (`at`: the position in `data`)."""

    __slots__ = ("at", "data")

    def __init__(self, data) -> None:
        self.data, self.at = data, 0

    def unpack(self, fmt: str):
        value = struct.unpack_from(fmt, self.data, self.at)[0]
        self.at += struct.calcsize(fmt)
        return value

    def string(self) -> str:
        length = self.unpack("<Q")
        raw = self.data[self.at:self.at + length]
        self.at += length
        return bytes(raw).decode("utf-8", "replace")

    def skip_strings(self, count: int) -> None:
        data, at = self.data, self.at
        for _ in range(count):
            at += 8 + struct.unpack_from("<Q", data, at)[0]
        self.at = at

    def value(self, kind: int) -> object:
        if kind == STRING:
            return self.string()
        if kind == _ARRAY:
            item_kind, count = self.unpack("<I"), self.unpack("<Q")
            if item_kind == STRING:
                self.skip_strings(count)
            elif item_kind in _SCALARS:
                self.at += struct.calcsize(_SCALARS[item_kind]) * count
            else:  # nested arrays: walk them
                for _ in range(count):
                    self.value(item_kind)
            return count
        if kind not in _SCALARS:
            raise GGUFError(f"unknown value type {kind}")
        return self.unpack(_SCALARS[kind])


def read_gguf(path: Path) -> GGUFInfo:
    """The header of the GGUF file at `path`; raises OSError or GGUFError."""
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        if data[:4] != b"GGUF":
            raise GGUFError(f"{path} is not a GGUF file")
        cursor = Cursor(data)
        cursor.at = 4
        try:
            version = cursor.unpack("<I")
            if version < 2:
                raise GGUFError(f"{path}: GGUF version {version} is too old (2 or newer is read)")
            cursor.unpack("<Q")  # tensor count
            metadata = {}
            for _ in range(cursor.unpack("<Q")):
                key = cursor.string()
                metadata[key] = cursor.value(cursor.unpack("<I"))
        except struct.error:
            raise GGUFError(f"{path}: the GGUF header is cut short") from None
        return GGUFInfo(metadata, len(data))
