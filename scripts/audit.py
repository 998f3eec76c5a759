"""make audit: the locked releases against known vulnerabilities (pip-audit), with a verdict that
never mistakes "could not ask" for "nothing found".

pip-audit reports a release it could not look up as skipped and still says "No known
vulnerabilities found"; here a skipped release, or a database that did not answer, fails the
audit with its own exit status, so that a closed network never passes for a clean lock.

Exit status: 0 every locked release was checked and none is affected; 1 a release is affected
(each finding printed with its advisory and the fixed versions); 2 the audit could not be done
(the database unreachable, or releases it does not know), with what pip-audit said.

Usage: python scripts/audit.py [--osv-url URL] [--ignore-vuln ID ...] REQUIREMENTS...
       (default: requirements/main.txt requirements/dev.txt; docs/dependencies.md says what to do
       with a finding)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCKS = (ROOT / "requirements" / "main.txt", ROOT / "requirements" / "dev.txt")


def main(argv: list[str] | None = None) -> int:
    """Run pip-audit over the lock and say what it found."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("requirements", nargs="*", type=Path, default=list(LOCKS))
    parser.add_argument("--osv-url", help="ask this OSV service instead of PyPI's database")
    parser.add_argument("--ignore-vuln", action="append", default=[], metavar="ID")
    parser.add_argument("--timeout", type=int, default=30)
    args = parser.parse_args(argv)
    command = [
        str(Path(sys.executable).with_name("pip-audit")),
        "--disable-pip",  # the lock pins and hashes everything: nothing to resolve
        "--require-hashes",
        "--progress-spinner=off",
        "--format=json",
        "--desc=off",
        f"--timeout={args.timeout}",
    ]
    if args.osv_url:
        command += ["--vulnerability-service=osv", f"--osv-url={args.osv_url}"]
    for vuln in args.ignore_vuln:
        command += ["--ignore-vuln", vuln]
    for requirements in args.requirements:
        command += ["-r", str(requirements)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    try:
        report = json.loads(done.stdout)
        dependencies = report["dependencies"]
    except (ValueError, KeyError, TypeError):
        print(done.stderr.strip(), file=sys.stderr)
        print(
            "make audit: the audit could not be done (the vulnerability database did not answer:"
            " see above). Nothing was checked; try again when it can be reached.",
            file=sys.stderr,
        )
        return 2
    skipped = [d for d in dependencies if d.get("skip_reason")]
    findings = [(d, v) for d in dependencies for v in d.get("vulns", [])]
    for dependency, vuln in findings:
        fixed = ", ".join(vuln.get("fix_versions", [])) or "no fixed release yet"
        aliases = ", ".join(vuln.get("aliases", []))
        print(
            f"{dependency['name']} {dependency['version']}: {vuln['id']}"
            + (f" ({aliases})" if aliases else "")
            + f"; fixed in: {fixed}"
        )
    for dependency in skipped:
        print(f"not checked: {dependency['skip_reason']}", file=sys.stderr)
    if findings:
        print(
            f"make audit: {len(findings)} known vulnerabilit{'y' if len(findings) == 1 else 'ies'}"
            " in locked releases; docs/dependencies.md (Audit) says what to do",
            file=sys.stderr,
        )
        return 1
    if skipped or done.returncode != 0:
        print(
            f"make audit: the audit could not be done: {len(skipped)} of {len(dependencies)}"
            " locked releases were not checked (the vulnerability database did not answer for"
            " them); this is not a clean result",
            file=sys.stderr,
        )
        return 2
    print(f"make audit: {len(dependencies)} locked releases checked, no known vulnerability")
    return 0


if __name__ == "__main__":
    sys.exit(main())
