"""Configuration: one frozen dataclass, built once from four layers.

Layers, later ones winning key by key::

    built-in defaults < machine policy < user config file < command-line flags

* Machine policy (set by IT): ``/etc/kyso-agent/policy.toml`` on Linux and
  macOS; on Windows the values of ``HKLM\\SOFTWARE\\Policies\\Kyso\\Agent`` (written by
  the MSI, GPO or Intune), named like the TOML keys (:func:`read_registry_policy`).
  ``docs/it-policy.md`` is the reference for both.
* User file: ``--config FILE``, else ``config.toml`` in the per-user config
  directory if it exists.

Every key of the TOML files has the name of its command-line flag with
underscores (``allowed_origins`` for ``--allow-origin``, ``pkcs11_modules`` for
``--pkcs11-module``). Unknown keys are errors, so that a typo never silently
weakens a setting.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import ModuleType
from typing import Any, Final

import platformdirs

from agent.errors import ConfigError
from agent.isolation import Isolation, WorkerLimits
from agent.messages import DEFAULT_LANG, Lang
from agent.origin import (
    DEV_EXTENSION_ID,
    InvalidOrigin,
    OriginPattern,
    is_extension_id,
    parse_pattern,
)
from agent.private import PrivateLogFile, private_dir, private_files

APP_NAME: Final = "kyso-agent"
#: Chosen next to the VGCA plugin's 8987 so that IT finds both in one firewall rule.
DEFAULT_PORT: Final = 8988
#: When the default port is taken (another user's agent on a terminal server), the next free
#: one of these is used; browsers' clients probe the same range.
DEFAULT_PORT_RANGE: Final = range(DEFAULT_PORT, DEFAULT_PORT + 11)
MAX_PIN_CACHE_MINUTES: Final = 480
#: Settings that only IT may set (machine policy): each one loosens or tightens security.
POLICY_ONLY: Final = frozenset(
    {
        "allow_user_pairing",
        "allow_external_prompter",
        "pin_cache_minutes",
        "cancel_backoff_seconds",
        "vgca_enabled",
    }
)
#: Settings that machine policy pins when it sets them: a user file or flag may set them only
#: where policy is silent. The trusted extension IDs: an unpacked copy of the extension has the
#: bundled ID (it derives from the manifest's public key), so IT that deploys its own build
#: pins its ID here, and no user-level file can add another (docs/security.md).
POLICY_PINNED: Final = frozenset({"extension_ids"})
#: The port of Ban Cơ yếu's VGCA Sign Service, which portals' vgcaplugin.js connects to.
DEFAULT_VGCA_PORT: Final = 8987
DEFAULT_PROMPT_TIMEOUT: Final = 120.0
DEFAULT_MAX_BODY: Final = 1024 * 1024
DEFAULT_MAX_PDF: Final = 100 * 1024 * 1024
DEFAULT_MODULE_TIMEOUT: Final = 20.0
POSIX_POLICY_FILE: Final = Path("/etc/kyso-agent/policy.toml")
#: The machine policy on Windows, under HKEY_LOCAL_MACHINE (64-bit view).
WINDOWS_POLICY_KEY: Final = r"SOFTWARE\Policies\Kyso\Agent"
_LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR")


def default_data_dir() -> Path:
    """Per-user data directory of the OS (TLS files, logs)."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_user_config_file() -> Path:
    """Per-user configuration file, read when it exists."""
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


@dataclass(frozen=True)
class AgentConfig:
    """Everything the agent needs to know to start."""

    port: int | None = None
    """TCP port on 127.0.0.1; ``None`` = 8988, or the next free port up to 8998; 0 = any."""
    data_dir: Path = field(default_factory=default_data_dir)
    """Where the local TLS files and logs live."""
    pkcs11_modules: tuple[Path, ...] = ()
    """PKCS#11 modules to load; empty means auto-discovery."""
    allowed_origins: tuple[OriginPattern, ...] = ()
    """Web origins allowed to call the API."""
    extension_ids: tuple[str, ...] = (DEV_EXTENSION_ID,)
    """Kyso browser extension IDs trusted to relay calls for the page origin they name
    (the allow-list, pairing and consent then apply to that page). Empty: no extension."""
    prompter: str | None = None
    """External prompter command line; ``None`` means the built-in prompter."""
    prompt_timeout: float = DEFAULT_PROMPT_TIMEOUT
    """Seconds the user has to answer a prompt."""
    log_level: str = "INFO"
    """One of DEBUG, INFO, WARNING, ERROR."""
    lang: Lang = DEFAULT_LANG
    """Language of prompts and error messages (``vi`` or ``en``)."""
    max_body_bytes: int = DEFAULT_MAX_BODY
    """Largest JSON body accepted."""
    max_pdf_bytes: int = DEFAULT_MAX_PDF
    """Largest PDF accepted by the PDF endpoints (before base64)."""
    tsa_url: str | None = None
    """Default time-stamping authority for B-T and B-LT (e.g. http://ca.gov.vn/tsa)."""
    trust_roots: tuple[Path, ...] = ()
    """PEM/DER files of trusted root certificates (verification, B-LT); on Windows the OS
    store is added."""
    check_revocation: bool = True
    """Ask the certificate's OCSP responder or CRL before signing, when reachable."""
    trust_local_ca: bool = True
    """``kyso-agent run`` makes this user's browsers and OS trust the local CA at its first
    start and after a renewal (``kyso-agent trust install``); ``serve`` never does."""
    allow_user_pairing: bool = True
    """Policy: origins admitted by a wildcard entry may be paired by the user on first use."""
    allow_external_prompter: bool = True
    """Policy: ``--prompter`` may replace the agent's own prompt."""
    pin_cache_minutes: int = 0
    """Policy: keep a typed PIN per token for this long (0 = never)."""
    cancel_backoff_seconds: float = 2.0
    """Policy: first delay after repeated cancels from one origin (doubling; 0 = none)."""
    vgca_port: int = DEFAULT_VGCA_PORT
    """Port of the VGCA Sign Service compatibility (``wss://127.0.0.1:PORT``); 0 = any."""
    vgca_enabled: bool = True
    """Policy: answer portals that speak the VGCA Sign Service protocol."""
    module_isolation: Isolation = Isolation.PROCESS
    """``process``: each PKCS#11 module in its own worker process, so a crashing or hung
    vendor module fails one request, not the agent. ``thread``: in the agent's process."""
    module_timeout: float = DEFAULT_MODULE_TIMEOUT
    """Seconds a module may take to answer a read; signing gets this plus 2 s per digest
    (and 120 s more on a PIN pad). A module past its deadline is stopped and restarted."""

    @property
    def worker_limits(self) -> WorkerLimits:
        """Deadlines of the module workers."""
        return WorkerLimits(call_timeout=self.module_timeout, sign_timeout=self.module_timeout)

    @property
    def tls_dir(self) -> Path:
        """Directory of the local CA and server certificate."""
        return self.data_dir / "tls"

    @property
    def pairing_file(self) -> Path:
        """Origins the user paired on first use."""
        return self.data_dir / "paired-origins.json"

    @property
    def audit_file(self) -> Path:
        """The append-only audit trail."""
        return self.data_dir / "audit.sqlite3"

    @property
    def font_dir(self) -> Path:
        """Fonts prepared for signature appearances."""
        return self.data_dir / "fonts"

    @property
    def log_dir(self) -> Path:
        """Directory of the log files."""
        return self.data_dir / "logs"


_KEYS: Final = frozenset(f.name for f in fields(AgentConfig))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror}") from exc


def read_machine_policy(path: Path | None = None) -> dict[str, Any]:
    """The machine policy layer, or ``{}`` when IT set none."""
    if path is None:
        if sys.platform == "win32":
            return read_registry_policy()
        path = POSIX_POLICY_FILE
    if not path.exists():
        return {}
    return _read_toml(path)


# --- the Windows registry -----------------------------------------------------------------------

_REG_SZ: Final = 1
_REG_EXPAND_SZ: Final = 2
_REG_DWORD: Final = 4
_REG_MULTI_SZ: Final = 7
_LIST_KEYS: Final = frozenset({"allowed_origins", "pkcs11_modules", "trust_roots", "extension_ids"})
_INT_KEYS: Final = frozenset(
    {"port", "vgca_port", "pin_cache_minutes", "max_body_bytes", "max_pdf_bytes"}
)
_FLOAT_KEYS: Final = frozenset({"prompt_timeout", "cancel_backoff_seconds", "module_timeout"})
_BOOL_KEYS: Final = frozenset(
    {"allow_user_pairing", "allow_external_prompter", "check_revocation", "vgca_enabled"}
)
_TRUE_WORDS: Final = frozenset({"1", "true", "yes", "on"})
_FALSE_WORDS: Final = frozenset({"0", "false", "no", "off"})


def _registry_value(name: str, data: Any, kind: int) -> Any:
    """A registry value as the TOML value of the same key (``_convert`` validates it after)."""
    where = f"HKLM\\{WINDOWS_POLICY_KEY}\\{name}"
    if kind == _REG_MULTI_SZ:
        if name not in _LIST_KEYS:
            raise ConfigError(f"{where}: a list (REG_MULTI_SZ) is only for list settings")
        # An MSI writes a whole property as one item: "a;b" in one string is two entries.
        return [part.strip() for item in data for part in item.split(";") if part.strip()]
    if kind == _REG_DWORD:
        if name in _BOOL_KEYS:
            if data not in (0, 1):
                raise ConfigError(f"{where} must be 0 or 1")
            return bool(data)
        if name in _INT_KEYS or name in _FLOAT_KEYS:
            return int(data)
        raise ConfigError(f"{where}: a number (REG_DWORD) does not fit this setting")
    if kind not in (_REG_SZ, _REG_EXPAND_SZ) or not isinstance(data, str):
        raise ConfigError(f"{where}: use REG_SZ, REG_EXPAND_SZ, REG_DWORD or REG_MULTI_SZ")
    value = os.path.expandvars(data) if kind == _REG_EXPAND_SZ else data
    value = value.strip()
    if name in _LIST_KEYS:
        return [item.strip() for item in value.split(";") if item.strip()]
    if name in _BOOL_KEYS:
        word = value.lower()
        if word not in _TRUE_WORDS | _FALSE_WORDS:
            raise ConfigError(f"{where} must be 1 or 0 (true or false)")
        return word in _TRUE_WORDS
    if name in _INT_KEYS:
        if not value.isdigit():
            raise ConfigError(f"{where} must be a whole number")
        return int(value)
    if name in _FLOAT_KEYS:
        try:
            return float(value)
        except ValueError as exc:
            raise ConfigError(f"{where} must be a number") from exc
    return value


def read_registry_policy(registry: ModuleType | None = None) -> dict[str, Any]:
    """The machine policy from ``HKLM\\SOFTWARE\\Policies\\Kyso\\Agent``, or ``{}``.

    Value names are the TOML keys (case does not matter); ``docs/it-policy.md`` lists
    them with their types. An empty REG_SZ counts as not set (an MSI property left empty);
    an empty REG_MULTI_SZ is an empty list. ``registry`` replaces :mod:`winreg` in tests.
    """
    reg = registry if registry is not None else importlib.import_module("winreg")
    access = reg.KEY_READ | getattr(reg, "KEY_WOW64_64KEY", 0)
    try:
        key = reg.OpenKey(reg.HKEY_LOCAL_MACHINE, WINDOWS_POLICY_KEY, 0, access)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"HKLM\\{WINDOWS_POLICY_KEY} cannot be read: {exc}") from exc
    values: dict[str, Any] = {}
    with key:
        index = 0
        while True:
            try:
                name, data, kind = reg.EnumValue(key, index)
            except OSError:
                break
            index += 1
            name = str(name).strip().lower()
            if not name or (kind in (_REG_SZ, _REG_EXPAND_SZ) and not str(data).strip()):
                continue  # the key's (Default) value, or an MSI property left empty
            if name in _KEYS:
                values[name] = _registry_value(name, data, kind)
            else:
                values[name] = data  # unknown: refused by name, with the other layers' rules
    return values


def _as_str_list(key: str, value: Any, source: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ConfigError(f"{source}: {key} must be a list of strings")


def _extension_ids(value: Any, source: str) -> tuple[str, ...]:
    ids = _as_str_list("extension_ids", value, source)
    bad = [i for i in ids if not is_extension_id(i)]
    if bad:
        raise ConfigError(f"{source}: extension_ids: {bad[0]!r} is not an extension ID")
    return tuple(ids)


def _convert(key: str, value: Any, source: str) -> Any:
    if key in ("port", "vgca_port"):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 65536:
            raise ConfigError(f"{source}: {key} must be a number from 0 to 65535")
        return value
    if key == "data_dir":
        if not isinstance(value, str | Path) or not str(value):
            raise ConfigError(f"{source}: data_dir must be a path")
        return Path(value).expanduser()
    if key in ("pkcs11_modules", "trust_roots"):
        return tuple(Path(p).expanduser() for p in _as_str_list(key, value, source))
    if key == "allowed_origins":
        try:
            return tuple(parse_pattern(p) for p in _as_str_list(key, value, source))
        except InvalidOrigin as exc:
            raise ConfigError(f"{source}: allowed_origins: {exc}") from exc
    if key == "extension_ids":
        return _extension_ids(value, source)
    if key == "prompter":
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise ConfigError(f"{source}: prompter must be a command line")
        return value
    if key == "prompt_timeout":
        if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value <= 3600:
            raise ConfigError(f"{source}: prompt_timeout must be 1 to 3600 seconds")
        return float(value)
    if key == "log_level":
        if not isinstance(value, str) or value.upper() not in _LOG_LEVELS:
            raise ConfigError(f"{source}: log_level must be one of {', '.join(_LOG_LEVELS)}")
        return value.upper()
    if key == "lang":
        try:
            return Lang(value)
        except ValueError as exc:
            raise ConfigError(f"{source}: lang must be 'vi' or 'en'") from exc
    if key in (
        "allow_user_pairing",
        "allow_external_prompter",
        "check_revocation",
        "vgca_enabled",
        "trust_local_ca",
    ):
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: {key} must be true or false")
        return value
    if key == "pin_cache_minutes":
        if (
            not isinstance(value, int)
            or isinstance(value, bool)
            or not 0 <= value <= MAX_PIN_CACHE_MINUTES
        ):
            raise ConfigError(f"{source}: pin_cache_minutes must be 0 to {MAX_PIN_CACHE_MINUTES}")
        return value
    if key == "max_pdf_bytes":
        if not isinstance(value, int) or isinstance(value, bool) or value < 1024:
            raise ConfigError(f"{source}: max_pdf_bytes must be at least 1024")
        return value
    if key == "tsa_url":
        if value in (None, ""):
            return None
        if not isinstance(value, str) or not value.lower().startswith(("http://", "https://")):
            raise ConfigError(f"{source}: tsa_url must be an http:// or https:// URL")
        return value
    if key == "cancel_backoff_seconds":
        if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 60:
            raise ConfigError(f"{source}: cancel_backoff_seconds must be 0 to 60")
        return float(value)
    if key == "max_body_bytes":
        if not isinstance(value, int) or isinstance(value, bool) or value < 1024:
            raise ConfigError(f"{source}: max_body_bytes must be at least 1024")
        return value
    if key.startswith("module_"):
        return _convert_module_setting(key, value, source)
    raise ConfigError(f"{source}: unknown setting {key!r}")  # pragma: no cover


def _convert_module_setting(key: str, value: Any, source: str) -> Any:
    if key == "module_isolation":
        try:
            return Isolation(value)
        except ValueError as exc:
            raise ConfigError(f"{source}: module_isolation must be 'process' or 'thread'") from exc
    if not isinstance(value, int | float) or isinstance(value, bool) or not 1 <= value <= 600:
        raise ConfigError(f"{source}: module_timeout must be 1 to 600 seconds")
    return float(value)


def _layer(values: Mapping[str, Any], source: str, *, policy: bool = False) -> dict[str, Any]:
    unknown = sorted(set(values) - _KEYS)
    if unknown:
        raise ConfigError(f"{source}: unknown setting(s): {', '.join(unknown)}")
    reserved = sorted(set(values) & POLICY_ONLY) if not policy else []
    if reserved:
        raise ConfigError(f"{source}: {', '.join(reserved)} can only be set by machine policy")
    return {key: _convert(key, value, source) for key, value in values.items()}


def load_config(
    cli: Mapping[str, Any] | None = None,
    config_file: Path | None = None,
    *,
    policy: Mapping[str, Any] | None = None,
    user_config_file: Path | None = None,
) -> AgentConfig:
    """Build the configuration from its layers.

    ``cli`` holds only the flags the user actually gave. ``config_file`` is
    ``--config`` (must exist). ``policy`` replaces the machine policy layer and
    ``user_config_file`` the default per-user file (for tests and tools).
    """
    merged: dict[str, Any] = {}
    machine = read_machine_policy() if policy is None else dict(policy)
    merged.update(_layer(machine, "machine policy", policy=True))
    pinned = {key: merged[key] for key in POLICY_PINNED if key in machine}
    if config_file is not None:
        merged.update(_layer(_read_toml(config_file), str(config_file)))
    else:
        user_file = user_config_file or default_user_config_file()
        if user_file.exists():
            merged.update(_layer(_read_toml(user_file), str(user_file)))
    if cli:
        merged.update(_layer({k: v for k, v in cli.items() if v is not None}, "command line"))
    for key, value in pinned.items():
        if merged[key] != value:
            raise ConfigError(f"{key} is set by machine policy and cannot be changed")
    if merged.get("prompter") and not merged.get("allow_external_prompter", True):
        raise ConfigError("machine policy forbids an external prompter (--prompter)")
    return AgentConfig(**merged)


def configure_logging(config: AgentConfig, *, to_file: bool = True) -> None:
    """Log to stderr and, for the long-running agent, to a rotating file."""
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if to_file:
        # The long-running agent: its data (audit trail, log, TLS key) is its user's alone.
        private_dir(config.data_dir)
        private_dir(config.log_dir)
        private_files(config.log_dir, "agent.log*")
        handlers.append(
            PrivateLogFile(
                config.log_dir / "agent.log", maxBytes=2_000_000, backupCount=3, encoding="utf-8"
            )
        )
    logging.basicConfig(
        level=config.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    # pyHanko and its validator narrate every fetch and every lenient parse at INFO and
    # WARNING; the agent reports what matters itself (errors, audit trail, the verify report).
    for noisy in ("pyhanko", "pyhanko_certvalidator", "fontTools"):
        # log_level = "DEBUG" keeps them, for the helpdesk chasing a validation problem.
        logging.getLogger(noisy).setLevel(
            logging.NOTSET if config.log_level == "DEBUG" else logging.ERROR
        )
