"""The support bundle's assembly: the sources of the settings, what goes in, what is scrubbed
out, how the zip reaches the disk, and the tray's entry that makes one.

Real files in a temporary data directory (log, audit trail, the instance file with its control
secret); the status report is a hand-made one (tests/unit/test_status.py); the tray's save
window and running agent are fakes (the real window runs in tests/desktop/).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from agent.audit import AuditDocument, AuditEntry, AuditLog
from agent.config import (
    BY_NAME,
    SETTINGS,
    AgentConfig,
    SourcedConfig,
    ValueSource,
    load_sourced_config,
)
from agent.isolation import Isolation
from agent.messages import Lang
from agent.pairing import PairingStore
from agent.status import StatusSource
from agent.status import bundle as bundle_module
from agent.status.bundle import (
    FILES,
    BundleError,
    BundleMaker,
    BundleProblem,
    bundle_name,
    config_report,
    default_bundle_path,
    make_bundle,
    running_sources,
    sourced_report,
    write_bundle,
)
from agent.status.logs import mask_secrets, recent_log_lines
from agent.status.redact import REDACTED, redact, secret_named
from agent.token import Inventory
from agent.token.models import ModuleReport
from agent.ui.menu import Action, ActionKind, dispatch
from agent.ui.prefs import TrayPrefs, prefs_path, save_prefs
from agent.ui.tray import TrayController
from agent.ui.tray_state import AgentHealth
from tests.unit.test_status import sample
from tests.unit.test_tray_menu import Recorder, find, menu
from tests.unit.test_tray_state import TrayState

PIN = "246810"
SECRET = "kJ3vQ9zW_cGx7pL2mN8rT5yB1dF6hS4aE0uI-oKwXqZ"
NOWHERE = Path("/nonexistent/kyso-agent/config.toml")
MADE = datetime(2025, 3, 10, 9, 30, 15, tzinfo=UTC)
#: A PEM private key, as a careless library might print one (not a real key).
PEM_KEY = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n"
    "-----END PRIVATE KEY-----"
)


def stamp(level: str = "INFO") -> str:
    return f"2025-03-10 09:29:00,123 {level}"


def data_dir(tmp_path: Path) -> Path:
    """A data directory as a running agent leaves it: log, audit trail, instance file."""
    data = tmp_path / "data"
    (data / "logs").mkdir(parents=True)
    (data / "agent.instance.json").write_text(
        json.dumps({"pid": os.getpid(), "port": 8988, "secret": SECRET})
    )
    (data / "logs" / "agent.log").write_text(
        "\n".join(
            [
                f"{stamp()} agent.app: listening on https://127.0.0.1:8988",
                f"{stamp('ERROR')} agent.token: module said pin={PIN} was refused",
                f"{stamp()} agent.test: the user typed PIN {PIN}",
                f"{stamp()} agent.test: control secret {SECRET} (never logged; scrubbed anyway)",
                f"{stamp('ERROR')} agent.test: a library printed a key",
                *PEM_KEY.splitlines(),
                "Traceback (most recent call last):",
                f'  ValueError: password: "{PIN}"',
                f"{stamp()} agent.service: time stamp from http://tsa:{PIN}@tsa.example.vn/",
                f"{stamp()} agent.service: signed 1 document for https://portal.gov.vn",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    with AuditLog(data / "audit.sqlite3") as audit:
        audit.record(
            AuditEntry(
                time=MADE,
                origin="https://portal.gov.vn",
                action="sign",
                documents=(AuditDocument("Quyết định 12.pdf", b"\x01" * 32, "SHA-256"),),
                certificate_serial="1f",
                certificate_subject="CN=Nguyễn Văn An",
                certificate_sha256="ee" * 32,
                outcome="signed",
                signatures=1,
                first_use=False,
            )
        )
    return data


def unzip(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def assert_nothing_secret(files: dict[str, bytes]) -> None:
    for name, content in files.items():
        assert PIN.encode() not in content, name
        assert SECRET.encode() not in content, name
        assert b"PRIVATE KEY" not in content, name
        assert b"MIIEvQIBADANBgkqhkiG9w0BAQEFAAS" not in content, name


# --- where each value came from -----------------------------------------------------------------


def test_each_value_has_the_source_of_the_last_layer_that_set_it(tmp_path: Path) -> None:
    user = tmp_path / "config.toml"
    user.write_text('prompt_timeout = 30\nlog_level = "DEBUG"\n')
    sourced = load_sourced_config(
        {"log_level": "ERROR", "lang": None},
        policy={"pin_cache_minutes": 5, "prompt_timeout": 60},
        user_config_file=user,
    )
    assert sourced.config.prompt_timeout == 30 and sourced.config.log_level == "ERROR"
    assert sourced.sources["pin_cache_minutes"] is ValueSource.MACHINE_POLICY
    assert sourced.sources["prompt_timeout"] is ValueSource.USER_FILE
    assert sourced.sources["log_level"] is ValueSource.COMMAND_LINE
    assert sourced.sources["lang"] is ValueSource.DEFAULT  # a flag not given
    assert set(sourced.sources) == {s.name for s in SETTINGS}
    assert sourced.user_file == user
    bare = load_sourced_config({}, policy={}, user_config_file=NOWHERE)
    assert bare.user_file is None
    assert set(bare.sources.values()) == {ValueSource.DEFAULT}
    with pytest.raises(TypeError):
        bare.sources["lang"] = ValueSource.TRAY  # type: ignore[index]


def test_the_running_agents_sources_are_told_by_what_the_files_give(tmp_path: Path) -> None:
    user = tmp_path / "config.toml"
    user.write_text("prompt_timeout = 30\n")
    files = load_sourced_config({}, policy={}, user_config_file=user)
    running = replace(files.config, port=9000)
    sources = running_sources(running, files)
    assert sources["port"] is ValueSource.COMMAND_LINE
    assert sources["prompt_timeout"] is ValueSource.USER_FILE
    assert sources["log_level"] is ValueSource.DEFAULT
    assert set(running_sources(running, None).values()) == {None}


def test_config_report_shows_values_sources_defaults_and_hides_credentials(
    tmp_path: Path,
) -> None:
    sourced = load_sourced_config(
        {"prompter": f"helper --pin={PIN}"},
        policy={"tsa_url": "https://tsa-user:s3cr3t-pass@tsa.example.vn/tsa"},
        user_config_file=NOWHERE,
    )
    report = sourced_report(sourced)
    shown = {v.key: v for v in report.settings}
    assert [v.key for v in report.settings] == [s.name for s in SETTINGS]
    assert shown["tsa_url"].value == f"https://{REDACTED}@tsa.example.vn/tsa"
    assert shown["tsa_url"].source is ValueSource.MACHINE_POLICY
    assert shown["prompter"].value == f"helper --pin={REDACTED}"
    assert shown["prompter"].source is ValueSource.COMMAND_LINE
    assert shown["prompt_timeout"].value == 120.0 and shown["prompt_timeout"].default == 120.0
    assert shown["module_isolation"].value == "process"
    assert shown["pin_cache_minutes"].policy_only and shown["pin_cache_minutes"].value == 0
    assert report.user_file is None


def test_a_setting_named_like_a_secret_never_shows_its_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No setting holds a secret today; one that ever did would be hidden by its name alone.
    extra = tuple(
        replace(BY_NAME["prompter"], name=name, default=None)
        for name in ("so_pin", "proxy_password", "token_secret")
    )
    monkeypatch.setattr(bundle_module, "SETTINGS", (*SETTINGS, *extra))
    values = {s.name: s.default for s in SETTINGS}
    config = SimpleNamespace(**values, so_pin="12345678", proxy_password="x", token_secret="y")
    report = config_report(config, {}, user_file=None)  # type: ignore[arg-type]
    shown = {v.key: v.value for v in report.settings}
    assert shown["so_pin"] == shown["proxy_password"] == shown["token_secret"] == REDACTED
    assert shown["pin_cache_minutes"] == 0  # named "pin…", holds no secret
    assert not any(secret_named(s.name) for s in SETTINGS), "no setting is a secret today"


# --- the log, and the last scrub ----------------------------------------------------------------


def test_log_lines_are_all_levels_masked_with_their_times_kept(tmp_path: Path) -> None:
    lines = recent_log_lines(data_dir(tmp_path) / "logs", 100)
    assert lines[0] == f"{stamp()} agent.app: listening on https://127.0.0.1:8988"
    assert f"{stamp('ERROR')} agent.token: module said pin=*** was refused" in lines
    assert f"{stamp()} agent.test: the user typed PIN ***" in lines
    assert "  ValueError: password: ***" in lines
    assert lines[-1].endswith("signed 1 document for https://portal.gov.vn")
    assert recent_log_lines(tmp_path / "data" / "logs", 2) == lines[-2:]
    assert recent_log_lines(tmp_path / "nowhere", 10) == ()
    assert mask_secrets("PIN state ok") == "PIN state ok"


def test_redact_replaces_known_secrets_and_private_key_blocks_in_every_file() -> None:
    files = [
        ("a.txt", f"secret {SECRET} twice {SECRET}\n{PEM_KEY}\nafter"),
        ("b.json", json.dumps({"secret": SECRET})),
    ]
    done = dict(redact(files, [SECRET, "short"]))
    assert done["a.txt"] == f"secret {REDACTED} twice {REDACTED}\n{REDACTED}\nafter".encode()
    assert json.loads(done["b.json"]) == {"secret": REDACTED}
    # A value too short to be a secret would mask ordinary words: it is not scrubbed by value.
    assert dict(redact([("c", "a short note")], ["short"]))["c"] == b"a short note"


# --- the whole bundle ---------------------------------------------------------------------------


def make(tmp_path: Path, lang: Lang = Lang.VI, **kwargs: Any) -> Path:
    data = data_dir(tmp_path) if not (tmp_path / "data").exists() else tmp_path / "data"
    sourced = load_sourced_config(
        {"data_dir": str(data), "lang": lang.value}, policy={}, user_config_file=NOWHERE
    )
    target = kwargs.pop("target", tmp_path / "out" / bundle_name(MADE))
    target.parent.mkdir(exist_ok=True)
    return make_bundle(
        target,
        sample(),
        sourced.config,
        sourced_report(sourced),
        maker=BundleMaker.CLI,
        lang=lang,
        now=MADE,
        **kwargs,
    )


def test_the_bundle_holds_every_part_and_nothing_secret(tmp_path: Path) -> None:
    saved = make(tmp_path)
    files = unzip(saved)
    assert list(files) == list(FILES)
    assert_nothing_secret(files)
    readme = files["README.txt"].decode()
    assert readme.startswith("GÓI HỖ TRỢ KYSO AGENT\n")
    assert "lệnh kyso-agent support-bundle" in readme
    assert "1 mục cuối của nhật ký kiểm toán" in readme
    assert files["status.txt"].decode().startswith("BÁO CÁO TRẠNG THÁI KYSO AGENT")
    assert json.loads(files["status.json"])["tokens"][0]["label"] == "VNPT-CA"
    config = json.loads(files["config.json"])
    assert config["format"] == 1
    shown = {s["key"]: s for s in config["settings"]}
    assert shown["data_dir"]["source"] == "command-line"
    assert shown["data_dir"]["value"] == str(tmp_path / "data")
    assert shown["lang"] == {
        "key": "lang",
        "value": "vi",
        "source": "command-line",
        "default": "vi",
        "policy_only": False,
    }
    system = json.loads(files["system.json"])
    assert system["python"].startswith(("CPython", "PyPy")) and system["os"]
    assert [m["path"] for m in system["modules"]] == [
        "/usr/lib/softhsm/libsofthsm2.so",
        "C:/vnptca_p11_v8.dll",
    ]
    assert system["modules"][1] | {"exists": False} == system["modules"][1]
    [row] = json.loads(files["audit.json"])["entries"]
    assert row["documents"][0]["name"] == "Quyết định 12.pdf" and row["outcome"] == "signed"
    log = files["agent.log"].decode()
    assert "pin=*** was refused" in log and f"control secret {REDACTED} (never" in log
    assert "signed 1 document for https://portal.gov.vn" in log
    assert f"time stamp from http://{REDACTED}@tsa.example.vn/" in log
    with zipfile.ZipFile(saved) as archive:
        assert archive.getinfo("README.txt").date_time[:3] == (2025, 3, 10)


def test_the_bundle_speaks_english_when_asked(tmp_path: Path) -> None:
    files = unzip(make(tmp_path, Lang.EN))
    assert files["README.txt"].decode().startswith("KYSO AGENT SUPPORT BUNDLE\n")
    assert "the last 1 entries of the audit trail" in files["README.txt"].decode()
    assert files["status.txt"].decode().startswith("KYSO AGENT STATUS REPORT")


def test_a_damaged_audit_trail_is_said_not_fatal(tmp_path: Path) -> None:
    data = data_dir(tmp_path)
    for leftover in data.glob("audit.sqlite3*"):
        leftover.unlink()
    (data / "audit.sqlite3").write_bytes(b"not a database at all" * 100)
    files = unzip(make(tmp_path, Lang.EN))
    assert json.loads(files["audit.json"]) == {"entries": []}
    readme = files["README.txt"].decode()
    assert "Could not be read for this bundle:" in readme and "audit trail:" in readme


# --- onto the disk ------------------------------------------------------------------------------


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_an_existing_file_is_kept_unless_overwriting_is_asked(tmp_path: Path) -> None:
    target = tmp_path / "bundle.zip"
    target.write_bytes(b"the helpdesk's earlier bundle")
    with pytest.raises(BundleError) as refused:
        write_bundle(target, [("a.txt", b"new")], MADE)
    assert refused.value.problem is BundleProblem.EXISTS
    assert "--force" in refused.value.message(Lang.EN)
    assert target.read_bytes() == b"the helpdesk's earlier bundle"
    assert leftovers(tmp_path) == []
    assert write_bundle(target, [("a.txt", b"new")], MADE, overwrite=True) == target
    assert unzip(target) == {"a.txt": b"new"}
    assert leftovers(tmp_path) == []
    if sys.platform != "win32":
        assert target.stat().st_mode & 0o077 == 0, "private, like the data it comes from"


def test_a_missing_folder_is_said(tmp_path: Path) -> None:
    with pytest.raises(BundleError) as missing:
        write_bundle(tmp_path / "no" / "bundle.zip", [("a", b"")], MADE)
    assert missing.value.problem is BundleProblem.NO_FOLDER
    assert missing.value.message(Lang.VI).startswith(f"Không có thư mục {tmp_path / 'no'}")


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc (Linux)")
def test_a_folder_that_cannot_be_written_is_said() -> None:
    # /proc refuses new files to everyone, root included.
    with pytest.raises(BundleError) as refused:
        write_bundle(Path("/proc/kyso-bundle.zip"), [("a", b"")], MADE)
    assert refused.value.problem is BundleProblem.NOT_WRITABLE
    message = refused.value.message(Lang.EN)
    assert message.startswith("Cannot write in the folder /proc (") and "Desktop" in message


def test_the_default_place_is_the_desktop_else_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".config"))
    now = datetime(2025, 3, 10, 9, 5, 7).astimezone()
    assert bundle_name(now) == "kyso-agent-support-20250310-090507.zip"
    if sys.platform.startswith("linux"):
        assert default_bundle_path(now) == tmp_path / "kyso-agent-support-20250310-090507.zip"
    (tmp_path / "Desktop").mkdir()
    assert default_bundle_path(now).parent == tmp_path / "Desktop"


# --- the tray's entry ---------------------------------------------------------------------------


def test_the_menu_offers_the_bundle_below_the_status_report_copy() -> None:
    for lang, label in ((Lang.VI, "Xuất gói hỗ trợ…"), (Lang.EN, "Export support bundle…")):
        items = menu(TrayState.NO_TOKEN, lang, agent_running=False)
        entry = find(items, ActionKind.EXPORT_BUNDLE)
        assert entry.label == label and entry.enabled, "also when the agent has stopped"
        kinds = [i.action.kind for i in items if i.action is not None]
        assert kinds.index(ActionKind.EXPORT_BUNDLE) == kinds.index(ActionKind.COPY_STATUS) + 1


class SaveWindow:
    """The tray's children: the save window answers with ``answer`` (None: cancelled)."""

    def __init__(self, answer: Path | None) -> None:
        self.answer = answer
        self.argv: list[str] = []

    def run(self, argv: Sequence[str], stdin: bytes | None = None) -> tuple[int, bytes]:
        self.argv = list(argv)
        if self.answer is None:
            return 1, b""
        return 0, json.dumps({"path": str(self.answer)}).encode()

    def end_all(self) -> None:
        pass


class Tokens:
    """A token layer with one module and no token."""

    async def inventory(self) -> Inventory:
        return Inventory((ModuleReport(Path("/usr/lib/libvendor-p11.so"), True),))


@dataclass
class RunningAgent:
    status: StatusSource


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    running = asyncio.new_event_loop()
    thread = threading.Thread(target=running.run_forever, daemon=True)
    thread.start()
    yield running
    running.call_soon_threadsafe(running.stop)
    thread.join()
    running.close()


def tray(tmp_path: Path, window: SaveWindow, **config: Any) -> tuple[TrayController, Recorder]:
    notes = Recorder()
    controller = TrayController(
        AgentConfig(data_dir=data_dir(tmp_path), **config),
        Lang.EN,
        notifier=notes,  # type: ignore[arg-type]
        children=window,  # type: ignore[arg-type]
    )
    return controller, notes


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty home with a Desktop, and no user configuration file."""
    home = tmp_path / "home"
    (home / "Desktop").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    return home


def test_the_tray_saves_the_running_agents_bundle_where_the_user_chose(
    tmp_path: Path, home: Path, loop: asyncio.AbstractEventLoop
) -> None:
    target = tmp_path / "chosen" / "for-the-helpdesk.zip"
    target.parent.mkdir()
    window = SaveWindow(target)
    controller, notes = tray(tmp_path, window, port=9100)
    source = StatusSource(controller.config, Tokens(), PairingStore(controller.config.pairing_file))  # type: ignore[arg-type]
    controller.agent, controller.loop = RunningAgent(source), loop  # type: ignore[assignment]
    controller.health = AgentHealth(running=True)
    save_prefs(prefs_path(controller.config.data_dir), TrayPrefs(Lang.EN))

    dispatch(Action(ActionKind.EXPORT_BUNDLE), controller)

    assert window.argv[1:4] == ["-m", "agent.ui.save_as", "--lang"]
    proposed = Path(window.argv[window.argv.index("--initial") + 1])
    assert proposed.parent == home / "Desktop"
    assert proposed.name.startswith("kyso-agent-support-") and proposed.suffix == ".zip"
    assert window.argv[-3:] == ["--filetype", "ZIP files", "*.zip"]
    assert notes.messages == [f"Support bundle saved: {target}"]
    files = unzip(target)
    assert list(files) == list(FILES)
    assert_nothing_secret(files)
    report = json.loads(files["status.json"])
    assert report["agent"]["running"] is True
    assert report["modules"][0]["path"] == "/usr/lib/libvendor-p11.so"
    settings = {s["key"]: s for s in json.loads(files["config.json"])["settings"]}
    assert (settings["port"]["value"], settings["port"]["source"]) == (9100, "command-line")
    assert settings["lang"]["source"] == "tray"
    assert settings["log_level"]["source"] == "default"
    assert "the Kyso Agent tray icon" in files["README.txt"].decode()


def test_the_tray_reads_the_tokens_itself_when_its_agent_stopped(
    tmp_path: Path, home: Path
) -> None:
    target = home / "Desktop" / "b.zip"
    controller, notes = tray(
        tmp_path,
        SaveWindow(target),
        pkcs11_modules=(tmp_path / "missing-p11.so",),
        module_isolation=Isolation.THREAD,
    )
    controller.export_support_bundle()
    assert notes.messages == [f"Support bundle saved: {target}"]
    report = json.loads(unzip(target)["status.json"])
    assert report["agent"]["running"] is False
    [module] = report["modules"]
    assert module["path"] == str(tmp_path / "missing-p11.so") and not module["loaded"]


def test_the_tray_does_nothing_when_the_save_window_is_cancelled(
    tmp_path: Path, home: Path
) -> None:
    controller, notes = tray(tmp_path, SaveWindow(None))
    controller.export_support_bundle()
    assert notes.messages == []
    assert list((home / "Desktop").iterdir()) == []


def test_the_tray_says_when_the_bundle_could_not_be_saved(tmp_path: Path, home: Path) -> None:
    gone = tmp_path / "removed-meanwhile" / "b.zip"
    controller, notes = tray(
        tmp_path,
        SaveWindow(gone),
        pkcs11_modules=(tmp_path / "missing-p11.so",),
        module_isolation=Isolation.THREAD,
    )
    controller.export_support_bundle()
    [message] = notes.messages
    assert message.startswith("The support bundle was not saved: The folder ")
    assert str(gone.parent) in message


def test_sourced_config_is_frozen() -> None:
    sourced = load_sourced_config({}, policy={}, user_config_file=NOWHERE)
    assert isinstance(sourced, SourcedConfig)
    with pytest.raises(AttributeError):
        sourced.user_file = NOWHERE  # type: ignore[misc]
