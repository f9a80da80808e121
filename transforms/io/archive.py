"""Bounded decompression of gzip files and zip archives (zip bombs are a reject, not an outage).

Both stream: output is produced in chunks and counted, and decompression stops as soon as an
archive passes ``limits.max_decompressed_mb`` (all members together) or, past the first
``ratio_grace_mb``, expands more than ``limits.max_compression_ratio`` times its compressed size.
Sizes declared in archive headers are not trusted. Peak memory is bounded by the decompressed cap.
"""
from __future__ import annotations

import io
import zipfile
import zlib

from transforms.io.limits import MB, LimitExceeded, Limits

_CHUNK = 1 << 20


class BadArchive(Exception):
    def __init__(self, kind: str, message: str):
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


class _Budget:
    """Counts decompressed bytes of one archive against the caps."""

    def __init__(self, compressed: int, limits: Limits, what: str):
        self.compressed = max(1, compressed)
        self.limits = limits
        self.what = what
        self.total = 0

    def add(self, n: int) -> None:
        self.total += n
        lim = self.limits
        if self.total > lim.max_decompressed_bytes:
            raise LimitExceeded("archive_too_large", f"{self.what} expands past the configured cap of "
                                                     f"{lim.max_decompressed_mb:g} MB (limits.max_decompressed_mb)")
        if self.total > lim.ratio_grace_bytes and self.total > lim.max_compression_ratio * self.compressed:
            raise LimitExceeded("compression_ratio_exceeded",
                                f"{self.what} of {self.compressed} bytes expands more than "
                                f"{lim.max_compression_ratio:g} times (limits.max_compression_ratio); "
                                "possible zip bomb")


def is_gzip(data: bytes) -> bool:
    return data[:2] == b"\x1f\x8b"


def is_zip(data: bytes) -> bool:
    return data[:4] == b"PK\x03\x04"


def gunzip(data: bytes, limits: Limits) -> bytes:
    """Every member of a gzip stream, decompressed under the limits (``LimitExceeded``/``BadArchive``)."""
    budget = _Budget(len(data), limits, "gzip file")
    out = bytearray()
    rest = data
    while rest:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        buf = rest
        try:
            while buf:
                chunk = d.decompress(buf, _CHUNK)
                budget.add(len(chunk))
                out += chunk
                buf = d.unconsumed_tail
                if d.eof:
                    break
            while not d.eof:  # flush what is buffered inside the decompressor
                chunk = d.decompress(b"", _CHUNK)
                if not chunk:
                    break
                budget.add(len(chunk))
                out += chunk
        except zlib.error:
            raise BadArchive("bad_gzip", "truncated or corrupt gzip data") from None
        if not d.eof:
            raise BadArchive("bad_gzip", "truncated or corrupt gzip data")
        rest = d.unused_data
        if rest and not is_gzip(rest):
            if rest.strip(b"\x00"):
                raise BadArchive("bad_gzip", "trailing bytes after the gzip data")
            break
    return bytes(out)


def unwrap(data: bytes, limits: Limits) -> bytes:
    """The content of a file: gunzipped under the limits when it is gzip, as is otherwise."""
    return gunzip(data, limits) if is_gzip(data) else data


def zip_members(data: bytes, limits: Limits) -> list[tuple[str, str, bytes]]:
    """``(position, member name, bytes)`` of every file in a zip archive, in name order, under the limits."""
    budget = _Budget(len(data), limits, "zip archive")
    members = []
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = sorted((i for i in zf.infolist() if not i.is_dir()), key=lambda x: x.filename)
            for i, info in enumerate(infos):
                out = bytearray()
                with zf.open(info) as fh:
                    while True:
                        chunk = fh.read(_CHUNK)
                        if not chunk:
                            break
                        budget.add(len(chunk))
                        out += chunk
                members.append((f"member {i}", info.filename, bytes(out)))
    except LimitExceeded:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, zlib.error, NotImplementedError,
            RuntimeError, ValueError):
        raise BadArchive("bad_zip", "unreadable zip archive (corrupt, encrypted or an unsupported method)") from None
    return members
