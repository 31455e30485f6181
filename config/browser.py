"""The browser the console's tests drive: Debian's Chromium (`chromium`), through Playwright.

    python -m config.browser        # prints the browser's path; installs it when missing

`make test` runs this first. When Chromium is missing it is installed with apt-get (as root, or
with `sudo -n` where that needs no password); where neither is possible it fails and names the
command to run. Nothing is downloaded from Playwright's own servers: `CHROMIUM` may name another
Chromium or Chrome binary."""

from __future__ import annotations

import os
import shutil
import subprocess  # nosec B404  # apt-get, with fixed arguments
import sys

INSTALL = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
HOW = "sudo apt-get install chromium   (or set CHROMIUM=/path/to/chromium)"


def find() -> str | None:
    """The Chromium to drive, or None."""
    named = os.environ.get("CHROMIUM", "")
    if named:
        return named if os.access(named, os.X_OK) else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _installer() -> list[str] | None:
    if shutil.which("apt-get") is None:
        return None
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0:  # nosec B603 B607
        return ["sudo", "-n"]
    return None


def ensure() -> str:
    found = find()
    if found or os.environ.get("CHROMIUM"):
        if not found:
            raise SystemExit(f"CHROMIUM={os.environ['CHROMIUM']} is not an executable file.")
        return found
    prefix = _installer()
    if prefix is None:
        raise SystemExit(
            f"The console's browser tests need Chromium, and it could not be installed here: {HOW}"
        )
    print(
        "[lifeline] installing Chromium for the console's browser tests:",
        " ".join(prefix + INSTALL),
        flush=True,
    )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(prefix + INSTALL, env=env).returncode != 0:  # nosec B603
        # The package lists may be missing or stale on a fresh machine.
        subprocess.run([*prefix, "apt-get", "update"], env=env)  # nosec B603
        if subprocess.run(prefix + INSTALL, env=env).returncode != 0:  # nosec B603
            raise SystemExit(f"Installing Chromium failed; install it and run make test again: {HOW}")
    found = find()
    if not found:
        raise SystemExit(f"Chromium was installed but is not on PATH: {HOW}")
    return found


if __name__ == "__main__":
    print(ensure())
    sys.exit(0)
