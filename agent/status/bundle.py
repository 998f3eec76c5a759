"""The support bundle: the helpdesk's whole picture, in one zip file the user sends.

``kyso-agent support-bundle [-o FILE.zip]`` and the tray's "Xuất gói hỗ trợ…" make it
(docs/helpdesk.md). Its files:

=============  ===================================================================================
README.txt     what the bundle is, when and by what it was made, what is never in it (user's lang)
status.txt     the status report, as "Copy status report" gives it (in the user's language)
status.json    the same report as JSON (``kyso-agent status --json``)
config.json    every setting: the value in effect, the layer it came from, its default
system.json    OS, Python, agent version; each PKCS#11 module's file, loaded or not, description
audit.json     the last :data:`AUDIT_ROWS` rows of the audit trail (``kyso-agent audit --json``)
agent.log      the last :data:`LOG_LINES` lines of the log, every level
=============  ===================================================================================

What never goes in — a PIN, a private key, the control secret — and how that is made sure:
:mod:`agent.status.redact`. In short, nothing here reads a token's private objects or copies a
file of the data directory (the local TLS key stays where it is); what is read is masked where it
could hold a secret, and every file is scrubbed of the known secrets last.

The zip is written whole or not at all: under a hidden name in the target folder first
(:func:`~agent.files.write_atomically`), then given its name, which it never takes from an
existing file unless asked (``--force``; the tray's save dialog asks the user itself). It is
readable by its user only, like the data it comes from.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any, Final

import platformdirs

from agent import __version__
from agent.audit import AuditEntry, AuditError, AuditLog, entry_to_json
from agent.config import (
    POSIX_POLICY_FILE,
    SETTINGS,
    WINDOWS_POLICY_KEY,
    AgentConfig,
    SourcedConfig,
    ValueSource,
)
from agent.files import sync_directory, write_atomically
from agent.instance import read_instance
from agent.messages import Lang, text
from agent.status.codec import dump
from agent.status.collect import build_local
from agent.status.logs import recent_log_lines
from agent.status.model import StatusReport
from agent.status.redact import (
    REDACTED,
    control_secrets,
    hide_url_credentials,
    masked,
    redact,
    secret_named,
)
from agent.status.remote import StatusError, fetch_running
from agent.status.system import SystemInfo, system_info

BUNDLE_FORMAT: Final = 1
"""Version of the JSON files' layout (``"format"`` in each)."""
LOG_LINES: Final = 2000
"""How many lines of the log the bundle carries."""
AUDIT_ROWS: Final = 50
"""How many rows of the audit trail the bundle carries."""
NAME_PATTERN: Final = "kyso-agent-support-{time:%Y%m%d-%H%M%S}.zip"
"""The default file name, in local time."""
FILES: Final = (
    "README.txt",
    "status.txt",
    "status.json",
    "config.json",
    "system.json",
    "audit.json",
    "agent.log",
)
"""The bundle's files, in the order they are written."""


class BundleMaker(StrEnum):
    """What made the bundle (its README says it, and whose configuration it shows)."""

    CLI = "cli"
    """``kyso-agent support-bundle``: its own configuration (files and its flags)."""
    TRAY = "tray"
    """The running agent's tray: the running agent's configuration."""


class BundleProblem(StrEnum):
    """Why the bundle was not written (``kyso-agent support-bundle`` prints it first)."""

    EXISTS = "exists"
    """The file is there already and overwriting was not asked for."""
    NO_FOLDER = "no-folder"
    """The folder to write in does not exist."""
    NOT_WRITABLE = "not-writable"
    """The folder cannot be written in (permissions, a full or read-only disk)."""


class BundleError(Exception):
    """The bundle could not be written; :meth:`message` says why to the user."""

    def __init__(self, problem: BundleProblem, path: Path, detail: str = "") -> None:
        super().__init__(f"{problem.value}: {path}" + (f": {detail}" if detail else ""))
        self.problem = problem
        self.path = path
        self.detail = detail

    def message(self, lang: Lang) -> str:
        """What went wrong, in ``lang``."""
        return text(
            f"bundle_{self.problem.value.replace('-', '_')}",
            lang,
            path=self.path,
            folder=self.path.parent,
            detail=self.detail,
        )


@dataclass(frozen=True)
class ConfigValue:
    """One setting as the bundle shows it."""

    key: str
    """The setting's name (the TOML key)."""
    value: object
    """The value in effect, as JSON (``***`` for a secret-looking setting)."""
    source: ValueSource | None
    """The layer it came from; ``None`` when that could not be told."""
    default: object
    """The built-in default, as JSON."""
    policy_only: bool
    """Only machine policy may set it."""


@dataclass(frozen=True)
class ConfigReport:
    """The configuration in effect, with the source of each value."""

    machine_policy: str
    """Where machine policy is read (the file, or the registry key on Windows)."""
    user_file: str | None
    """The user file that was read, if any."""
    settings: tuple[ConfigValue, ...]
    """Every setting, in declaration order."""
    problems: tuple[str, ...] = ()
    """What could not be read (the files changed since the agent started, say)."""


@dataclass(frozen=True)
class SupportBundle:
    """Everything that goes in, before it is put into files."""

    made_at: datetime
    """When (local time)."""
    maker: BundleMaker
    """The command or the tray."""
    lang: Lang
    """The language of the texts for people."""
    report: StatusReport
    """The status report (the running agent's when it runs)."""
    config: ConfigReport
    """The configuration and its sources."""
    system: SystemInfo
    """OS, Python, versions, modules."""
    audit: tuple[AuditEntry, ...]
    """The last rows of the audit trail, oldest first."""
    log: tuple[str, ...]
    """The last lines of the log, masked."""
    problems: tuple[str, ...] = ()
    """What could not be read for the bundle."""


# --- what goes in -------------------------------------------------------------------------------


def _plain(value: object) -> object:
    """A setting's value as JSON: lists, strings, numbers, booleans, null."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)  # paths, origin patterns


def _shown(key: str, value: object) -> object:
    if value not in (None, "", (), []) and secret_named(key):
        return REDACTED
    return masked(_plain(value))


def policy_location() -> str:
    """Where this OS keeps machine policy."""
    if os.name == "nt":
        return f"HKLM\\{WINDOWS_POLICY_KEY}"
    return str(POSIX_POLICY_FILE)


def config_report(
    config: AgentConfig,
    sources: Mapping[str, ValueSource | None],
    *,
    user_file: Path | None,
    problems: Sequence[str] = (),
) -> ConfigReport:
    """The bundle's view of ``config``: each value (secret-looking ones hidden) and its source."""
    return ConfigReport(
        machine_policy=policy_location(),
        user_file=str(user_file) if user_file is not None else None,
        settings=tuple(
            ConfigValue(
                key=s.name,
                value=_shown(s.name, getattr(config, s.name)),
                source=sources.get(s.name),
                default=_shown(s.name, s.default),
                policy_only=s.policy_only,
            )
            for s in SETTINGS
        ),
        problems=tuple(problems),
    )


def sourced_report(sourced: SourcedConfig) -> ConfigReport:
    """:func:`config_report` of a configuration loaded here (``kyso-agent support-bundle``)."""
    return config_report(sourced.config, sourced.sources, user_file=sourced.user_file)


def running_sources(
    running: AgentConfig, files: SourcedConfig | None
) -> dict[str, ValueSource | None]:
    """Sources of a running agent's values, when the flags it was started with are unknown.

    ``files`` is the configuration the files give now (no flags). A value they give keeps their
    source; any other came from the agent's command line (or the files changed since it
    started). Without ``files`` (they cannot be read now) no source can be told.
    """
    if files is None:
        return dict.fromkeys((s.name for s in SETTINGS), None)
    return {
        s.name: files.sources[s.name]
        if getattr(running, s.name) == getattr(files.config, s.name)
        else ValueSource.COMMAND_LINE
        for s in SETTINGS
    }


def recent_audit(audit_file: Path, limit: int = AUDIT_ROWS) -> tuple[AuditEntry, ...]:
    """The last ``limit`` rows of the audit trail, oldest first; none when there is no trail.

    Raises :class:`~agent.audit.AuditError` when it cannot be read.
    """
    if not audit_file.exists():
        return ()
    with AuditLog(audit_file) as log:
        return tuple(log.entries(limit=limit))


def current_report(config: AgentConfig) -> StatusReport:
    """The running agent's report, else one read here (it says the agent is not running).

    The running agent of ``config.data_dir`` is asked at the port it published in
    ``agent.instance.json`` first, then where ``kyso-agent status`` looks.
    """
    info = read_instance(config.data_dir)
    tries = [config]
    if info is not None and info.port != config.port:
        tries.insert(0, replace(config, port=info.port))
    problems: list[str] = []
    for candidate in tries:
        try:
            report = fetch_running(candidate)
        except StatusError as exc:
            problems.append(str(exc))
            continue
        if report is not None:
            return report
    local = build_local(config)
    return replace(local, problems=(*problems, *local.problems)) if problems else local


def gather(
    report: StatusReport,
    config: AgentConfig,
    settings: ConfigReport,
    *,
    maker: BundleMaker,
    lang: Lang,
    now: datetime | None = None,
) -> SupportBundle:
    """Everything the bundle holds: ``report`` and ``settings`` as given, the rest read from
    ``config``'s data directory (log, audit trail) and this computer."""
    made_at = (now or datetime.now()).astimezone()
    problems: list[str] = []
    try:
        audit = recent_audit(config.audit_file)
    except AuditError as exc:
        problems.append(f"audit trail: {exc}")
        audit = ()
    return SupportBundle(
        made_at=made_at,
        maker=maker,
        lang=lang,
        report=report,
        config=settings,
        system=system_info(report, made_at),
        audit=audit,
        log=tuple(
            hide_url_credentials(line) for line in recent_log_lines(config.log_dir, LOG_LINES)
        ),
        problems=tuple(problems),
    )


# --- into files ---------------------------------------------------------------------------------


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2) + "\n"


def _document(value: object) -> dict[str, Any]:
    data = dump(value)
    assert isinstance(data, dict)  # noqa: S101 - a dataclass dumps to a dict
    return {"format": BUNDLE_FORMAT, **data}


def _readme(bundle: SupportBundle) -> str:
    lang = bundle.lang
    problems = (*bundle.problems, *bundle.config.problems)
    described = {
        "status.txt": text("bundle_file_status_txt", lang),
        "status.json": text("bundle_file_status_json", lang),
        "config.json": text("bundle_file_config", lang),
        "system.json": text("bundle_file_system", lang),
        "audit.json": text("bundle_file_audit", lang, count=len(bundle.audit)),
        "agent.log": text("bundle_file_log", lang, count=len(bundle.log)),
    }
    lines = [
        text("bundle_readme_title", lang),
        text(
            "bundle_readme_made",
            lang,
            time=bundle.made_at.isoformat("T", "seconds"),
            maker=text(f"bundle_maker_{bundle.maker.value}", lang),
            version=__version__,
        ),
        "",
        text("bundle_readme_send", lang),
        text("bundle_readme_never", lang),
        "",
        text("bundle_readme_files", lang),
        *(f"  {name:<12} {about}" for name, about in described.items()),
        "",
        text(f"bundle_readme_config_{bundle.maker.value}", lang),
    ]
    if problems:
        lines += ["", text("bundle_readme_problems", lang), *(f"  {p}" for p in problems)]
    return "\n".join(lines) + "\n"


def render(bundle: SupportBundle) -> tuple[tuple[str, str], ...]:
    """The bundle's files (:data:`FILES`), name and text, before the last scrub (:func:`redact`)."""
    audit = {"entries": [masked(entry_to_json(e)) for e in bundle.audit]}
    contents = {
        "README.txt": _readme(bundle),
        "status.txt": bundle.report.to_text(bundle.lang) + "\n",
        "status.json": _json(bundle.report.to_json()),
        "config.json": _json(_document(bundle.config)),
        "system.json": _json(_document(bundle.system)),
        "audit.json": _json(audit),
        "agent.log": "".join(line + "\n" for line in bundle.log),
    }
    return tuple((name, contents[name]) for name in FILES)


# --- onto the disk ------------------------------------------------------------------------------


def bundle_name(now: datetime) -> str:
    """``kyso-agent-support-YYYYMMDD-HHMMSS.zip`` (local time)."""
    return NAME_PATTERN.format(time=now.astimezone())


def default_folder() -> Path:
    """The user's Desktop, else the home folder."""
    desktop = Path(platformdirs.user_desktop_dir())
    return desktop if desktop.is_dir() else Path.home()


def default_bundle_path(now: datetime | None = None) -> Path:
    """Where the bundle goes unless told: :func:`bundle_name` in :func:`default_folder`."""
    return default_folder() / bundle_name(now or datetime.now())


def zip_bytes(files: Sequence[tuple[str, bytes]], made_at: datetime) -> bytes:
    """The zip archive of ``files`` (deflated, each stamped ``made_at``)."""
    stamp = made_at.astimezone().timetuple()[:6]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16  # unpacked private too, where modes count
            archive.writestr(info, data)
    return buffer.getvalue()


def _take_name(staging: Path, path: Path, *, overwrite: bool) -> None:
    """Rename ``staging`` to ``path``; never over an existing file unless ``overwrite``."""
    if overwrite:
        os.replace(staging, path)
    elif os.name == "nt":
        os.rename(staging, path)  # Windows' rename refuses an existing target by itself
    else:
        try:
            os.link(staging, path)  # fails if path exists, in the same step
        except OSError as exc:
            # A file system without hard links (FAT on a USB stick): look, then rename.
            if isinstance(exc, FileExistsError) or path.exists():
                raise FileExistsError(path) from exc
            os.replace(staging, path)


def check_target(path: Path, *, overwrite: bool = False) -> Path:
    """``path`` made absolute, once its folder is there and it may be written (before the
    work of gathering); :class:`BundleError` otherwise."""
    path = path.expanduser().absolute()
    if not path.parent.is_dir():
        raise BundleError(BundleProblem.NO_FOLDER, path)
    if path.exists() and not overwrite:
        raise BundleError(BundleProblem.EXISTS, path)
    return path


def write_bundle(
    path: Path, files: Sequence[tuple[str, bytes]], made_at: datetime, *, overwrite: bool = False
) -> Path:
    """Write the zip of ``files`` at ``path`` (whole or not at all); the path written.

    Raises :class:`BundleError`: the folder is missing or not writable, or ``path`` exists and
    ``overwrite`` is false.
    """
    path = check_target(path, overwrite=overwrite)
    folder = path.parent
    data = zip_bytes(files, made_at)
    staging = folder / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        write_atomically(staging, data)
        _take_name(staging, path, overwrite=overwrite)
        sync_directory(folder)
    except FileExistsError as exc:
        raise BundleError(BundleProblem.EXISTS, path) from exc
    except OSError as exc:
        raise BundleError(BundleProblem.NOT_WRITABLE, path, exc.strerror or str(exc)) from exc
    finally:
        staging.unlink(missing_ok=True)
    return path


def make_bundle(
    path: Path,
    report: StatusReport,
    config: AgentConfig,
    settings: ConfigReport,
    *,
    maker: BundleMaker,
    lang: Lang,
    overwrite: bool = False,
    now: datetime | None = None,
) -> Path:
    """Gather, render, scrub and write the bundle at ``path``; the path written.

    Raises :class:`BundleError` when it cannot be written.
    """
    bundle = gather(report, config, settings, maker=maker, lang=lang, now=now)
    files = redact(render(bundle), control_secrets(config.data_dir))
    return write_bundle(path, files, bundle.made_at, overwrite=overwrite)
