"""Registry values the MSI cannot write with its Registry table: list policies, one per origin.

Windows Installer formats a property into one string; it cannot split ``ALLOWED_ORIGINS`` into
the numbered values (``1``, ``2``, …) that Chrome's, Edge's and Firefox's list policies need,
nor leave alone the numbers an administrator already uses. The MSI therefore runs this script
with its own ``python.exe`` (custom actions added by ``build.py``: deferred, as SYSTEM)::

    python.exe -I -B msi_policies.py apply  [--log FILE]
    python.exe -I -B msi_policies.py remove [--log FILE]
    python.exe -I -B msi_policies.py show          (IT: what the MSI wrote)

``apply`` (install, repair, upgrade) reads the properties the MSI was given from
``HKLM\\SOFTWARE\\Kyso\\Agent\\Install`` (``ALLOWED_ORIGINS``, ``INSTALL_EXTENSION``,
``BROWSER_POLICIES``; written by the Registry table just before) and then:

* ``HKLM\\SOFTWARE\\Policies\\Kyso\\Agent\\allowed_origins`` becomes a REG_MULTI_SZ with one
  item per origin (the property may separate them with ``;``, ``,`` or spaces);
* with ``BROWSER_POLICIES=1``: Chrome's and Edge's ``LocalNetworkAccessAllowedForUrls`` and
  ``LoopbackNetworkAllowedForUrls`` get one value per origin (Chrome's URL-pattern syntax,
  ``https://[*.]gov.vn``); Firefox's ``LocalNetworkAccess\\SkipDomains`` one value per portal
  host (``*.gov.vn``; never a loopback host, which would let every site reach the agent) and
  ``Certificates\\ImportEnterpriseRoots`` = 1 (Firefox then trusts the local CA that
  ``kyso-agent trust install`` puts in the user's Windows Root store);
* with ``INSTALL_EXTENSION``: Chrome's and Edge's ``ExtensionInstallForcelist`` get that entry.

A list entry takes the lowest number not in use; an entry already listed (by anyone) is not
added twice; a single value an administrator set (``ImportEnterpriseRoots``) is never
overwritten. What the script wrote is recorded under
``HKLM\\SOFTWARE\\Kyso\\Agent\\BrowserPolicies`` (value ``Owned``: key, name, type and data;
``CreatedKeys``). ``remove`` (uninstall, and the first step of every ``apply``) deletes exactly
those values whose data is still what was written, then the keys it created if they are empty:
values an administrator set or changed stay.

Origins are checked with the agent's own parser (``agent.origin``), so an origin the agent
would refuse fails the installation instead of stopping the agent at every login. Exit code 2
for a bad property, 1 for a registry error; the message goes to stderr and, with ``--log``,
is appended to that file (the MSI passes ``%TEMP%\\kyso-agent-msi.log``).
"""

from __future__ import annotations

import argparse
import ipaddress
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Protocol

REG_SZ: Final = 1
REG_EXPAND_SZ: Final = 2
REG_DWORD: Final = 4
REG_MULTI_SZ: Final = 7

CHROME: Final = r"SOFTWARE\Policies\Google\Chrome"
EDGE: Final = r"SOFTWARE\Policies\Microsoft\Edge"
FIREFOX: Final = r"SOFTWARE\Policies\Mozilla\Firefox"
AGENT_POLICY: Final = r"SOFTWARE\Policies\Kyso\Agent"
#: The properties the MSI was given, written by its Registry table (remembered for upgrades).
INSTALL: Final = r"SOFTWARE\Kyso\Agent\Install"
STATE: Final = r"SOFTWARE\Kyso\Agent\BrowserPolicies"
#: Chrome and Edge: Local Network Access exemptions for the portals (the first for 139-145,
#: the second, loopback only, from 146 on).
LNA_LISTS: Final = ("LocalNetworkAccessAllowedForUrls", "LoopbackNetworkAllowedForUrls")
FIREFOX_SKIP: Final = FIREFOX + r"\LocalNetworkAccess\SkipDomains"
FIREFOX_CERTIFICATES: Final = FIREFOX + r"\Certificates"

_SEPARATORS: Final = re.compile(r"[\s,;]+")
_EXTENSION: Final = re.compile(r"[a-p]{32}(;https?://[^\s;]+)?")

Value = tuple[int, Any]


class UsageError(Exception):
    """A property that cannot be turned into policies (the installation fails)."""


class Registry(Protocol):
    """The part of ``HKEY_LOCAL_MACHINE`` (64-bit view) the script uses."""

    def values(self, key: str) -> dict[str, Value] | None:
        """Name -> (type, data) of every value of ``key``; ``None`` when the key is missing."""

    def has_subkeys(self, key: str) -> bool:
        """Whether ``key`` has subkeys."""

    def create_key(self, key: str) -> None:
        """Create ``key`` (its parent exists)."""

    def set_value(self, key: str, name: str, kind: int, data: Any) -> None:
        """Write one value of an existing key."""

    def delete_value(self, key: str, name: str) -> None:
        """Delete one value."""

    def delete_key(self, key: str) -> None:
        """Delete an empty key."""


class WinRegistry:
    """:class:`Registry` on Windows (``winreg``, 64-bit view whatever the Python)."""

    def __init__(self) -> None:
        import winreg

        self._reg: Any = winreg
        self._view = winreg.KEY_WOW64_64KEY

    def _open(self, key: str, access: int) -> Any:
        return self._reg.OpenKey(self._reg.HKEY_LOCAL_MACHINE, key, 0, access | self._view)

    def values(self, key: str) -> dict[str, Value] | None:
        try:
            handle = self._open(key, self._reg.KEY_READ)
        except FileNotFoundError:
            return None
        found: dict[str, Value] = {}
        with handle:
            count = self._reg.QueryInfoKey(handle)[1]
            for index in range(count):
                name, data, kind = self._reg.EnumValue(handle, index)
                found[name] = (kind, data)
        return found

    def has_subkeys(self, key: str) -> bool:
        with self._open(key, self._reg.KEY_READ) as handle:
            return bool(self._reg.QueryInfoKey(handle)[0])

    def create_key(self, key: str) -> None:
        self._reg.CreateKeyEx(
            self._reg.HKEY_LOCAL_MACHINE, key, 0, self._reg.KEY_WRITE | self._view
        ).Close()

    def set_value(self, key: str, name: str, kind: int, data: Any) -> None:
        with self._open(key, self._reg.KEY_SET_VALUE) as handle:
            self._reg.SetValueEx(handle, name, 0, kind, data)

    def delete_value(self, key: str, name: str) -> None:
        with self._open(key, self._reg.KEY_SET_VALUE) as handle:
            self._reg.DeleteValue(handle, name)

    def delete_key(self, key: str) -> None:
        self._reg.DeleteKeyEx(self._reg.HKEY_LOCAL_MACHINE, key, self._view, 0)


# --- what to write -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """The MSI properties, parsed."""

    origins: tuple[str, ...] = ()
    """``ALLOWED_ORIGINS``, one entry per origin, as written (checked by the agent's parser)."""
    extension: str = ""
    """``INSTALL_EXTENSION``: ``EXTENSION_ID;UPDATE_URL`` (Chrome's force-list format)."""
    browser_policies: bool = False
    """``BROWSER_POLICIES=1``."""


def split_list(text: str) -> tuple[str, ...]:
    """Entries separated by ``;``, ``,`` or white space, without duplicates, in order."""
    return tuple(dict.fromkeys(part for part in _SEPARATORS.split(text.strip()) if part))


def parse_settings(origins: str, extension: str, browser_policies: str) -> Settings:
    """Check the properties; :class:`UsageError` names the first bad one."""
    from agent.origin import InvalidOrigin, parse_pattern

    entries = split_list(origins)
    for entry in entries:
        try:
            parse_pattern(entry)
        except InvalidOrigin as exc:
            raise UsageError(f"ALLOWED_ORIGINS: {exc}") from exc
    extension = extension.strip()
    if extension and not _EXTENSION.fullmatch(extension):
        raise UsageError(
            f"INSTALL_EXTENSION: {extension!r} is not EXTENSION_ID;UPDATE_URL "
            "(32 letters a-p, then ; and an http(s) URL)"
        )
    flag = browser_policies.strip()
    if flag not in ("", "0", "1"):
        raise UsageError(f"BROWSER_POLICIES: {flag!r} is not 1 or 0")
    return Settings(entries, extension, flag == "1")


def read_settings(registry: Registry) -> Settings:
    """The properties as the MSI wrote them under :data:`INSTALL` (missing ones are empty)."""
    values = registry.values(INSTALL) or {}

    def text(name: str) -> str:
        found = _get(values, name)
        return str(found[1]) if found and found[0] in (REG_SZ, REG_EXPAND_SZ) else ""

    return parse_settings(
        text("ALLOWED_ORIGINS"), text("INSTALL_EXTENSION"), text("BROWSER_POLICIES")
    )


def chrome_pattern(entry: str) -> str:
    """An allow-list entry in Chrome's URL-pattern syntax (``https://[*.]gov.vn:8443``)."""
    from agent.origin import parse_pattern

    pattern = parse_pattern(entry)
    host = f"[*.]{pattern.host}" if pattern.wildcard else pattern.host
    default = {"https": 443, "http": 80}[pattern.scheme]
    port = "" if pattern.port == default else f":{pattern.port}"
    return f"{pattern.scheme}://{host}{port}"


def firefox_domain(entry: str) -> str | None:
    """The host Firefox's ``SkipDomains`` takes (``*.gov.vn``), or ``None`` for a loopback host.

    Firefox also reads ``SkipDomains`` as *target* hosts that every site may reach: a loopback
    host there would open the agent's port to every website.
    """
    from agent.origin import parse_pattern

    pattern = parse_pattern(entry)
    host = pattern.host
    if host == "localhost" or host.startswith("["):
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass
    return f"*.{host}" if pattern.wildcard else host


def _same_extension(listed: str, wanted: str) -> bool:
    return listed.split(";", 1)[0].strip() == wanted.split(";", 1)[0]


def _same_text(listed: str, wanted: str) -> bool:
    return listed.strip().lower() == wanted.lower()


@dataclass(frozen=True)
class ListPolicy:
    """A browser list policy: numbered REG_SZ values under one key."""

    key: str
    """The policy key under HKLM."""
    items: tuple[str, ...]
    """What must be listed."""
    same: Callable[[str, str], bool] = _same_text
    """Whether an existing entry already lists an item (then it is not added again)."""


@dataclass(frozen=True)
class Plan:
    """Every value ``apply`` wants."""

    lists: tuple[ListPolicy, ...] = ()
    """Numbered list policies."""
    singles: tuple[tuple[str, str, int, Any], ...] = ()
    """(key, name, type, data) values written only where nobody has set them."""


def plan(settings: Settings) -> Plan:
    """What the properties ask for, browser by browser."""
    lists: list[ListPolicy] = []
    singles: list[tuple[str, str, int, Any]] = []
    if settings.browser_policies:
        patterns = tuple(dict.fromkeys(chrome_pattern(o) for o in settings.origins))
        domains = tuple(dict.fromkeys(d for o in settings.origins if (d := firefox_domain(o))))
        for browser in (CHROME, EDGE):
            lists += [ListPolicy(rf"{browser}\{name}", patterns) for name in LNA_LISTS]
        lists.append(ListPolicy(FIREFOX_SKIP, domains))
        singles.append((FIREFOX_CERTIFICATES, "ImportEnterpriseRoots", REG_DWORD, 1))
    if settings.extension:
        for browser in (CHROME, EDGE):
            key = rf"{browser}\ExtensionInstallForcelist"
            lists.append(ListPolicy(key, (settings.extension,), _same_extension))
    return Plan(tuple(p for p in lists if p.items), tuple(singles))


# --- what was written ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Owned:
    """One value this script wrote."""

    key: str
    name: str
    kind: int
    data: Any

    def line(self) -> str:
        """How it is recorded (tab-separated; no field can hold a tab)."""
        return f"{self.key}\t{self.name}\t{self.kind}\t{self.data}"

    @classmethod
    def from_line(cls, line: str) -> Owned | None:
        """The record of :meth:`line`, or ``None`` when it is not one."""
        parts = line.split("\t")
        if len(parts) != 4 or not parts[2].isdigit():
            return None
        kind = int(parts[2])
        data: Any = int(parts[3]) if kind == REG_DWORD and parts[3].isdigit() else parts[3]
        return cls(parts[0], parts[1], kind, data)


@dataclass
class State:
    """The record under :data:`STATE`, saved before every change so that a failure midway
    (and the rollback that follows it) still knows what was written."""

    registry: Registry
    owned: list[Owned] = field(default_factory=list)
    created: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, registry: Registry) -> State:
        """Read the record (empty when there is none)."""
        values = registry.values(STATE) or {}
        owned = [o for line in _lines(values, "Owned") if (o := Owned.from_line(line))]
        return cls(registry, owned, _lines(values, "CreatedKeys"))

    def save(self) -> None:
        """Write the record, or delete it when it is empty."""
        if not self.owned and not self.created:
            recorded = self.registry.values(STATE)
            if recorded is not None:
                for name in recorded:
                    self.registry.delete_value(STATE, name)
                if not self.registry.has_subkeys(STATE):
                    self.registry.delete_key(STATE)
            return
        ensure_key(self.registry, STATE, None)
        self.registry.set_value(STATE, "Owned", REG_MULTI_SZ, [o.line() for o in self.owned])
        self.registry.set_value(STATE, "CreatedKeys", REG_MULTI_SZ, list(self.created))


def _lines(values: dict[str, Value], name: str) -> list[str]:
    kind, data = _get(values, name) or (None, None)
    return [str(x) for x in data if x] if kind == REG_MULTI_SZ and data else []


def _get(values: dict[str, Value], name: str) -> Value | None:
    """A value by name; registry names are case-insensitive."""
    for existing, value in values.items():
        if existing.lower() == name.lower():
            return value
    return None


def ensure_key(registry: Registry, key: str, state: State | None) -> None:
    """Create ``key`` and any missing parent, recording each one created in ``state``."""
    parts = key.split("\\")
    for depth in range(1, len(parts) + 1):
        prefix = "\\".join(parts[:depth])
        if registry.values(prefix) is None:
            if state is not None:
                # Recorded before it is made: a failure in between leaves a record of nothing,
                # never something made and not recorded.
                state.created.append(prefix)
                state.save()
            registry.create_key(prefix)


def release(state: State, log: Callable[[str], None]) -> None:
    """Delete what was written and is still as written; then the created keys left empty."""
    registry = state.registry
    for owned in state.owned:
        current = _get(registry.values(owned.key) or {}, owned.name)
        if current == (owned.kind, owned.data):
            registry.delete_value(owned.key, owned.name)
            log(f"removed {owned.key}\\{owned.name}")
        elif current is not None:
            log(f"left {owned.key}\\{owned.name}: changed since it was written")
    for key in sorted(state.created, key=lambda k: k.count("\\"), reverse=True):
        values = registry.values(key)
        if values is not None and not values and not registry.has_subkeys(key):
            registry.delete_key(key)
    state.owned.clear()
    state.created.clear()
    state.save()


def _write(state: State, owned: Owned, log: Callable[[str], None]) -> None:
    ensure_key(state.registry, owned.key, state)
    state.owned.append(owned)
    state.save()
    state.registry.set_value(owned.key, owned.name, owned.kind, owned.data)
    log(f"set {owned.key}\\{owned.name} = {owned.data}")


def _free_number(values: dict[str, Value]) -> str:
    taken = {name.lower() for name in values}
    number = 1
    while str(number) in taken:
        number += 1
    return str(number)


def apply(registry: Registry, settings: Settings, log: Callable[[str], None] = print) -> None:
    """Bring the registry to what ``settings`` asks for (see the module's docstring)."""
    state = State.load(registry)
    release(state, log)
    if settings.origins and registry.values(AGENT_POLICY) is not None:
        # The Registry table wrote the whole property as one item; the agent wants a list.
        registry.set_value(AGENT_POLICY, "allowed_origins", REG_MULTI_SZ, list(settings.origins))
    wanted = plan(settings)
    for policy in wanted.lists:
        for item in policy.items:
            values = registry.values(policy.key) or {}
            listed = [str(d) for k, d in values.values() if k in (REG_SZ, REG_EXPAND_SZ)]
            if any(policy.same(entry, item) for entry in listed):
                log(f"kept {policy.key}: {item} is already listed")
                continue
            _write(state, Owned(policy.key, _free_number(values), REG_SZ, item), log)
    for key, name, kind, data in wanted.singles:
        if _get(registry.values(key) or {}, name) is not None:
            log(f"kept {key}\\{name}: already set")
            continue
        _write(state, Owned(key, name, kind, data), log)


def remove(registry: Registry, log: Callable[[str], None] = print) -> None:
    """Take back everything :func:`apply` wrote (what others set or changed stays)."""
    release(State.load(registry), log)


def show(registry: Registry, log: Callable[[str], None] = print) -> None:
    """List what the MSI wrote."""
    state = State.load(registry)
    for owned in state.owned:
        log(f"{owned.key}\\{owned.name} = {owned.data}")
    if not state.owned:
        log("nothing")


def main(argv: Sequence[str] | None = None, registry: Registry | None = None) -> int:
    """The command line; exit code 2 for a bad property, 1 for a registry error."""
    for stream in (sys.stdout, sys.stderr):
        # A host name in Unicode must not stop the script on a cp1252 console.
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    parser = argparse.ArgumentParser(prog="msi_policies.py", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("apply", "remove", "show"))
    parser.add_argument("--log", help="append errors to this file too")
    args = parser.parse_args(argv)
    try:
        reg = registry if registry is not None else WinRegistry()
        if args.command == "apply":
            apply(reg, read_settings(reg))
        elif args.command == "remove":
            remove(reg)
        else:
            show(reg)
    except UsageError as exc:
        return _fail(2, str(exc), args.log)
    except OSError as exc:
        return _fail(1, f"registry: {exc}", args.log)
    return 0


def _fail(code: int, message: str, log_file: str | None) -> int:
    line = f"msi_policies: {message}"
    print(line, file=sys.stderr)
    if log_file:
        stamp = datetime.now().astimezone().isoformat(timespec="seconds")
        try:
            with open(log_file, "a", encoding="utf-8") as log:
                log.write(f"{stamp} {line}\n")
        except OSError:
            pass  # the exit code still fails the installation
    return code


if __name__ == "__main__":
    sys.exit(main())
