"""Which OS user owns the other end of a loopback TCP connection.

The threat: on a host shared by several people (Windows Remote Desktop
Services / terminal servers, shared Linux machines) every user's agent listens
on 127.0.0.1, and 127.0.0.1 is reachable by *every* process on the host. A
program or browser run by another user could connect to this user's agent and
ask it to sign with this user's token; the Origin check does not help, because
the other user controls their own browser and any non-browser client can send
whatever ``Origin`` it likes.

The mechanism: a loopback connection has two sockets on this host, and the
kernel knows who owns each. The agent holds the server side; it looks up the
*client* side, i.e. the socket whose local address is the agent's peer and
whose remote address is the agent's own address, and asks who owns it:

* Linux: the ``uid`` column of ``/proc/net/tcp`` and ``/proc/net/tcp6`` (the
  user who created the socket), compared with :func:`os.getuid`.
* Windows: ``GetExtendedTcpTable`` gives the owning process id of the client
  socket; the SID of that process's user is compared with the SID of the
  agent's own user.
* macOS and other systems: not implemented; :class:`CallerCheck` admits every
  connection there (see its docstring).

Limits, by design: the owner is whoever *created* the socket (Linux) or the
process holding it (Windows); a user who hands a socket to another user's
process has chosen to share. Root and administrators can impersonate anyone and
are out of scope. A connection whose owner cannot be found (it came from
another network namespace, a proxy, or a process the agent may not inspect) is
refused.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import socket
import struct
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, Protocol, TypeVar

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TcpEndpoint:
    """One end of a TCP connection, as ``getpeername``/``getsockname`` give it."""

    host: str
    """IPv4 or IPv6 address in textual form (``127.0.0.1``, ``::1``, ``::ffff:127.0.0.1``)."""
    port: int
    """TCP port."""


class _TcpRow(Protocol):
    """What :func:`find_client_row` needs from a row of a socket table."""

    @property
    def local(self) -> TcpEndpoint: ...

    @property
    def remote(self) -> TcpEndpoint: ...

    @property
    def established(self) -> bool: ...

    @property
    def owner_known(self) -> bool: ...


_Row = TypeVar("_Row", bound=_TcpRow)
_IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _endpoint_key(endpoint: TcpEndpoint) -> tuple[_IpAddress, int]:
    """A comparable form: IPv4-mapped IPv6 addresses become IPv4, scope ids are dropped."""
    address = ipaddress.ip_address(endpoint.host.partition("%")[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address, endpoint.port


def find_client_row(rows: Iterable[_Row], peer: TcpEndpoint, local: TcpEndpoint) -> _Row | None:
    """The ESTABLISHED row of the client socket of the connection ``peer`` → ``local``.

    That is the row whose local end is ``peer`` and whose remote end is ``local``
    (the server's own socket is the mirror row and is never returned). Only an
    established row counts: a socket that is closing may already be gone from its
    owner, and Linux reports some closing states with uid 0, which an agent
    running as root would take for its own user. The lookup is made when the
    connection is accepted (:mod:`agent.server.connections`), when a client that is still
    connecting is certainly established; one that has already closed is refused.

    Raises:
        ValueError: ``peer`` or ``local`` is not an IP address.
    """
    peer_key = _endpoint_key(peer)
    local_key = _endpoint_key(local)
    for row in rows:
        if row.local.port != peer.port or row.remote.port != local.port or not row.established:
            continue  # cheap test first: the tables can hold thousands of rows
        if not row.owner_known:
            continue
        if _endpoint_key(row.local) == peer_key and _endpoint_key(row.remote) == local_key:
            return row
    return None


# --- Linux: /proc/net/tcp{,6} ------------------------------------------------------------------

#: ``st`` column values (include/net/tcp_states.h).
_PROC_ESTABLISHED: Final = 0x01
_PROC_TIME_WAIT: Final = 0x06


@dataclass(frozen=True)
class ProcTcpRow:
    """One socket of ``/proc/net/tcp`` or ``/proc/net/tcp6``."""

    local: TcpEndpoint
    """The socket's own address (``local_address``)."""
    remote: TcpEndpoint
    """The address it is connected to (``rem_address``)."""
    state: int
    """TCP state (``st``): 0x01 ESTABLISHED, 0x0A LISTEN, …"""
    uid: int
    """The user who created the socket."""

    @property
    def established(self) -> bool:
        """The connection is open both ways."""
        return self.state == _PROC_ESTABLISHED

    @property
    def owner_known(self) -> bool:
        """Whether ``uid`` means anything: TIME_WAIT rows always show uid 0."""
        return self.state != _PROC_TIME_WAIT


def _proc_endpoint(field: str, byteorder: Literal["little", "big"]) -> TcpEndpoint:
    """Decode ``0100007F:231C``: address bytes printed as native-endian 32-bit words."""
    address_hex, colon, port_hex = field.partition(":")
    if not colon or len(address_hex) not in (8, 32) or len(port_hex) != 4:
        raise ValueError(f"not a /proc/net/tcp address: {field!r}")
    packed = b"".join(
        int(address_hex[i : i + 8], 16).to_bytes(4, byteorder)
        for i in range(0, len(address_hex), 8)
    )
    family = socket.AF_INET if len(packed) == 4 else socket.AF_INET6
    return TcpEndpoint(socket.inet_ntop(family, packed), int(port_hex, 16))


def parse_proc_net_tcp(
    text: str, *, byteorder: Literal["little", "big"] = sys.byteorder
) -> list[ProcTcpRow]:
    """The rows of a ``/proc/net/tcp`` or ``/proc/net/tcp6`` file.

    ``byteorder`` is that of the kernel that wrote ``text`` (addresses are printed
    as native-endian words: 127.0.0.1 is ``0100007F`` on x86).

    Raises:
        ValueError: a row does not have the kernel's format.
    """
    rows: list[ProcTcpRow] = []
    for line in text.splitlines():
        fields = line.split()
        if not fields or fields[0] == "sl":
            continue  # the header
        # sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid ...
        if len(fields) < 8 or not fields[0].endswith(":"):
            raise ValueError(f"not a /proc/net/tcp row: {line!r}")
        rows.append(
            ProcTcpRow(
                local=_proc_endpoint(fields[1], byteorder),
                remote=_proc_endpoint(fields[2], byteorder),
                state=int(fields[3], 16),
                uid=int(fields[7]),
            )
        )
    return rows


def peer_uid_linux(
    peer: TcpEndpoint, local: TcpEndpoint, proc_root: Path = Path("/proc")
) -> int | None:
    """The uid owning the client socket of the connection ``peer`` → ``local``.

    Looks in ``net/tcp`` and ``net/tcp6`` under ``proc_root`` (a missing file, as
    with IPv6 disabled, is skipped); an IPv4 client may appear in either as a
    plain or IPv4-mapped address. Returns None when no such socket exists in this
    network namespace.

    Raises:
        OSError: a table exists but cannot be read.
        ValueError: an endpoint is not an IP address, or a candidate row is malformed.
    """
    row = find_client_row(_proc_rows(proc_root, peer, local), peer, local)
    return row.uid if row is not None else None


# --- Linux: sock_diag (netlink), one socket asked for by its four-tuple ------------------------

_NETLINK_SOCK_DIAG: Final = 4
_SOCK_DIAG_BY_FAMILY: Final = 20
_NLM_F_REQUEST: Final = 0x1
_NLMSG_ERROR: Final = 2
_NLMSG_HEADER: Final = struct.Struct("=IHHII")
#: inet_diag_req_v2: family, protocol, ext, pad, states; then inet_diag_sockid.
_DIAG_REQUEST: Final = struct.Struct("=BBBxI")
_DIAG_SOCKID: Final = struct.Struct("!HH16s16s")
_DIAG_TAIL: Final = struct.Struct("=III")  # idiag_if, idiag_cookie[2]
_NO_COOKIE: Final = 0xFFFFFFFF
#: inet_diag_msg: family, state, timer, retrans, sockid (48 bytes), expires, rqueue, wqueue,
#: uid, inode.
_DIAG_MESSAGE: Final = struct.Struct("=BBBB48sIIIII")
_TCP_ESTABLISHED: Final = 1


def peer_uid_sock_diag(peer: TcpEndpoint, local: TcpEndpoint) -> int | None:
    """The uid owning the client socket of ``peer`` → ``local``, asked of the kernel directly.

    One netlink request names the socket by its four-tuple (what ``ss`` does), so the cost
    does not grow with the number of sockets on the machine, as reading ``/proc/net/tcp``
    does: with thousands of TIME_WAIT sockets after a burst, that read made every accepted
    connection wait milliseconds on the event loop. Only an ESTABLISHED socket counts (see
    :func:`find_client_row`). ``None`` when there is no such socket.

    Raises:
        OSError: the kernel has no sock_diag for this family, or refuses the request.
        ValueError: an endpoint is not an IP address.
    """
    family = socket.AF_INET6 if ":" in peer.host else socket.AF_INET
    source = socket.inet_pton(family, peer.host).ljust(16, b"\0")
    destination = socket.inet_pton(family, local.host).ljust(16, b"\0")
    body = (
        _DIAG_REQUEST.pack(family, socket.IPPROTO_TCP, 0, 1 << _TCP_ESTABLISHED)
        + _DIAG_SOCKID.pack(peer.port, local.port, source, destination)
        + _DIAG_TAIL.pack(0, _NO_COOKIE, _NO_COOKIE)
    )
    header = _NLMSG_HEADER.pack(
        _NLMSG_HEADER.size + len(body), _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST, 1, 0
    )
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, _NETLINK_SOCK_DIAG) as channel:
        channel.settimeout(1.0)
        channel.sendto(header + body, (0, 0))
        answer = channel.recv(8192)
    _length, kind, _flags, _seq, _pid = _NLMSG_HEADER.unpack_from(answer)
    if kind == _NLMSG_ERROR:
        (error,) = struct.unpack_from("=i", answer, _NLMSG_HEADER.size)
        if -error == errno.ENOENT:
            return None
        raise OSError(-error, os.strerror(-error))
    if kind != _SOCK_DIAG_BY_FAMILY:
        raise OSError(errno.EPROTO, f"unexpected sock_diag answer type {kind}")
    fields = _DIAG_MESSAGE.unpack_from(answer, _NLMSG_HEADER.size)
    state, uid = fields[1], fields[8]
    return uid if state == _TCP_ESTABLISHED else None


def _peer_uid_linux_fast(peer: TcpEndpoint, local: TcpEndpoint) -> int | None:
    """sock_diag when the kernel offers it (every Linux since 3.3), else ``/proc/net/tcp``."""
    try:
        return peer_uid_sock_diag(peer, local)
    except OSError as exc:
        log.debug("sock_diag unavailable (%s); reading /proc/net/tcp", exc)
        return peer_uid_linux(peer, local)


def _proc_rows(proc_root: Path, peer: TcpEndpoint, local: TcpEndpoint) -> Iterator[ProcTcpRow]:
    # A busy terminal server has tens of thousands of sockets: only lines that mention both
    # ports (the kernel prints them as ":%04X ") are worth parsing. Lazy: an established match
    # in tcp means tcp6 is never read.
    marks = (f":{peer.port:04X} ", f":{local.port:04X} ")
    for name in ("tcp", "tcp6"):
        try:
            text = (proc_root / "net" / name).read_text(encoding="ascii")
        except FileNotFoundError:
            continue
        candidates = [ln for ln in text.splitlines() if marks[0] in ln and marks[1] in ln]
        yield from parse_proc_net_tcp("\n".join(candidates))


# --- Windows: GetExtendedTcpTable --------------------------------------------------------------

#: MIB_TCP_STATE values.
_MIB_TCP_STATE_ESTAB: Final = 5
_MIB_TCP_STATE_TIME_WAIT: Final = 11
#: Windows' AF_INET6 (``socket.AF_INET6`` is 10 on Linux).
_WINDOWS_AF_INET6: Final = 23
_TCP_TABLE_OWNER_PID_ALL: Final = 5
_ERROR_INSUFFICIENT_BUFFER: Final = 122
_ERROR_NOT_SUPPORTED: Final = 50
_PROCESS_QUERY_LIMITED_INFORMATION: Final = 0x1000
_TOKEN_QUERY: Final = 0x0008
_TOKEN_USER_CLASS: Final = 1  # TOKEN_INFORMATION_CLASS.TokenUser

#: MIB_TCPROW_OWNER_PID: dwState, dwLocalAddr, dwLocalPort, dwRemoteAddr, dwRemotePort, dwOwningPid.
_ROW4: Final = struct.Struct("<I4sI4sII")
#: MIB_TCP6ROW_OWNER_PID: ucLocalAddr[16], dwLocalScopeId, dwLocalPort, ucRemoteAddr[16],
#: dwRemoteScopeId, dwRemotePort, dwState, dwOwningPid.
_ROW6: Final = struct.Struct("<16sII16sIIII")
_COUNT: Final = struct.Struct("<I")


@dataclass(frozen=True)
class WinTcpRow:
    """One socket of a Windows ``MIB_TCPTABLE_OWNER_PID`` / ``MIB_TCP6TABLE_OWNER_PID``."""

    local: TcpEndpoint
    """The socket's own address (IPv6 scope ids are dropped)."""
    remote: TcpEndpoint
    """The address it is connected to."""
    state: int
    """MIB_TCP_STATE: 5 ESTAB, 2 LISTEN, 11 TIME_WAIT, …"""
    pid: int
    """The process that owns the socket."""

    @property
    def established(self) -> bool:
        """The connection is open both ways."""
        return self.state == _MIB_TCP_STATE_ESTAB

    @property
    def owner_known(self) -> bool:
        """Whether ``pid`` means anything: TIME_WAIT rows belong to no process (pid 0)."""
        return self.state != _MIB_TCP_STATE_TIME_WAIT and self.pid != 0


def _win_port(dword: int) -> int:
    # Network byte order in the low 16 bits of a little-endian DWORD; the high 16 bits may be
    # uninitialised.
    return ((dword & 0xFF) << 8) | ((dword >> 8) & 0xFF)


def parse_tcp_owner_pid_table(buffer: bytes, family: int) -> list[WinTcpRow]:
    """Decode the buffer ``GetExtendedTcpTable(..., TCP_TABLE_OWNER_PID_ALL)`` filled.

    ``family`` is ``socket.AF_INET`` or ``socket.AF_INET6`` (Windows' value 23 is
    accepted on any system). Bytes past the last row are ignored.

    Raises:
        ValueError: an unknown family, or a buffer shorter than its row count says.
    """
    if family == socket.AF_INET:
        row_size = _ROW4.size
    elif family in (socket.AF_INET6, _WINDOWS_AF_INET6):
        row_size = _ROW6.size
    else:
        raise ValueError(f"unsupported address family {family}")
    if len(buffer) < _COUNT.size:
        raise ValueError("TCP table shorter than its header")
    (count,) = _COUNT.unpack_from(buffer)
    if len(buffer) < _COUNT.size + count * row_size:
        raise ValueError(f"TCP table of {len(buffer)} bytes cannot hold {count} rows")
    rows: list[WinTcpRow] = []
    for index in range(count):
        offset = _COUNT.size + index * row_size
        if row_size == _ROW4.size:
            state, laddr, lport, raddr, rport, pid = _ROW4.unpack_from(buffer, offset)
            af = socket.AF_INET
        else:
            laddr, _, lport, raddr, _, rport, state, pid = _ROW6.unpack_from(buffer, offset)
            af = socket.AF_INET6
        rows.append(
            WinTcpRow(
                local=TcpEndpoint(socket.inet_ntop(af, laddr), _win_port(lport)),
                remote=TcpEndpoint(socket.inet_ntop(af, raddr), _win_port(rport)),
                state=state,
                pid=pid,
            )
        )
    return rows


def _not_windows(what: str) -> OSError:
    return OSError(f"{what} needs Windows")


def _windows_tcp_table(family: int) -> bytes:
    """The raw TCP table of ``family``; empty when the family is not installed."""
    if sys.platform != "win32":
        raise _not_windows("GetExtendedTcpTable")
    import ctypes
    from ctypes import wintypes

    # A private WinDLL rather than ctypes.windll: setting argtypes on the shared instance
    # would change them for every other user of the DLL in the process.
    get_table = ctypes.WinDLL("iphlpapi").GetExtendedTcpTable
    get_table.argtypes = [
        ctypes.c_void_p,
        ctypes.POINTER(wintypes.DWORD),
        wintypes.BOOL,
        wintypes.ULONG,
        ctypes.c_int,
        wintypes.ULONG,
    ]
    get_table.restype = wintypes.DWORD
    size = wintypes.DWORD(0)
    buffer = None
    for _ in range(8):  # the table can grow between the sizing call and the real one
        rc = int(get_table(buffer, ctypes.byref(size), False, family, _TCP_TABLE_OWNER_PID_ALL, 0))
        if rc == 0 and buffer is not None:
            return bytes(buffer.raw)
        if rc == _ERROR_NOT_SUPPORTED:
            return _COUNT.pack(0)
        if rc not in (0, _ERROR_INSUFFICIENT_BUFFER):
            raise ctypes.WinError(rc)
        buffer = ctypes.create_string_buffer(max(int(size.value), _COUNT.size))
    raise OSError("GetExtendedTcpTable kept growing")


def _token_user_sid(token: int) -> str:
    """The string SID (``S-1-5-21-…``) of the user of an access token."""
    if sys.platform != "win32":
        raise _not_windows("GetTokenInformation")
    import ctypes
    from ctypes import wintypes

    class _SidAndAttributes(ctypes.Structure):
        _fields_ = (("Sid", ctypes.c_void_p), ("Attributes", wintypes.DWORD))

    advapi32 = ctypes.WinDLL("advapi32", use_last_error=True)
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    get_info = advapi32.GetTokenInformation
    get_info.argtypes = [
        wintypes.HANDLE,
        ctypes.c_int,
        ctypes.c_void_p,
        wintypes.DWORD,
        ctypes.POINTER(wintypes.DWORD),
    ]
    get_info.restype = wintypes.BOOL
    to_string = advapi32.ConvertSidToStringSidW
    to_string.argtypes = [ctypes.c_void_p, ctypes.POINTER(wintypes.LPWSTR)]
    to_string.restype = wintypes.BOOL
    local_free = kernel32.LocalFree
    local_free.argtypes = [ctypes.c_void_p]
    local_free.restype = ctypes.c_void_p

    needed = wintypes.DWORD(0)
    get_info(token, _TOKEN_USER_CLASS, None, 0, ctypes.byref(needed))  # sizing call fails
    if needed.value == 0:
        raise ctypes.WinError(ctypes.get_last_error())
    buffer = ctypes.create_string_buffer(needed.value)
    if not get_info(token, _TOKEN_USER_CLASS, buffer, needed, ctypes.byref(needed)):
        raise ctypes.WinError(ctypes.get_last_error())
    # TOKEN_USER is one SID_AND_ATTRIBUTES; its SID points into the same buffer.
    sid = _SidAndAttributes.from_buffer(buffer).Sid
    text = wintypes.LPWSTR()
    if not to_string(sid, ctypes.byref(text)):
        raise ctypes.WinError(ctypes.get_last_error())
    try:
        return str(text.value)
    finally:
        local_free(ctypes.cast(text, ctypes.c_void_p))


def _process_user_sid(pid: int | None) -> str:
    """The string SID of the user running ``pid`` (None: this process)."""
    if sys.platform != "win32":
        raise _not_windows("OpenProcessToken")
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    advapi32 = ctypes.WinDLL("advapi32", use_last_error=True)
    open_process = kernel32.OpenProcess
    open_process.argtypes = [wintypes.DWORD, wintypes.BOOL, wintypes.DWORD]
    open_process.restype = wintypes.HANDLE
    current_process = kernel32.GetCurrentProcess
    current_process.argtypes = []
    current_process.restype = wintypes.HANDLE
    close_handle = kernel32.CloseHandle
    close_handle.argtypes = [wintypes.HANDLE]
    close_handle.restype = wintypes.BOOL
    open_token = advapi32.OpenProcessToken
    open_token.argtypes = [wintypes.HANDLE, wintypes.DWORD, ctypes.POINTER(wintypes.HANDLE)]
    open_token.restype = wintypes.BOOL

    if pid is None:
        process = current_process()  # a pseudo-handle: nothing to close
    else:
        # Fails with ERROR_ACCESS_DENIED for most processes of other users: that alone
        # already says the caller is not us.
        process = open_process(_PROCESS_QUERY_LIMITED_INFORMATION, False, pid)
        if not process:
            raise ctypes.WinError(ctypes.get_last_error())
    try:
        token = wintypes.HANDLE()
        if not open_token(process, _TOKEN_QUERY, ctypes.byref(token)):
            raise ctypes.WinError(ctypes.get_last_error())
        try:
            return _token_user_sid(int(token.value or 0))
        finally:
            close_handle(token)
    finally:
        if pid is not None:
            close_handle(process)


def peer_owner_windows(peer: TcpEndpoint, local: TcpEndpoint) -> str | None:
    """The SID string of the user owning the client socket of ``peer`` → ``local``.

    Searches the IPv4 and IPv6 tables for the client socket, then reads the user
    of its owning process. Returns None when no such socket exists.

    Raises:
        OSError: not on Windows, or a Windows call failed (typically access denied
            to another user's process).
        ValueError: an endpoint is not an IP address.
    """
    row = find_client_row(_windows_rows(), peer, local)
    return _process_user_sid(row.pid) if row is not None else None


def _windows_rows() -> Iterator[WinTcpRow]:
    for family in (socket.AF_INET, socket.AF_INET6):
        yield from parse_tcp_owner_pid_table(_windows_tcp_table(family), family)


def current_user_sid_windows() -> str:
    """The SID string of the user this process runs as.

    Raises:
        OSError: not on Windows, or a Windows call failed.
    """
    return _process_user_sid(None)


# --- The check the server uses -----------------------------------------------------------------

UidLookup = Callable[[TcpEndpoint, TcpEndpoint], int | None]
"""``(peer, local) -> uid`` of the client socket, or None if unknown."""


def _current_uid() -> int:
    if sys.platform == "win32":
        raise _not_windows("uid lookup")  # pragma: no cover - there are no uids on Windows
    return os.getuid()


class CallerCheck:
    """Decides whether a connection comes from the OS user running the agent.

    * Linux: the uid of the client socket (:func:`peer_uid_linux`) must equal
      :func:`os.getuid`.
    * Windows: the SID of the user owning the client socket
      (:func:`peer_owner_windows`) must equal :func:`current_user_sid_windows`.
    * macOS and any other system: **not implemented; every connection is
      admitted.** Those systems are rarely shared by several logged-in users at
      once, and they offer no supported per-socket owner lookup for TCP.

    Fail closed: when the owner cannot be determined (no matching socket, an
    unreadable table, a process the agent may not open, a malformed address) the
    answer is False. Being refused is the expected outcome for exactly those
    cases: another user's process is the one the agent is *not allowed* to
    inspect on Windows, and a connection that arrives through a proxy or from
    another network namespace has no client socket here, so its true owner is
    unknown. Admitting such a connection would hand this user's token to
    whoever can reach 127.0.0.1, which is the attack this check exists to stop;
    refusing it costs at most one failed request.

    Nothing is cached: each call looks at the current socket tables, because a
    port is reused by other processes as soon as a connection closes.
    """

    def __init__(
        self,
        uid_lookup: UidLookup | None = None,
        *,
        own_uid: int | None = None,
        platform: str = sys.platform,
    ) -> None:
        """``uid_lookup``: replaces the platform lookup (tests); compared with
        ``own_uid`` (default :func:`os.getuid` at each call). ``platform``: the
        ``sys.platform`` value that picks the mechanism.
        """
        self._uid_lookup = uid_lookup
        self._own_uid = own_uid
        self._platform = platform

    @property
    def owner_may_lag(self) -> bool:
        """Whether a client socket can be missing from the owner table at the accept and
        appear a moment later (Windows), so that a refusal deserves a second look."""
        return self._uid_lookup is None and self._platform == "win32"

    def is_same_user(self, peer: TcpEndpoint, local: TcpEndpoint) -> bool:
        """Whether the client socket of ``peer`` → ``local`` belongs to this OS user."""
        try:
            if self._uid_lookup is not None or self._platform.startswith("linux"):
                return self._same_uid(peer, local)
            if self._platform == "win32":
                return self._same_sid(peer, local)
        except (OSError, ValueError) as exc:
            log.warning("cannot tell who owns the connection from %s: %s", peer, exc)
            return False
        return True  # not implemented on this platform: see the class docstring

    def _same_uid(self, peer: TcpEndpoint, local: TcpEndpoint) -> bool:
        lookup = self._uid_lookup or _peer_uid_linux_fast
        uid = lookup(peer, local)
        if uid is None:
            log.warning("no client socket found for the connection from %s", peer)
            return False
        own = self._own_uid if self._own_uid is not None else _current_uid()
        return uid == own

    def _same_sid(self, peer: TcpEndpoint, local: TcpEndpoint) -> bool:
        sid = peer_owner_windows(peer, local)
        if sid is None:
            log.warning("no client socket found for the connection from %s", peer)
            return False
        return sid == current_user_sid_windows()
