"""An export's file is never on disk in clear: encrypted as it is written (AES-256-GCM in chunks,
its own key, itself encrypted), so the bytes on disk hold none of the rows; a file altered, cut
short, reordered or moved to another export is refused, never decrypted into something else."""

import io
from pathlib import Path

import pytest

from reports.exports import sealed
from reports.models import Export
from tests.exports import CHILD_SMS, NAME, content, download, export, seed
from tests.twilio_signing import PUBLIC, TOKEN

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def twilio_settings(settings, sms_number, tmp_path):
    settings.TWILIO_AUTH_TOKEN, settings.PUBLIC_BASE_URL = TOKEN, PUBLIC
    settings.EXPORT_DIR = str(tmp_path / "exports")


def test_the_file_on_disk_holds_nothing_in_clear(api, supervisor, operator, walk_in, settings):
    seed(api, operator, walk_in)
    export_id = export(api, supervisor, "cases", "csv", mode="full", reason="An inquiry")
    stored = Export.objects.get()
    on_disk = (Path(settings.EXPORT_DIR) / stored.file_name).read_bytes()
    clear = content(download(api, supervisor, export_id))
    assert NAME.encode() in clear and CHILD_SMS.encode() in clear
    assert on_disk.startswith(sealed.MAGIC)
    for text in (NAME.encode(), CHILD_SMS.encode(), b"case_id", b"reference"):
        assert text not in on_disk
    assert stored.size == len(on_disk) and stored.rows == 2
    # The file's key is not in the database in clear either.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT file_key FROM reports_export WHERE id = %s", [export_id])
        (column,) = cursor.fetchone()
    assert column != stored.file_key and stored.file_key not in column


def seal(data: bytes, *, export_id: int = 7) -> tuple[bytes, str]:
    key, out = sealed.new_key(), io.BytesIO()
    writer = sealed.SealedWriter(out, key=key, export_id=export_id)
    for start in range(0, len(data), 300_000):
        writer.write(data[start : start + 300_000])
    writer.close()
    return out.getvalue(), key


def opened(data: bytes, key: str, *, export_id: int = 7) -> bytes:
    return b"".join(sealed.opened(io.BytesIO(data), key=key, export_id=export_id))


@pytest.mark.parametrize("size", [0, 1, sealed.CHUNK, sealed.CHUNK + 1, 3 * sealed.CHUNK + 5])
def test_what_is_sealed_opens_as_it_was(size):
    data = bytes(i % 251 for i in range(size))
    file, key = seal(data)
    assert opened(file, key) == data


def chunks(file: bytes) -> list[bytes]:
    """The sealed file's chunks (length prefix included), after its header."""
    rest, found = file[len(sealed.MAGIC) + 7 :], []
    while rest:
        length = 4 + int.from_bytes(rest[:4], "big")
        found.append(rest[:length])
        rest = rest[length:]
    return found


def test_altered_cut_reordered_or_moved_files_are_refused():
    data = bytes(i % 253 for i in range(3 * sealed.CHUNK))
    file, key = seal(data)
    header, parts = file[: len(sealed.MAGIC) + 7], chunks(file)
    assert len(parts) == 3
    flipped = bytearray(file)
    flipped[len(file) // 2] ^= 1
    attempts = {
        "a bit flipped": bytes(flipped),
        "the last chunk dropped": header + b"".join(parts[:2]),
        "two chunks swapped": header + parts[1] + parts[0] + parts[2],
        "cut inside a chunk": file[:-10],
        "only its header": header,
    }
    for what, altered in attempts.items():
        with pytest.raises(sealed.SealedFileError):
            opened(altered, key)
            pytest.fail(what)
    with pytest.raises(sealed.SealedFileError):
        opened(file, key, export_id=8)  # another export's
    with pytest.raises(sealed.SealedFileError):
        opened(file, sealed.new_key())  # another key
