"""An export's file at rest: encrypted as it is written, in chunks, and decrypted as it is read.

Nothing of an export is ever on disk in clear. The file is AES-256-GCM in 1 MiB chunks (the
"STREAM" construction of Hoang, Reyhanitabar, Rogaway and Vizár, as age and Tink use it): each
chunk's nonce is the file's random 7-byte prefix, the chunk's number (4 bytes) and a last-chunk
flag, and its associated data is the export's id, so a chunk cannot be reordered, dropped, moved
to another export's file, or the file cut short after a chunk, without the read failing. Each
export has its own random key, stored encrypted with the field keys (reports.models.Export)."""

from __future__ import annotations

import base64
import os
import struct
from collections.abc import Iterator
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"LLEXPORT1"
CHUNK = 1 << 20
_LENGTH = struct.Struct(">I")


class SealedFileError(Exception):
    """The file was altered, cut short, or is not this export's."""


def new_key() -> str:
    return base64.urlsafe_b64encode(AESGCM.generate_key(bit_length=256)).decode("ascii")


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    return prefix + struct.pack(">I", counter) + (b"\x01" if last else b"\x00")


class SealedWriter:
    """A binary file-like object that encrypts what is written to it into `out`."""

    def __init__(self, out: BinaryIO, *, key: str, export_id: int):
        self._out, self._aead = out, AESGCM(base64.urlsafe_b64decode(key))
        self._aad = str(export_id).encode()
        self._prefix = os.urandom(7)
        self._buffer = bytearray()
        self._counter = 0
        self._written = 0  # plaintext bytes (pyarrow asks for tell())
        self.closed = False
        out.write(MAGIC + self._prefix)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._buffer += data
        self._written += len(data)
        while len(self._buffer) > CHUNK:  # keep one back: the last chunk is flagged at close
            self._seal(bytes(self._buffer[:CHUNK]), last=False)
            del self._buffer[:CHUNK]
        return len(data)

    def _seal(self, chunk: bytes, *, last: bool) -> None:
        sealed = self._aead.encrypt(_nonce(self._prefix, self._counter, last), chunk, self._aad)
        self._out.write(_LENGTH.pack(len(sealed)) + sealed)
        self._counter += 1

    def tell(self) -> int:
        return self._written

    def flush(self) -> None:
        pass

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readable(self) -> bool:
        return False

    def close(self) -> None:
        if not self.closed:
            self._seal(bytes(self._buffer), last=True)
            self._buffer.clear()
            self.closed = True


def opened(stream: BinaryIO, *, key: str, export_id: int) -> Iterator[bytes]:
    """The clear bytes of a sealed file, a chunk at a time; raises SealedFileError if it was altered."""
    aead, aad = AESGCM(base64.urlsafe_b64decode(key)), str(export_id).encode()
    head = stream.read(len(MAGIC) + 7)
    if len(head) != len(MAGIC) + 7 or not head.startswith(MAGIC):
        raise SealedFileError("not an export file")
    prefix, counter = head[len(MAGIC) :], 0
    length = stream.read(_LENGTH.size)
    while length:
        if len(length) != _LENGTH.size:
            raise SealedFileError("cut short")
        sealed = stream.read(_LENGTH.unpack(length)[0])
        following = stream.read(_LENGTH.size)
        try:
            chunk = aead.decrypt(_nonce(prefix, counter, not following), sealed, aad)
        except InvalidTag:
            raise SealedFileError("altered, cut short, or another export's") from None
        yield chunk
        counter, length = counter + 1, following
    if counter == 0:
        raise SealedFileError("cut short")
