"""The security checks `make test` runs, the same way locally and in CI (docs/security-checks.md):

    python -m config.checks [bandit] [imports] [audit]     (all three when none is named)

- bandit over our code ([tool.bandit] in pyproject.toml); an accepted finding carries a
  `# nosec BXXX  # reason` on its line and is listed in docs/security-checks.md.
- import-linter's contracts ([tool.importlinter]): the layers inside each app, no app importing
  another app's api.
- pip-audit over exactly the pinned set, constraints.txt. It needs a vulnerability service on the
  network: PyPI's JSON API for single releases, else OSV. When neither answers, it says loudly that
  nothing was audited and fails, unless PIP_AUDIT_OFFLINE_OK=1 (make test sets it, for machines
  that can reach the package index but not these services): then it passes without an audit.

Every check runs even when an earlier one failed; the exit status is 1 if any failed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess  # nosec B404  # runs the checkers with this interpreter
import sys
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PINS = ROOT / "constraints.txt"
BANDIT_TARGETS = ["helpline", "cases", "referrals", "channels_sms", "demo", "config", "bench", "manage.py"]
# Vulnerabilities pip-audit may report that do not affect us, each with its reason (and in
# docs/security-checks.md). Empty: nothing has been accepted.
IGNORED_VULNERABILITIES: dict[str, str] = {}
PROBE_SECONDS = 10
AUDIT_SECONDS = 600
# Bandit warns about every piece of an f-string sharing a line with a nosec comment for a test that
# fired on the whole string only: not findings.
_NOSEC_NOISE = re.compile(r"nosec encountered \(B\d+\), but no failed test")


def _run(argv: list[str], *, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # nosec B603  # our interpreter and fixed argv
        argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


def bandit() -> bool:
    argv = [sys.executable, "-m", "bandit", "-c", "pyproject.toml", "-r", "-q", "-f", "json"]
    proc = _run([*argv, *BANDIT_TARGETS], timeout=600)
    noise = "\n".join(line for line in proc.stderr.splitlines() if not _NOSEC_NOISE.search(line))
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        print(f"bandit: no report (exit {proc.returncode})\n{noise}\n{proc.stdout}")
        return False
    totals = report["metrics"]["_totals"]
    for issue in report["results"]:
        print(
            f"bandit: {issue['filename']}:{issue['line_number']} {issue['test_id']} "
            f"({issue['issue_severity'].lower()} severity, {issue['issue_confidence'].lower()} "
            f"confidence) {issue['issue_text']}\n{issue['code'].rstrip()}\n"
        )
    for error in report["errors"]:
        print(f"bandit: could not scan {error['filename']}: {error['reason']}")
    ok = proc.returncode == 0 and not report["results"] and not report["errors"]
    print(
        f"bandit: {len(report['results'])} finding(s) in {totals['loc']} lines of code; "
        f"{totals['skipped_tests']} accepted with `# nosec` (docs/security-checks.md)."
    )
    if not ok and noise:
        print(noise)
    return ok


def imports() -> bool:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    proc = _run([str(lint_imports), "--no-cache"], timeout=300)
    if proc.returncode != 0:
        print(proc.stdout, proc.stderr, sep="\n")
        return False
    kept = re.findall(r"^Contracts: .*$", proc.stdout, re.MULTILINE)
    print(f"import-linter: {kept[-1] if kept else 'contracts kept.'}")
    return True


def _pin(name: str) -> str:
    for line in PINS.read_text().splitlines():
        if line.lower().startswith(f"{name}=="):
            return line.split("==", 1)[1].strip()
    raise SystemExit(f"{PINS.name} pins no {name}")


def _answers(request: urllib.request.Request) -> str | None:
    """None when the service answered 200, else why not."""
    try:
        with urllib.request.urlopen(request, timeout=PROBE_SECONDS) as response:  # nosec B310  # https
            return None if response.status == 200 else f"HTTP {response.status}"
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}"
    except (urllib.error.URLError, OSError) as error:
        return str(getattr(error, "reason", error))


def _service() -> tuple[str | None, list[str]]:
    """The first vulnerability service pip-audit can use from here, and why the others cannot. Each
    is asked about a release that exists (our pinned requests), as pip-audit would ask."""
    version = _pin("requests")
    pypi = f"https://pypi.org/pypi/requests/{version}/json"
    osv = "https://api.osv.dev/v1/query"
    query = {"package": {"name": "requests", "ecosystem": "PyPI"}, "version": version}
    probes = [
        ("pypi", pypi, urllib.request.Request(pypi, headers={"Accept": "application/json"})),
        (
            "osv",
            osv,
            urllib.request.Request(
                osv, data=json.dumps(query).encode(), headers={"Content-Type": "application/json"}
            ),
        ),
    ]
    failures = []
    for service, url, request in probes:
        why = _answers(request)
        if why is None:
            return service, failures
        failures.append(f"{service}: {url} -> {why}")
    return None, failures


def _not_audited(reason: str) -> bool:
    offline_ok = os.environ.get("PIP_AUDIT_OFFLINE_OK") == "1"
    bar = "!" * 100
    print(f"{bar}\npip-audit: vulnerability service unreachable; NOT AUDITED.\n{reason}")
    if offline_ok:
        print("PIP_AUDIT_OFFLINE_OK=1: passing WITHOUT a vulnerability audit (docs/security-checks.md).")
    else:
        print("Failing: set PIP_AUDIT_OFFLINE_OK=1 to accept running without the audit.")
    print(bar)
    return offline_ok


def audit() -> bool:
    service, failures = _service()
    if service is None:
        return _not_audited("\n".join(failures))
    argv = [sys.executable, "-m", "pip_audit", "-r", str(PINS), "--no-deps", "--disable-pip"]
    # --strict: a pin the service does not know fails the audit instead of being skipped quietly.
    argv += ["--strict", "--progress-spinner", "off", "--timeout", "30", "-s", service]
    for vulnerability in IGNORED_VULNERABILITIES:
        argv += ["--ignore-vuln", vulnerability]
    try:
        proc = _run(argv, timeout=AUDIT_SECONDS)
    except subprocess.TimeoutExpired:
        return _not_audited(f"{service}: pip-audit did not finish in {AUDIT_SECONDS} s")
    output = "\n".join(part for part in (proc.stdout.strip(), proc.stderr.strip()) if part)
    print(f"pip-audit ({service}, {PINS.name}): {output}")
    return proc.returncode == 0


CHECKS = {"bandit": bandit, "imports": imports, "audit": audit}


def main(argv: list[str]) -> int:
    unknown = [name for name in argv if name not in CHECKS]
    if unknown:
        print(f"Unknown check(s) {', '.join(unknown)}; choose from {', '.join(CHECKS)}.", file=sys.stderr)
        return 2
    failed = [name for name in argv or list(CHECKS) if not CHECKS[name]()]
    if failed:
        print(f"Security checks failed: {', '.join(failed)}.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
