"""``kyso-agent`` commands.

Every command reads the same configuration (see :mod:`agent.config`); flags
given on the command line win over the files.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import codecs
import io
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TextIO

from agent import PYTHON, __version__, malloc
from agent.audit import AuditError, AuditLog, entry_to_json, format_entries
from agent.config import SETTINGS, AgentConfig, configure_logging, load_config
from agent.errors import AgentError, BadRequest, ConfigError
from agent.files import write_atomically
from agent.pairing import PairingStore
from agent.protocol import parse_pdf_sign_request
from agent.pywarnings import route_to_log
from agent.server import RunningServer
from agent.settings import Shape
from agent.token import TokenService


def _common(parser: argparse.ArgumentParser, command: str | None = None) -> None:
    """``--config`` and the flags of the settings ``command`` takes (every command's without)."""
    parser.add_argument("--config", type=Path, metavar="FILE", help="TOML configuration file")
    for setting in SETTINGS:
        flag = setting.flag
        if flag is None or not flag.applies_to(command):
            continue
        options: dict[str, Any] = {
            "dest": setting.name,
            "metavar": flag.metavar,
            "help": f"{setting.doc} (default: {setting.default_doc})".replace("`", ""),
        }
        if setting.shape is Shape.LIST:
            options["action"] = "append"
        elif setting.shape in (Shape.INT, Shape.FLOAT):
            options["type"] = int if setting.shape is Shape.INT else float
        if setting.choices:
            options["choices"] = setting.choices
        parser.add_argument(flag.name, **options)


def _trust_parser(commands: Any) -> None:
    """``kyso-agent trust install|uninstall|status``."""
    trust = commands.add_parser(
        "trust", help="add the local CA to this user's certificate stores, or take it out"
    )
    trust_do = trust.add_subparsers(dest="trust_command", metavar="ACTION", required=True)
    for action, helptext in (
        ("install", "trust DATA_DIR/tls/ca.pem in the browsers' stores (replaces an older CA)"),
        ("uninstall", "remove what install added, leaving other certificates alone"),
        ("status", "which stores trust the CA (the same checks as kyso-agent status)"),
    ):
        command = trust_do.add_parser(action, help=helptext)
        _common(command)
        command.add_argument("--json", action="store_true", help="print JSON")
        if action != "status":
            command.add_argument(
                "--system",
                action="store_true",
                help="Linux, as root: the system store instead of the user's databases",
            )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used to document the commands)."""
    parser = argparse.ArgumentParser(
        prog="kyso-agent",
        description="Sign documents from web portals with your USB token.",
    )
    parser.add_argument(
        "--version", action="version", version=f"kyso-agent {__version__} ({PYTHON})"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser(
        "run", help="the agent with its tray icon (the default command; serve without a display)"
    )
    serve = commands.add_parser("serve", help="run the headless agent (HTTPS API on 127.0.0.1)")
    for name, agent_command in (("run", run), ("serve", serve)):
        _common(agent_command, name)
    run.add_argument(
        "--at-login",
        action="store_true",
        help="started at login: if this user's agent already runs, exit quietly "
        "(without opening its window)",
    )

    tokens = commands.add_parser("tokens", help="list modules, tokens and certificates")
    _common(tokens)
    tokens.add_argument("--json", action="store_true", help="print JSON")

    origins = commands.add_parser("origins", help="list or revoke portals paired on first use")
    _common(origins)
    origins_do = origins.add_subparsers(dest="origins_command", metavar="ACTION", required=True)
    listing = origins_do.add_parser("list", help="list paired origins")
    listing.add_argument("--json", action="store_true", help="print JSON")
    revoke = origins_do.add_parser("revoke", help="forget a paired origin")
    revoke.add_argument("origin", metavar="ORIGIN", help="e.g. https://vpdt.hue.gov.vn")

    sign_pdf = commands.add_parser("sign-pdf", help="sign a PDF file with your token (PAdES)")
    _common(sign_pdf, "sign-pdf")
    sign_pdf.add_argument("input", type=Path, metavar="IN.pdf", help="the PDF to sign")
    sign_pdf.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.pdf")
    sign_pdf.add_argument(
        "--profile",
        choices=["invisible", "personal", "organization", "attachment"],
        default="invisible",
        help="appearance (Nghị định 30/2020/NĐ-CP)",
    )
    sign_pdf.add_argument("--page", type=int, help="1-based page; negative counts from the end")
    sign_pdf.add_argument("--rect", metavar="X1,Y1,X2,Y2", help="box in PDF points")
    sign_pdf.add_argument("--anchor", metavar="TEXT", help="place the stamp on this text")
    sign_pdf.add_argument("--image", type=Path, metavar="PNG", help="signature or seal image")
    sign_pdf.add_argument("--text", help="extra text (the 'số và ký hiệu' for attachments)")
    sign_pdf.add_argument("--level", choices=["B-B", "B-T", "B-LT"], default="B-B")
    sign_pdf.add_argument("--reason")
    sign_pdf.add_argument("--location")

    verify = commands.add_parser(
        "verify", help="check the signatures of a PDF or XML file (e-invoice, tax filing)"
    )
    _common(verify)
    verify.add_argument("input", type=Path, metavar="FILE")
    verify.add_argument("--json", action="store_true", help="print JSON")
    verify.add_argument(
        "--trust-root",
        dest="trust_roots",
        action="append",
        type=Path,
        metavar="PEM",
        help="trusted root certificate (repeatable; adds to the configured ones)",
    )
    verify.add_argument(
        "--offline", action="store_true", help="do not fetch revocation information (PDF)"
    )

    audit = commands.add_parser("audit", help="show the audit trail of consent requests")
    _common(audit)
    audit.add_argument("--json", action="store_true", help="print JSON")
    audit.add_argument("--limit", type=int, metavar="N", help="only the last N entries")

    status = commands.add_parser(
        "status", help="the helpdesk report (asks the running agent, else reads the tokens)"
    )
    _common(status, "status")  # --port: the running agent's
    status.add_argument("--json", action="store_true", help="print JSON")

    bundle = commands.add_parser(
        "support-bundle",
        help="save the helpdesk's support bundle: a .zip of the status report, configuration, "
        "last log lines and audit rows (never a PIN, key or secret)",
    )
    _common(bundle)
    bundle.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="FILE.zip",
        help="where to save it (default: kyso-agent-support-YYYYMMDD-HHMMSS.zip on the Desktop, "
        "else in the home folder)",
    )
    bundle.add_argument("--force", action="store_true", help="overwrite FILE.zip if it exists")

    _trust_parser(commands)
    return parser


def cli_values(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the user gave as flags (the command line layer of the configuration)."""
    given = vars(args)
    return {
        s.name: given[s.name]
        for s in SETTINGS
        if s.flag is not None and s.flag.applies_to(args.command) and given.get(s.name) is not None
    }


def config_from_args(args: argparse.Namespace) -> AgentConfig:
    """Merge the configuration files with the flags the user gave."""
    return load_config(cli_values(args), args.config)


def cmd_tokens(args: argparse.Namespace) -> int:
    """``kyso-agent tokens``."""
    from agent.status.inventory import token_listing
    from agent.status.render import listing_lines

    config = config_from_args(args)
    configure_logging(config, to_file=False)
    service = TokenService(config.pkcs11_modules, config.module_isolation, config.worker_limits)
    try:
        inventory = service.inventory_sync()
    finally:
        service.close()
    listing = token_listing(inventory)
    if args.json:
        json.dump(listing.to_json(), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write("\n".join(listing_lines(listing, config.lang)) + "\n")
    return 0


def _print_listening(server: RunningServer) -> None:
    print(f"listening on {server.url}", flush=True)


def _print_layer(name: str, url: str) -> None:
    print(f"{name} listening on {url}", flush=True)


EXIT_ALREADY_RUNNING: Final = 3
"""``serve`` found this user's agent already running (and asked it to show its window): this
process started no server, which a script or service manager should hear about."""
EXIT_NOT_ANSWERING: Final = 1
"""An agent holds this user's data directory but does not answer: nothing was started."""


def _hand_over(config: AgentConfig, *, headless: bool) -> int | None:
    """When this user's agent already runs, ask it to show its window and return the exit
    status (``run``: 0; ``serve``: :data:`EXIT_ALREADY_RUNNING`); ``None`` when none runs."""
    from agent.instance import Found, find_running

    probe = find_running(config.data_dir, config.tls_dir / "ca.pem")
    if probe.found is Found.NONE:
        return None
    out = sys.stderr if headless else sys.stdout
    if probe.found is Found.SHOWN and probe.info is not None:
        where = f"{probe.info.url}, pid {probe.info.pid}"
        if probe.window:
            print(f"Kyso Agent is already running; showing its window ({where})", file=out)
        else:
            print(
                f"Kyso Agent is already running, without a window ({where}); "
                "`kyso-agent status` prints its report",
                file=out,
            )
        return EXIT_ALREADY_RUNNING if headless else 0
    print(
        "kyso-agent: Kyso Agent is already running for this user but does not answer: "
        f"{probe.problem}. Nothing was started. Wait a moment and try again; if it still does "
        "not answer, end that process and start Kyso Agent again.",
        file=sys.stderr,
    )
    return EXIT_NOT_ANSWERING


def _already_running(config: AgentConfig) -> bool:
    from agent.instance import lock_held

    return lock_held(config.data_dir)


def _lost_race(config: AgentConfig, *, headless: bool) -> int:
    """Another start took the lock between our look and our start: hand over to it."""
    handed = _hand_over(config, headless=headless)
    if handed is None:  # and it has stopped again already
        print("kyso-agent: another Kyso Agent was starting; try again", file=sys.stderr)
        return EXIT_NOT_ANSWERING
    return handed


def _serve_here(config: AgentConfig, *, headless: bool, trust_ca: bool = False) -> int:
    """The headless agent (after :func:`_hand_over` found none running)."""
    from agent.app import serve
    from agent.instance import AlreadyRunning

    try:
        asyncio.run(
            serve(config, on_ready=_print_listening, on_layer=_print_layer, trust_ca=trust_ca)
        )
    except AlreadyRunning:
        return _lost_race(config, headless=headless)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """``kyso-agent serve``; when this user's agent already runs, exit 3 (docs/helpdesk.md)."""
    config = config_from_args(args)
    configure_logging(config, to_file=False)
    handed = _hand_over(config, headless=True)
    if handed is not None:
        return handed
    configure_logging(config)
    return _serve_here(config, headless=True)


def cmd_run(args: argparse.Namespace) -> int:
    """``kyso-agent run`` (the default): the agent with its tray icon (docs/tray.md).

    Without a display, or where no tray backend loads, it runs as ``serve`` does. When this
    user's agent already runs, it asks that one to show its window and exits 0.
    """
    from agent.app import run_with_tray

    config = config_from_args(args)
    configure_logging(config, to_file=False)
    if args.at_login and _already_running(config):
        # The machine-wide login entry and the user's own both fired: one agent is enough,
        # and a window popping up at every login would be noise.
        return 0
    handed = _hand_over(config, headless=False)
    if handed is not None:
        return handed
    configure_logging(config)
    done = run_with_tray(
        config, args.lang, _print_listening, on_taken=lambda: _lost_race(config, headless=False)
    )
    if done is None:  # no tray here
        return _serve_here(config, headless=False, trust_ca=config.trust_local_ca)
    return done


def cmd_origins(args: argparse.Namespace) -> int:
    """``kyso-agent origins list|revoke``."""
    config = config_from_args(args)
    store = PairingStore(config.pairing_file)
    if args.origins_command == "revoke":
        if not store.revoke(args.origin):
            print(f"kyso-agent: {args.origin} is not paired", file=sys.stderr)
            return 1
        print(f"revoked {args.origin}")
        return 0
    paired = store.list()
    if getattr(args, "json", False):
        rows = [{"origin": p.origin, "pairedAt": p.paired_at.isoformat()} for p in paired]
        json.dump({"paired": rows}, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    elif not paired:
        print("No paired origins.")
    else:
        for entry in paired:
            print(f"{entry.origin}  paired {entry.paired_at.astimezone():%Y-%m-%d %H:%M}")
    return 0


def _pdf_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``/v1/pdf/sign`` options object built from the flags (one parser for both)."""
    appearance: dict[str, Any] = {"profile": args.profile}
    if args.page is not None:
        appearance["page"] = args.page
    if args.rect:
        try:
            appearance["rect"] = [float(v) for v in args.rect.split(",")]
        except ValueError as exc:
            raise ConfigError("--rect takes four numbers: X1,Y1,X2,Y2") from exc
    if args.anchor:
        appearance["anchor"] = args.anchor
    if args.image:
        appearance["image"] = base64.b64encode(args.image.read_bytes()).decode()
    if args.text:
        appearance["text"] = args.text
    options: dict[str, Any] = {"level": args.level, "appearance": appearance}
    for key in ("reason", "location"):
        if getattr(args, key):
            options[key] = getattr(args, key)
    if args.tsa_url:
        options["tsaUrl"] = args.tsa_url
    options["documentName"] = args.input.name
    return options


def cmd_sign_pdf(args: argparse.Namespace) -> int:
    """``kyso-agent sign-pdf``: the same consent and PIN rules as the API."""
    from agent.app import local_signing

    config = config_from_args(args)
    configure_logging(config, to_file=False)
    try:
        pdf = args.input.read_bytes()
    except OSError as exc:
        print(f"kyso-agent: cannot read {args.input}: {exc.strerror}", file=sys.stderr)
        return 2
    try:
        request = parse_pdf_sign_request(_pdf_options(args), pdf, config.tsa_url)
    except AgentError as exc:
        print(f"kyso-agent: {exc.public_message(config.lang)}", file=sys.stderr)
        return 2
    try:
        signed = asyncio.run(local_signing(config, request))
    except AgentError as exc:
        print(f"kyso-agent: {exc.code.value}: {exc.public_message(config.lang)}", file=sys.stderr)
        return 1
    # The user's own document: readable as any file they make (the umask decides), and never
    # left half-written.
    write_atomically(args.output, signed, mode=0o666)
    print(f"signed: {args.output}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """``kyso-agent verify``: a PDF or an XML file, told by content, not by name.

    Exit 0 only if every signature is valid, 1 otherwise (none, broken, untrusted), 2 when the
    file cannot be read or is neither a readable PDF nor well-formed XML.
    """
    from agent.app import trust_roots
    from agent.document_kind import DocumentKind, kind_of
    from agent.messages import text

    config = config_from_args(args)
    configure_logging(config, to_file=False)
    roots = trust_roots(config)
    if args.trust_roots:
        from agent.pdf.trust import TrustRootError, load_trust_roots

        try:
            roots += load_trust_roots(args.trust_roots)
        except TrustRootError as exc:
            raise ConfigError(str(exc)) from exc
    try:
        data = args.input.read_bytes()
    except OSError as exc:
        print(f"kyso-agent: cannot read {args.input}: {exc.strerror}", file=sys.stderr)
        return 2
    kind = kind_of(data)
    try:
        if kind is None:
            checked = None
        elif kind is DocumentKind.PDF:
            checked = _verify_pdf(data, roots, config, offline=args.offline)
        else:
            checked = _verify_xml(data, roots, config)
    except _Unreadable as exc:
        print(f"kyso-agent: {args.input}: {exc}", file=sys.stderr)
        return 2
    if checked is None:
        reason = text("verify_not_pdf_or_xml", config.lang)
        print(f"kyso-agent: {args.input}: {reason}", file=sys.stderr)
        return 2
    if args.json:
        json.dump(checked.wire, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(checked.text)
    return 0 if checked.all_valid else 1


@dataclass(frozen=True)
class _Checked:
    """A verification report, in the forms ``kyso-agent verify`` prints."""

    wire: dict[str, Any]
    """The wire form (``--json``): ``allValid``, ``signatures``."""
    text: str
    """The report for people, in the agent's language."""
    all_valid: bool
    """Every signature is valid, and there is at least one."""


class _Unreadable(Exception):
    """The file is not a document whose signatures can be checked; the message says why."""


def _verify_pdf(
    data: bytes, roots: tuple[bytes, ...], config: AgentConfig, *, offline: bool
) -> _Checked:
    from agent.pdf.verify.check import verify_pdf
    from agent.pdf.verify.model import NotAPdf
    from agent.pdf.verify.render import report_to_json, report_to_text

    try:
        report = verify_pdf(data, roots, fetch_revocation=not offline)
    except NotAPdf as exc:
        raise _Unreadable(exc.phrase.render(config.lang)) from exc
    return _Checked(
        report_to_json(report), report_to_text(report, config.lang.value), report.all_valid
    )


def _verify_xml(data: bytes, roots: tuple[bytes, ...], config: AgentConfig) -> _Checked:
    # Nothing is fetched for XML (revocation is not checked), so --offline changes nothing.
    from agent.xml.verify.check import verify_xml
    from agent.xml.verify.render import report_to_json, report_to_text

    try:
        report = verify_xml(data, roots)
    except BadRequest as exc:  # parse_xml's refusals: not well-formed, a DOCTYPE
        reason = exc.phrase.render(config.lang) if exc.phrase else exc.detail
        raise _Unreadable(reason) from exc
    return _Checked(report_to_json(report), report_to_text(report, config.lang), report.all_valid)


def cmd_status(args: argparse.Namespace) -> int:
    """``kyso-agent status``: 0 when a report was printed (running agent or read locally)."""
    from agent.status import StatusError, build_local, fetch_running

    config = config_from_args(args)
    configure_logging(config, to_file=False)
    try:
        report = fetch_running(config)
    except StatusError as exc:
        print(f"kyso-agent: {exc}", file=sys.stderr)
        return 1
    if report is None:
        report = build_local(config)
    if args.json:
        json.dump(report.to_json(), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(report.to_text(config.lang) + "\n")
    return 0


def cmd_support_bundle(args: argparse.Namespace) -> int:
    """``kyso-agent support-bundle``: 0 and the bundle's path printed once it is saved; 1 when
    it cannot be (the folder is missing or not writable, the file exists without ``--force``).

    The status report is the running agent's when one answers, else read here; the
    configuration is the one this command reads (docs/helpdesk.md).
    """
    from agent.config import load_sourced_config
    from agent.status.bundle import (
        BundleError,
        BundleMaker,
        check_target,
        current_report,
        default_bundle_path,
        make_bundle,
        sourced_report,
    )

    sourced = load_sourced_config(cli_values(args), args.config)
    config = sourced.config
    configure_logging(config, to_file=False)
    try:
        # Said before the tokens are read: that takes seconds, a typo in -o should not.
        target = check_target(args.output or default_bundle_path(), overwrite=args.force)
        saved = make_bundle(
            target,
            current_report(config),
            config,
            sourced_report(sourced),
            maker=BundleMaker.CLI,
            lang=config.lang,
            overwrite=args.force,
        )
    except BundleError as exc:
        print(f"kyso-agent: {exc.problem.value}: {exc.message(config.lang)}", file=sys.stderr)
        return 1
    print(saved)
    return 0


def cmd_trust(args: argparse.Namespace) -> int:
    """``kyso-agent trust install|uninstall|status``.

    install/uninstall: 0 when every store that exists ended in the wanted state.
    status: 0 when at least one store trusts the CA.
    """
    from agent.localtls.ca import load_ca
    from agent.localtls.model import all_ok, result_text
    from agent.localtls.stores import TrustError, TrustTools, install, trust_checks, uninstall
    from agent.messages import text

    config = config_from_args(args)
    lang = config.lang
    ca_file = config.tls_dir / "ca.pem"
    tools = TrustTools(home=Path.home())
    try:
        if args.trust_command == "status":
            checks = trust_checks(load_ca(ca_file), tools.home, tools.platform)
            return _print_trust_status(args.json, ca_file, checks, lang)
        if args.trust_command == "install":
            results = install(ca_file, tools, system=args.system)
        else:
            results = uninstall(ca_file, tools, system=args.system)
    except (TrustError, OSError, ValueError) as exc:
        print(f"kyso-agent: {exc}", file=sys.stderr)
        return 1
    ok = all_ok(results)
    if args.json:
        body = {"ca_file": str(ca_file), "ok": ok, "results": [r.to_json() for r in results]}
        json.dump(body, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return 0 if ok else 1
    head = "trust_install_head" if args.trust_command == "install" else "trust_uninstall_head"
    lines = [text(head, lang, path=ca_file)]
    lines += [result_text(r, lang) for r in results]
    if not ok:
        lines.append(text("trust_some_failed", lang))
    elif any(r.outcome.changed for r in results):
        lines.append(text("trust_restart_browser", lang))
    sys.stdout.write("\n".join(lines) + "\n")
    return 0 if ok else 1


def _print_trust_status(as_json: bool, ca_file: Path, checks: Sequence[Any], lang: Any) -> int:
    from agent.localtls.model import Trust, check_text
    from agent.messages import text

    trusted = any(c.trust is Trust.TRUSTED for c in checks)
    if as_json:
        rows = [
            {
                "store": c.store.value,
                "location": c.location,
                "trust": c.trust.value,
                "reason": c.reason.value,
            }
            for c in checks
        ]
        body = {"ca_file": str(ca_file), "trusted": trusted, "trust": rows}
        json.dump(body, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        lines = [text("trust_status_head", lang, path=ca_file)]
        lines += [check_text(c, lang) for c in checks]
        if not trusted:
            lines.append(text("trust_no_store", lang))
        sys.stdout.write("\n".join(lines) + "\n")
    return 0 if trusted else 1


def cmd_audit(args: argparse.Namespace) -> int:
    """``kyso-agent audit``."""
    config = config_from_args(args)
    if not config.audit_file.exists():
        entries = []
    else:
        log = AuditLog(config.audit_file)
        try:
            entries = log.entries(limit=args.limit)
        finally:
            log.close()
    if args.json:
        json.dump(
            {"entries": [entry_to_json(e) for e in entries]},
            sys.stdout,
            ensure_ascii=False,
            indent=2,
        )
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_entries(entries) if entries else "No audit entries.\n")
    return 0


def utf8_when_redirected(streams: Sequence[TextIO | None] | None = None) -> None:
    """Write UTF-8 to a pipe or file on Windows, whatever the ANSI code page.

    Python writes to a Windows console in UTF-16 but to a pipe or file in the ANSI code page:
    cp1252 cannot encode "ă" at all, and Vietnamese Windows' cp1258 only with combining tone
    marks, so ``kyso-agent status --json > report.json`` stopped with UnicodeEncodeError at
    the first holder's name. JSON is UTF-8 by definition (RFC 8259), and so is the rest here.
    """
    for stream in streams if streams is not None else (sys.stdout, sys.stderr):
        if stream is None or not isinstance(stream, io.TextIOWrapper) or stream.isatty():
            continue
        if codecs.lookup(stream.encoding).name != "utf-8":
            stream.reconfigure(encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``kyso-agent``."""
    malloc.tune()  # before any thread: a thread that has a heap of its own keeps it
    route_to_log()
    utf8_when_redirected()
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv = ["run", *argv]  # `kyso-agent [OPTIONS]` is `kyso-agent run [OPTIONS]`
    args = parser.parse_args(argv)
    handlers = {
        "run": cmd_run,
        "serve": cmd_serve,
        "tokens": cmd_tokens,
        "origins": cmd_origins,
        "audit": cmd_audit,
        "sign-pdf": cmd_sign_pdf,
        "verify": cmd_verify,
        "status": cmd_status,
        "trust": cmd_trust,
        "support-bundle": cmd_support_bundle,
    }
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return handlers[args.command](args)
    except (ConfigError, AuditError) as exc:
        print(f"kyso-agent: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
