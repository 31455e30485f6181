"""Compiles the translation catalogues (`<app>/locale/<lang>/LC_MESSAGES/django.po`) into the `.mo`
files gettext reads, in Python (Babel), so `make run` and `make test` need no GNU gettext.

    python -m config.catalogues           # compile what changed (a .mo older than its .po)
    python -m config.catalogues --force   # compile every catalogue

Run by `make install`'s targets and the production image; `.mo` files are build output, not kept
in git. Writing the catalogues: `make messages` (docs/languages.md)."""

import argparse
import os
import sys
import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
# The project's own apps; a catalogue anywhere else (the virtualenv) is not ours to compile.
APPS = ("helpline", "cases", "referrals", "channels_sms", "notifications", "reports", "console", "config")


def catalogues() -> list[Path]:
    return sorted(p for app in APPS for p in (ROOT / app).glob("locale/*/LC_MESSAGES/*.po"))


def compile_catalogue(po: Path, *, force: bool = False) -> bool:
    """Writes po's .mo when it is missing or older; True when written."""
    mo = po.with_suffix(".mo")
    if not force and mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
        return False
    with po.open("rb") as source:
        catalogue = read_po(source, abort_invalid=True)
    # A file of this run's own, then renamed: a process reading the catalogue, or another compile
    # of the same checkout, never sees half a file.
    handle, name = tempfile.mkstemp(dir=mo.parent, prefix=".django.", suffix=".mo-partial")
    try:
        with os.fdopen(handle, "wb") as target:
            write_mo(target, catalogue, use_fuzzy=False)
        os.chmod(name, 0o644)  # mkstemp's 0600 would hide it from a service user
        os.replace(name, mo)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--force", action="store_true", help="compile every catalogue")
    args = parser.parse_args(argv)
    written = [po for po in catalogues() if compile_catalogue(po, force=args.force)]
    for po in written:
        print(f"[lifeline] compiled {po.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
