"""Configuration: one frozen dataclass, built once from four layers.

Layers, later ones winning key by key::

    built-in defaults < machine policy < user config file < command-line flags

* Machine policy (set by IT): ``/etc/kyso-agent/policy.toml`` on Linux and
  macOS; on Windows the values of ``HKLM\\SOFTWARE\\Policies\\Kyso\\Agent`` (written by
  the MSI, GPO or Intune), named like the TOML keys (:func:`read_registry_policy`).
  ``docs/it-policy.md`` is the reference for both.
* User file: ``--config FILE``, else ``config.toml`` in the per-user config
  directory if it exists.

Each setting is declared once, as a field of :class:`AgentConfig` (:mod:`agent.settings`):
the TOML and registry parsers, the command-line flags and the checks of the documentation
all come from that declaration. Unknown keys are errors, so that a typo never silently
weakens a setting.
"""

from __future__ import annotations

import importlib
import logging
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields, replace
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import Any, Final

import platformdirs

from agent.errors import ConfigError
from agent.isolation import Isolation, WorkerLimits
from agent.messages import DEFAULT_LANG, Lang
from agent.origin import (
    DEV_EXTENSION_ID,
    OriginPattern,
    is_extension_id,
    parse_pattern,
)
from agent.private import PrivateLogFile, private_dir, private_files
from agent.settings import (
    SPEC,
    Choices,
    Flag,
    RegType,
    Setting,
    Shape,
    as_path,
    setting,
)

APP_NAME: Final = "kyso-agent"
#: Chosen next to the VGCA plugin's 8987 so that IT finds both in one firewall rule.
DEFAULT_PORT: Final = 8988
#: When the default port is taken (another user's agent on a terminal server), the next free
#: one of these is used; browsers' clients probe the same range.
DEFAULT_PORT_RANGE: Final = range(DEFAULT_PORT, DEFAULT_PORT + 11)
MAX_PIN_CACHE_MINUTES: Final = 480
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
_STRING_TYPES: Final = (RegType.REG_SZ, RegType.REG_EXPAND_SZ)
#: The commands that run the agent (and take its listening flags).
_AGENT: Final = frozenset({"run", "serve"})


def default_data_dir() -> Path:
    """Per-user data directory of the OS (TLS files, logs)."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_user_config_file() -> Path:
    """Per-user configuration file, read when it exists."""
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


def _extension_id(value: str) -> str:
    if not is_extension_id(value):
        raise ValueError(f"{value!r} is not an extension ID")
    return value


def _command_line(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError("must be a command line")  # noqa: TRY004 - the message names the key
    return value


def _url(value: Any) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not value.lower().startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return value


def _port(doc: str, flag: Flag) -> Setting:
    return Setting(Shape.INT, doc, low=0, high=65535, expect="a number from 0 to 65535", flag=flag)


def _layer_port(name: str, doc: str, default_text: str) -> Setting:
    """``NAME_port`` of a plugin layer (agent/compat): its ``--NAME-port`` flag, unset by
    default (the vendor's own list of ports, ``default_text``)."""
    flag = Flag(f"--{name}-port", "N", _AGENT)
    return replace(_port(f"port of {doc}", flag), default_text=default_text)


def _layer_switch(product: str) -> Setting:
    """``NAME_enabled`` of a plugin layer: machine policy turns it off."""
    return Setting(Shape.BOOL, f"answer portals built for {product}", policy_only=True)


@dataclass(frozen=True)
class AgentConfig:
    """Everything the agent needs to know to start: one field per setting."""

    port: int | None = setting(
        None,
        replace(
            _port(
                "TCP port of the HTTPS API on 127.0.0.1 (0 = any free port)",
                Flag("--port", "N", _AGENT | {"status"}),
            ),
            default_text=f"{DEFAULT_PORT}",
        ),
    )
    data_dir: Path = setting(
        default_data_dir,
        Setting(
            Shape.TEXT,
            "where the local TLS files, the audit trail and the logs live",
            parse=as_path,
            flag=Flag("--data-dir", "DIR"),
            default_text="the per-user data directory",
        ),
        factory=True,
    )
    pkcs11_modules: tuple[Path, ...] = setting(
        (),
        Setting(
            Shape.LIST,
            "PKCS#11 modules to load (repeatable)",
            parse=as_path,
            flag=Flag("--pkcs11-module", "PATH"),
            default_text="auto-discovery",
        ),
    )
    allowed_origins: tuple[OriginPattern, ...] = setting(
        (),
        Setting(
            Shape.LIST,
            "web origins allowed to call the agent, e.g. https://portal.gov.vn or "
            "https://*.gov.vn (repeatable)",
            parse=parse_pattern,
            flag=Flag("--allow-origin", "ORIGIN", _AGENT),
            default_text="none",
        ),
    )
    extension_ids: tuple[str, ...] = setting(
        (DEV_EXTENSION_ID,),
        # An unpacked copy of the extension has the bundled ID (it derives from the manifest's
        # public key), so IT that deploys its own build pins its ID here, and no user-level
        # file can add another (docs/security.md).
        Setting(
            Shape.LIST,
            "Kyso browser extension IDs trusted to relay calls for the page origin they name "
            "(the allow-list, pairing and consent then apply to that page); empty: none",
            parse=_extension_id,
            pinned=True,
            default_text="the bundled extension",
        ),
    )
    prompter: str | None = setting(
        None,
        Setting(
            Shape.TEXT,
            "external program that asks the user (JSON on stdin/stdout)",
            parse=_command_line,
            flag=Flag("--prompter", "CMD", _AGENT | {"sign-pdf"}),
            default_text="the built-in dialog",
        ),
    )
    prompt_timeout: float = setting(
        DEFAULT_PROMPT_TIMEOUT,
        Setting(
            Shape.FLOAT,
            "seconds the user has to answer a prompt",
            low=0,
            low_open=True,
            high=3600,
            unit=" seconds",
            flag=Flag("--prompt-timeout", "SECONDS", _AGENT),
        ),
    )
    wait_for_token: bool = setting(
        True,
        Setting(
            Shape.BOOL,
            "when no token holding a usable certificate is plugged in, ask for it and wait up to "
            "the prompt timeout (off: answer TOKEN_NOT_PRESENT or CERTIFICATE_NOT_FOUND at once)",
        ),
    )
    log_level: str = setting(
        "INFO",
        Setting(
            Shape.TEXT,
            "log verbosity",
            parse=Choices(_LOG_LEVELS, fold=str.upper),
            flag=Flag("--log-level", "LEVEL"),
        ),
    )
    lang: Lang = setting(
        DEFAULT_LANG,
        Setting(
            Shape.TEXT,
            "language of prompts and error messages",
            parse=Choices.of(Lang),
            flag=Flag("--lang", "LANG"),
        ),
    )
    max_body_bytes: int = setting(
        DEFAULT_MAX_BODY, Setting(Shape.INT, "largest JSON request body, in bytes", low=1024)
    )
    max_pdf_bytes: int = setting(
        DEFAULT_MAX_PDF,
        Setting(Shape.INT, "largest PDF the PDF endpoints accept (before base64)", low=1024),
    )
    tsa_url: str | None = setting(
        None,
        Setting(
            Shape.TEXT,
            "default time-stamping authority for B-T and B-LT (e.g. http://ca.gov.vn/tsa)",
            parse=_url,
            flag=Flag("--tsa-url", "URL", frozenset({"sign-pdf"})),
            default_text="none",
        ),
    )
    trust_roots: tuple[Path, ...] = setting(
        (),
        Setting(
            Shape.LIST,
            "PEM/DER files of trusted root certificates (verification, B-LT)",
            parse=as_path,
            default_text="none",
        ),
    )
    check_revocation: bool = setting(
        True,
        Setting(Shape.BOOL, "ask the certificate's OCSP responder or CRL before signing"),
    )
    trust_local_ca: bool = setting(
        True,
        Setting(
            Shape.BOOL,
            "`kyso-agent run` makes this user's browsers and OS trust the local CA at its first "
            "start and after a renewal (`serve` never does)",
        ),
    )
    allow_user_pairing: bool = setting(
        True,
        Setting(
            Shape.BOOL,
            "origins admitted by a wildcard entry may be paired by the user on first use",
            policy_only=True,
        ),
    )
    allow_external_prompter: bool = setting(
        True,
        Setting(Shape.BOOL, "`--prompter` may replace the agent's own prompt", policy_only=True),
    )
    pin_cache_minutes: int = setting(
        0,
        Setting(
            Shape.INT,
            "keep a typed PIN per token for this long (0 = never)",
            low=0,
            high=MAX_PIN_CACHE_MINUTES,
            policy_only=True,
        ),
    )
    cancel_backoff_seconds: float = setting(
        2.0,
        Setting(
            Shape.FLOAT,
            "first delay after repeated cancels from one origin (doubling; 0 = none)",
            low=0,
            high=60,
            policy_only=True,
        ),
    )
    vgca_port: int = setting(
        DEFAULT_VGCA_PORT,
        _port(
            "port of the VGCA Sign Service compatibility (wss://127.0.0.1:PORT; 0 = any)",
            Flag("--vgca-port", "N", _AGENT),
        ),
    )
    vgca_enabled: bool = setting(
        True,
        Setting(
            Shape.BOOL, "answer portals that speak the VGCA Sign Service protocol", policy_only=True
        ),
    )
    vnpt_port: int | None = setting(
        None,
        _layer_port(
            "vnpt",
            "the VNPT-CA Plugin compatibility (wss://localhost:PORT/plugin; 0 = any); unset: "
            "the first free one of those vnpt-plugin.js tries",
            "4433, 4434, 4435, 9201, 9202, 5002, 5003",
        ),
    )
    vnpt_enabled: bool = setting(True, _layer_switch("the VNPT-CA Plugin"))
    bkav_port: int | None = setting(
        None,
        _layer_port(
            "bkav",
            "the BKAV plugin compatibility (wss://localhost:PORT; 0 = any); unset: the one "
            "BKAV's library tries",
            "8443",
        ),
    )
    bkav_enabled: bool = setting(True, _layer_switch("BKAV's signing plugin"))
    fpt_port: int | None = setting(
        None,
        _layer_port(
            "fpt",
            "the FPT SignPlugin compatibility (https://127.0.0.1:PORT/process; 0 = any); unset: "
            "the one FPT's library tries",
            "14408",
        ),
    )
    fpt_enabled: bool = setting(True, _layer_switch("FPT's SignPlugin"))
    module_isolation: Isolation = setting(
        Isolation.PROCESS,
        Setting(
            Shape.TEXT,
            "`process`: each PKCS#11 module in its own worker process, so that a crashing or "
            "hung vendor module fails one request, not the agent; `thread`: in the agent",
            parse=Choices.of(Isolation),
        ),
    )
    module_timeout: float = setting(
        DEFAULT_MODULE_TIMEOUT,
        Setting(
            Shape.FLOAT,
            "seconds a PKCS#11 module may take to answer a read (a signature: plus 2 s per "
            "digest, 120 s more on a PIN pad); past it the module is stopped and restarted",
            low=1,
            high=600,
            unit=" seconds",
        ),
    )

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


def _declared() -> tuple[Setting, ...]:
    declared = []
    for item in fields(AgentConfig):
        factory = item.default_factory
        default = item.default if factory is MISSING else factory()
        declared.append(replace(item.metadata[SPEC], name=item.name, default=default))
    return tuple(declared)


SETTINGS: Final = _declared()
"""Every setting, in the order of :class:`AgentConfig`'s fields."""
BY_NAME: Final = {s.name: s for s in SETTINGS}
#: Settings that only IT may set (machine policy): each one loosens or tightens security.
POLICY_ONLY: Final = frozenset(s.name for s in SETTINGS if s.policy_only)
#: Settings that machine policy pins when it sets them: a user file or flag may set them only
#: where policy is silent.
POLICY_PINNED: Final = frozenset(s.name for s in SETTINGS if s.pinned)


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


def read_registry_policy(registry: ModuleType | None = None) -> dict[str, Any]:
    """The machine policy from ``HKLM\\SOFTWARE\\Policies\\Kyso\\Agent``, or ``{}``.

    Value names are the TOML keys (case does not matter); each is read as its setting declares
    (:meth:`agent.settings.Setting.from_registry`), ``docs/it-policy.md`` lists them with their
    types. An empty REG_SZ counts as not set (an MSI property left empty); an empty
    REG_MULTI_SZ is an empty list. ``registry`` replaces :mod:`winreg` in tests.
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
            if not name or (kind in _STRING_TYPES and not str(data).strip()):
                continue  # the key's (Default) value, or an MSI property left empty (REG_*SZ)
            declared = BY_NAME.get(name)
            if declared is None:
                values[name] = data  # unknown: refused by name, with the other layers' rules
            else:
                values[name] = declared.from_registry(
                    data, kind, f"HKLM\\{WINDOWS_POLICY_KEY}\\{name}"
                )
    return values


def _layer(values: Mapping[str, Any], source: str, *, policy: bool = False) -> dict[str, Any]:
    unknown = sorted(set(values) - BY_NAME.keys())
    if unknown:
        raise ConfigError(f"{source}: unknown setting(s): {', '.join(unknown)}")
    reserved = sorted(set(values) & POLICY_ONLY) if not policy else []
    if reserved:
        raise ConfigError(f"{source}: {', '.join(reserved)} can only be set by machine policy")
    return {key: BY_NAME[key].convert(value, source) for key, value in values.items()}


class ValueSource(StrEnum):
    """Which layer gave a setting the value it has (the support bundle says it per setting)."""

    DEFAULT = "default"
    """No layer set it: the built-in default."""
    MACHINE_POLICY = "machine-policy"
    """IT's machine policy (``/etc/kyso-agent/policy.toml``, or the registry on Windows)."""
    USER_FILE = "user-file"
    """The user's ``config.toml`` (or the ``--config`` file)."""
    COMMAND_LINE = "command-line"
    """A flag given to the command."""
    TRAY = "tray"
    """The language picked in the tray's menu (``lang`` only): it ranks above the files and
    below ``--lang`` (docs/tray.md). Never set here; the tray says it of its own choice."""


@dataclass(frozen=True)
class SourcedConfig:
    """The configuration, and which layer each of its values came from."""

    config: AgentConfig
    """The configuration, as :func:`load_config` returns it."""
    sources: Mapping[str, ValueSource]
    """Every setting's name → the last layer that set it (read-only)."""
    user_file: Path | None
    """The user file that was read (``--config``, else the per-user file when it exists)."""


def load_sourced_config(
    cli: Mapping[str, Any] | None = None,
    config_file: Path | None = None,
    *,
    policy: Mapping[str, Any] | None = None,
    user_config_file: Path | None = None,
) -> SourcedConfig:
    """:func:`load_config`, also saying where each value came from (same arguments)."""
    merged: dict[str, Any] = {}
    sources = dict.fromkeys(BY_NAME, ValueSource.DEFAULT)

    def apply(values: dict[str, Any], source: ValueSource) -> None:
        merged.update(values)
        sources.update(dict.fromkeys(values, source))

    machine = read_machine_policy() if policy is None else dict(policy)
    apply(_layer(machine, "machine policy", policy=True), ValueSource.MACHINE_POLICY)
    pinned = {key: merged[key] for key in POLICY_PINNED if key in machine}
    if config_file is not None:
        user_file: Path | None = config_file  # --config: it must exist (_read_toml says so)
    else:
        candidate = user_config_file or default_user_config_file()
        user_file = candidate if candidate.exists() else None
    if user_file is not None:
        apply(_layer(_read_toml(user_file), str(user_file)), ValueSource.USER_FILE)
    if cli:
        given = {k: v for k, v in cli.items() if v is not None}
        apply(_layer(given, "command line"), ValueSource.COMMAND_LINE)
    for key, value in pinned.items():
        if merged[key] != value:
            raise ConfigError(f"{key} is set by machine policy and cannot be changed")
    if merged.get("prompter") and not merged.get("allow_external_prompter", True):
        raise ConfigError("machine policy forbids an external prompter (--prompter)")
    return SourcedConfig(AgentConfig(**merged), MappingProxyType(sources), user_file)


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
    return load_sourced_config(
        cli, config_file, policy=policy, user_config_file=user_config_file
    ).config


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
