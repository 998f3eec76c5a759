"""Who owns the client end of a loopback connection: table parsers, matching, real sockets."""

from __future__ import annotations

import functools
import os
import socket
import struct
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from agent.server.peer import (
    CallerCheck,
    ProcTcpRow,
    TcpEndpoint,
    WinTcpRow,
    find_client_row,
    parse_proc_net_tcp,
    parse_tcp_owner_pid_table,
    peer_uid_linux,
    peer_uid_sock_diag,
)

AGENT = TcpEndpoint("127.0.0.1", 8988)
CLIENT = TcpEndpoint("127.0.0.1", 54321)
NOBODY = 65534

# --- /proc/net/tcp{,6} text, as an x86 kernel prints it ----------------------------------------

HEADER4 = (
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid"
    "  timeout inode\n"
)
HEADER6 = (
    "  sl  local_address                         remote_address                        st"
    " tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
)
LO4 = "0100007F"  # 127.0.0.1
LO6 = "00000000000000000000000001000000"  # ::1
MAPPED_LO = "0000000000000000FFFF00000100007F"  # ::ffff:127.0.0.1
ANY4 = "00000000"


def line(sl: int, local: str, remote: str, state: int, uid: int) -> str:
    """One row in the kernel's layout (columns after uid are filler)."""
    return (
        f"{sl:4d}: {local} {remote} {state:02X} 00000000:00000000 00:00000000 00000000"
        f" {uid:5d}        0 {40000 + sl} 1 0000000000000000 20 4 30 10 -1\n"
    )


def proc(tmp_path: Path, tcp: str | None = None, tcp6: str | None = None) -> Path:
    """A fake /proc with the given tables (None: the file does not exist)."""
    (tmp_path / "net").mkdir()
    if tcp is not None:
        (tmp_path / "net" / "tcp").write_text(HEADER4 + tcp, encoding="ascii")
    if tcp6 is not None:
        (tmp_path / "net" / "tcp6").write_text(HEADER6 + tcp6, encoding="ascii")
    return tmp_path


def test_ipv4_rows_are_decoded_from_little_endian_hex() -> None:
    text = (
        HEADER4
        + line(0, f"{ANY4}:231C", f"{ANY4}:0000", 0x0A, 1000)
        + line(1, f"{LO4}:D431", f"{LO4}:231C", 0x01, 2000)
        + line(2, "0101A8C0:01BB", "08080808:0035", 0x06, 0)
    )
    assert parse_proc_net_tcp(text, byteorder="little") == [
        ProcTcpRow(TcpEndpoint("0.0.0.0", 8988), TcpEndpoint("0.0.0.0", 0), 0x0A, 1000),  # noqa: S104
        ProcTcpRow(CLIENT, AGENT, 0x01, 2000),
        ProcTcpRow(TcpEndpoint("192.168.1.1", 443), TcpEndpoint("8.8.8.8", 53), 0x06, 0),
    ]


def test_ipv6_rows_are_decoded_word_by_word() -> None:
    doc = "B80D0120000000000000000001000000"  # 2001:db8::1, each word little-endian
    text = HEADER6 + line(0, f"{LO6}:D431", f"{doc}:01BB", 0x01, 1000)
    assert parse_proc_net_tcp(text, byteorder="little") == [
        ProcTcpRow(TcpEndpoint("::1", 54321), TcpEndpoint("2001:db8::1", 443), 0x01, 1000)
    ]


def test_v4_mapped_rows_keep_their_mapped_form() -> None:
    text = HEADER6 + line(0, f"{MAPPED_LO}:D431", f"{MAPPED_LO}:231C", 0x01, 1000)
    (row,) = parse_proc_net_tcp(text, byteorder="little")
    assert row.local == TcpEndpoint("::ffff:127.0.0.1", 54321)
    assert row.remote == TcpEndpoint("::ffff:127.0.0.1", 8988)


def test_big_endian_kernels_print_addresses_in_network_order() -> None:
    text = HEADER4 + line(0, "7F000001:D431", "7F000001:231C", 0x01, 7)
    assert parse_proc_net_tcp(text, byteorder="big") == [ProcTcpRow(CLIENT, AGENT, 0x01, 7)]


@pytest.mark.parametrize(
    "row",
    [
        "   0: 0100007F:231C\n",
        line(0, "0100007F231C", f"{LO4}:D431", 1, 0),
        line(0, "00007F:231C", f"{LO4}:D431", 1, 0),
        line(0, f"{LO4}:231C", f"{LO4}:D431", 1, 1000).replace(" 1000 ", " 10x0 "),
        line(0, f"{LO4}:XYZW", f"{LO4}:D431", 1, 0),
    ],
)
def test_malformed_rows_are_rejected(row: str) -> None:
    with pytest.raises(ValueError):
        parse_proc_net_tcp(HEADER4 + row)


def test_the_client_socket_is_found_not_the_agents_own(tmp_path: Path) -> None:
    root = proc(
        tmp_path,
        tcp=line(0, f"{LO4}:231C", f"{ANY4}:0000", 0x0A, 1000)  # the agent listening
        + line(1, f"{LO4}:231C", f"{LO4}:D431", 0x01, 1000)  # the agent's accepted socket
        + line(2, f"{LO4}:D431", f"{LO4}:231C", 0x01, 2000),  # the client
        tcp6="",
    )
    assert peer_uid_linux(CLIENT, AGENT, proc_root=root) == 2000


def test_ipv6_client_is_found_in_tcp6(tmp_path: Path) -> None:
    root = proc(
        tmp_path,
        tcp="",
        tcp6=line(0, f"{LO6}:231C", f"{LO6}:D431", 0x01, 1000)
        + line(1, f"{LO6}:D431", f"{LO6}:231C", 0x01, 2000),
    )
    peer, local = TcpEndpoint("::1", 54321), TcpEndpoint("::1", 8988)
    assert peer_uid_linux(peer, local, proc_root=root) == 2000


def test_v4_client_seen_in_tcp6_as_mapped_matches_a_v4_peer(tmp_path: Path) -> None:
    root = proc(tmp_path, tcp="", tcp6=line(0, f"{MAPPED_LO}:D431", f"{MAPPED_LO}:231C", 1, 2000))
    assert peer_uid_linux(CLIENT, AGENT, proc_root=root) == 2000


def test_mapped_peer_of_a_dual_stack_agent_matches_a_v4_client(tmp_path: Path) -> None:
    root = proc(tmp_path, tcp=line(0, f"{LO4}:D431", f"{LO4}:231C", 0x01, 2000), tcp6="")
    peer, local = TcpEndpoint("::ffff:127.0.0.1", 54321), TcpEndpoint("::ffff:127.0.0.1", 8988)
    assert peer_uid_linux(peer, local, proc_root=root) == 2000


def test_no_matching_socket_gives_none(tmp_path: Path) -> None:
    root = proc(
        tmp_path,
        tcp=line(0, f"{LO4}:231C", f"{LO4}:D431", 0x01, 1000)  # only the agent's side
        + line(1, f"{LO4}:D432", f"{LO4}:231C", 0x01, 2000)  # another client port
        + line(2, "0200007F:D431", f"{LO4}:231C", 0x01, 3000),  # 127.0.0.2, same port
        tcp6=line(0, f"{LO6}:D431", f"{LO6}:231C", 0x01, 4000),  # ::1 is not 127.0.0.1
    )
    assert peer_uid_linux(CLIENT, AGENT, proc_root=root) is None


def test_a_missing_tcp6_table_is_skipped(tmp_path: Path) -> None:
    root = proc(tmp_path, tcp=line(0, f"{LO4}:D431", f"{LO4}:231C", 0x01, 2000))
    assert peer_uid_linux(CLIENT, AGENT, proc_root=root) == 2000


def test_an_established_row_wins_over_other_states(tmp_path: Path) -> None:
    root = proc(
        tmp_path,
        tcp=line(0, f"{LO4}:D431", f"{LO4}:231C", 0x08, 3000),  # CLOSE_WAIT
        tcp6=line(0, f"{MAPPED_LO}:D431", f"{MAPPED_LO}:231C", 0x01, 2000),
    )
    assert peer_uid_linux(CLIENT, AGENT, proc_root=root) == 2000


@pytest.mark.parametrize("uid", [0, 3000])
@pytest.mark.parametrize("state", [0x02, 0x03, 0x04, 0x05, 0x07, 0x08, 0x09, 0x0B, 0x0C])
def test_a_client_socket_that_is_not_established_has_no_owner_we_trust(
    tmp_path: Path, state: int, uid: int
) -> None:
    """Every state but ESTABLISHED (SYN_SENT … NEW_SYN_RECV). A client that sent its request
    and closed at once leaves a closing socket, which Linux may report with uid 0: taken for
    root's own, it let another user reach an agent running as root."""
    root = proc(tmp_path, tcp=line(0, f"{LO4}:D431", f"{LO4}:231C", state, uid))
    assert peer_uid_linux(CLIENT, AGENT, proc_root=root) is None
    lookup = functools.partial(peer_uid_linux, proc_root=root)
    assert not CallerCheck(lookup, own_uid=uid).is_same_user(CLIENT, AGENT)


def test_time_wait_rows_are_ignored_because_their_uid_is_always_zero(tmp_path: Path) -> None:
    root = proc(tmp_path, tcp=line(0, f"{LO4}:D431", f"{LO4}:231C", 0x06, 0))
    assert peer_uid_linux(CLIENT, AGENT, proc_root=root) is None


# --- Windows MIB_TCP(6)TABLE_OWNER_PID, packed as Windows lays it out --------------------------


def port_dword(port: int, junk: int = 0) -> int:
    """A port in network byte order in the low 16 bits; the high 16 bits are undefined."""
    return (junk << 16) | int.from_bytes(port.to_bytes(2, "big"), "little")


def row4(state: int, local: TcpEndpoint, remote: TcpEndpoint, pid: int, junk: int = 0) -> bytes:
    return struct.pack(
        "<I4sI4sII",
        state,
        socket.inet_pton(socket.AF_INET, local.host),
        port_dword(local.port, junk),
        socket.inet_pton(socket.AF_INET, remote.host),
        port_dword(remote.port, junk),
        pid,
    )


def row6(state: int, local: TcpEndpoint, remote: TcpEndpoint, pid: int, scope: int = 0) -> bytes:
    return struct.pack(
        "<16sII16sIIII",
        socket.inet_pton(socket.AF_INET6, local.host),
        scope,
        port_dword(local.port, 0xBEEF),
        socket.inet_pton(socket.AF_INET6, remote.host),
        scope,
        port_dword(remote.port, 0xBEEF),
        state,
        pid,
    )


def table(*rows: bytes, slack: bytes = b"") -> bytes:
    return struct.pack("<I", len(rows)) + b"".join(rows) + slack


def test_ipv4_owner_pid_table_is_decoded() -> None:
    buffer = table(
        row4(2, TcpEndpoint("0.0.0.0", 8988), TcpEndpoint("0.0.0.0", 0), 4242),  # noqa: S104
        row4(5, CLIENT, AGENT, 777, junk=0xDEAD),
        row4(11, TcpEndpoint("10.0.0.5", 49152), TcpEndpoint("93.184.216.34", 443), 0),
        slack=b"\xff" * 24,  # Windows may hand back a larger buffer than the rows need
    )
    assert parse_tcp_owner_pid_table(buffer, socket.AF_INET) == [
        WinTcpRow(TcpEndpoint("0.0.0.0", 8988), TcpEndpoint("0.0.0.0", 0), 2, 4242),  # noqa: S104
        WinTcpRow(CLIENT, AGENT, 5, 777),
        WinTcpRow(TcpEndpoint("10.0.0.5", 49152), TcpEndpoint("93.184.216.34", 443), 11, 0),
    ]


@pytest.mark.parametrize("family", [socket.AF_INET6, 23], ids=["socket.AF_INET6", "windows-23"])
def test_ipv6_owner_pid_table_is_decoded(family: int) -> None:
    peer, local = TcpEndpoint("::1", 54321), TcpEndpoint("::1", 8988)
    mapped_peer = TcpEndpoint("::ffff:127.0.0.1", 50000)
    mapped_agent = TcpEndpoint("::ffff:127.0.0.1", 8988)
    buffer = table(row6(5, peer, local, 777), row6(5, mapped_peer, mapped_agent, 888, scope=3))
    assert parse_tcp_owner_pid_table(buffer, family) == [
        WinTcpRow(peer, local, 5, 777),
        WinTcpRow(mapped_peer, mapped_agent, 5, 888),
    ]


def test_an_empty_table_has_no_rows() -> None:
    assert parse_tcp_owner_pid_table(table(), socket.AF_INET) == []


@pytest.mark.parametrize(
    ("buffer", "family"),
    [
        (b"\x01\x00", socket.AF_INET),
        (table(row4(5, CLIENT, AGENT, 1))[:-1], socket.AF_INET),
        (struct.pack("<I", 2) + row6(5, TcpEndpoint("::1", 1), TcpEndpoint("::1", 2), 1), 23),
        (table(), socket.AF_UNIX),
    ],
    ids=["short-header", "short-v4-row", "count-too-big", "unknown-family"],
)
def test_inconsistent_tables_are_rejected(buffer: bytes, family: int) -> None:
    with pytest.raises(ValueError):
        parse_tcp_owner_pid_table(buffer, family)


def test_windows_rows_pick_the_live_client_socket() -> None:
    rows = parse_tcp_owner_pid_table(
        table(
            row4(11, CLIENT, AGENT, 0),  # TIME_WAIT: no owner
            row4(5, AGENT, CLIENT, 100),  # the agent's own side
            row4(8, CLIENT, AGENT, 300),  # CLOSE_WAIT
            row4(5, CLIENT, AGENT, 200),
        ),
        socket.AF_INET,
    )
    assert find_client_row(rows, CLIENT, AGENT) == WinTcpRow(CLIENT, AGENT, 5, 200)
    # CLOSE_WAIT or TIME_WAIT: not the live socket of a connection being accepted.
    assert find_client_row(rows[:3], CLIENT, AGENT) is None
    assert find_client_row(rows[:2], CLIENT, AGENT) is None


def test_windows_v4_client_matches_a_mapped_peer() -> None:
    rows = parse_tcp_owner_pid_table(table(row4(5, CLIENT, AGENT, 200)), socket.AF_INET)
    mapped_peer = TcpEndpoint("::ffff:127.0.0.1", CLIENT.port)
    mapped_local = TcpEndpoint("::ffff:127.0.0.1", AGENT.port)
    assert find_client_row(rows, mapped_peer, mapped_local) == rows[0]


# --- CallerCheck -------------------------------------------------------------------------------


def fixed(uid: int | None) -> object:
    def lookup(peer: TcpEndpoint, local: TcpEndpoint) -> int | None:
        assert (peer, local) == (CLIENT, AGENT)
        return uid

    return lookup


def failing(exc: Exception) -> object:
    def lookup(peer: TcpEndpoint, local: TcpEndpoint) -> int | None:
        raise exc

    return lookup


def check(lookup: object, **kwargs: int) -> bool:
    return CallerCheck(lookup, **kwargs).is_same_user(CLIENT, AGENT)  # type: ignore[arg-type]


def test_the_same_uid_is_admitted() -> None:
    assert check(fixed(1000), own_uid=1000)


def test_another_uid_is_refused() -> None:
    assert not check(fixed(2000), own_uid=1000)


def test_the_default_own_uid_is_the_process_uid() -> None:
    if not hasattr(os, "getuid"):
        pytest.skip("no uids here")
    assert check(fixed(os.getuid()))
    assert not check(fixed(os.getuid() + 1))


def test_an_unknown_owner_is_refused() -> None:
    assert not check(fixed(None), own_uid=1000)


@pytest.mark.parametrize("exc", [PermissionError("denied"), ValueError("garbled")])
def test_a_failed_lookup_is_refused(exc: Exception) -> None:
    assert not check(failing(exc), own_uid=1000)


def test_unsupported_platforms_admit_everyone() -> None:
    assert CallerCheck(platform="darwin").is_same_user(CLIENT, AGENT)


@pytest.mark.skipif(sys.platform == "win32", reason="checks the fail-closed path off Windows")
def test_the_windows_path_fails_closed_when_windows_calls_fail() -> None:
    assert not CallerCheck(platform="win32").is_same_user(CLIENT, AGENT)


def test_a_non_address_endpoint_is_refused(tmp_path: Path) -> None:
    root = proc(tmp_path, tcp=line(0, f"{LO4}:D431", f"{LO4}:231C", 0x01, 0))
    lookup = lambda p, loc: peer_uid_linux(p, loc, proc_root=root)  # noqa: E731
    only_root = CallerCheck(lookup, own_uid=0)
    assert only_root.is_same_user(CLIENT, AGENT)
    assert not only_root.is_same_user(TcpEndpoint("localhost", CLIENT.port), AGENT)


# --- Real sockets ------------------------------------------------------------------------------

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/net")


def endpoints(conn: socket.socket) -> tuple[TcpEndpoint, TcpEndpoint]:
    """(peer, local) as the agent's middleware sees them on an accepted socket."""
    peer, local = conn.getpeername(), conn.getsockname()
    return TcpEndpoint(peer[0], peer[1]), TcpEndpoint(local[0], local[1])


@contextmanager
def connected(server: socket.socket, address: tuple[str, int]) -> Iterator[socket.socket]:
    """A client connected to ``server``; yields the agent's accepted socket."""
    server.settimeout(10)
    with socket.create_connection(address, timeout=10), server.accept()[0] as conn:
        yield conn


@linux_only
def test_a_real_loopback_connection_belongs_to_this_user() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        with connected(server, server.getsockname()) as conn:
            peer, local = endpoints(conn)
            assert peer_uid_linux(peer, local) == os.getuid()
            assert CallerCheck().is_same_user(peer, local)
        assert peer_uid_linux(peer, local) is None  # both ends closed: no live owner


@linux_only
def test_a_real_ipv6_loopback_connection_belongs_to_this_user() -> None:
    try:
        server = socket.create_server(("::1", 0), family=socket.AF_INET6)
    except OSError:
        pytest.skip("no IPv6 loopback")
    with server, connected(server, server.getsockname()[:2]) as conn:
        peer, local = endpoints(conn)
        assert peer.host == "::1"
        assert peer_uid_linux(peer, local) == os.getuid()


@linux_only
def test_a_v4_client_of_a_dual_stack_server_is_found() -> None:
    if not socket.has_dualstack_ipv6():
        pytest.skip("no dual-stack sockets")
    try:
        server = socket.create_server(("::", 0), family=socket.AF_INET6, dualstack_ipv6=True)
    except OSError:
        pytest.skip("no IPv6")
    with server, connected(server, ("127.0.0.1", server.getsockname()[1])) as conn:
        peer, local = endpoints(conn)
        assert peer.host == "::ffff:127.0.0.1"
        assert peer_uid_linux(peer, local) == os.getuid()


@linux_only
@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to setuid")
def test_a_real_connection_from_another_uid_is_detected() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(10)
        address = server.getsockname()
        hold_read, hold_write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: become nobody, then connect
            status = 1
            try:
                server.close()
                os.close(hold_write)
                os.setgroups([])
                os.setgid(NOBODY)
                os.setuid(NOBODY)
                with socket.create_connection(address, timeout=10):
                    os.read(hold_read, 1)  # keep the connection open until the parent looked
                status = 0
            finally:
                os._exit(status)
        os.close(hold_read)
        try:
            conn, _ = server.accept()
            with conn:
                peer, local = endpoints(conn)
                assert peer_uid_linux(peer, local) == NOBODY
                assert not CallerCheck().is_same_user(peer, local)
        finally:
            os.close(hold_write)
            _, wait_status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(wait_status) == 0


# -- sock_diag: the kernel asked for one socket -------------------------------------------------


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="netlink sock_diag is Linux's")
def test_sock_diag_names_the_client_sockets_owner_and_nothing_once_it_closed() -> None:
    """The accept-time lookup: the same answer as /proc/net/tcp, for the client's socket only."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        client = socket.create_connection(server.getsockname())
        accepted, _ = server.accept()
        peer = TcpEndpoint(*client.getsockname())
        local = TcpEndpoint(*server.getsockname())
        assert peer_uid_sock_diag(peer, local) == os.getuid() == peer_uid_linux(peer, local)
        assert peer_uid_sock_diag(TcpEndpoint("127.0.0.1", 1), local) is None
        client.close()  # FIN_WAIT then TIME_WAIT: closing sockets carry no owner to trust
        assert peer_uid_sock_diag(peer, local) is None
        accepted.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="netlink sock_diag is Linux's")
def test_without_sock_diag_the_caller_check_reads_proc(monkeypatch: pytest.MonkeyPatch) -> None:
    """A kernel or sandbox without sock_diag: the same verdict, from /proc/net/tcp."""
    from agent.server import peer as peer_module

    def refuse(_peer: TcpEndpoint, _local: TcpEndpoint) -> int | None:
        raise PermissionError(1, "sock_diag refused")

    monkeypatch.setattr(peer_module, "peer_uid_sock_diag", refuse)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname()) as client:
            accepted, _ = server.accept()
            check = peer_module.CallerCheck()
            peer = TcpEndpoint(*client.getsockname())
            assert check.is_same_user(peer, TcpEndpoint(*server.getsockname()))
            accepted.close()
