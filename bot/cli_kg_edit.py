"""``shopbot kg add|remove|set|delete|import|export|show|history|revert`` and ``shopbot staff ...``.

Staff edits of the knowledge graph from the terminal, validated against the SHACL shapes and recorded in
the audit log of the shop database (``knowledge.editing``). Writes run as ``--user NAME``, an active
staff account with the editor or admin role (default: the ``SHOPBOT_STAFF_USER`` environment variable).
Wired into ``bot/cli.py`` by ``register``.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from dataclasses import replace
from pathlib import Path
from typing import Callable, Optional

from bot.console import say
from knowledge.settings import get_settings

TERMS_HELP = (
    "terms are written as in Turtle: prod:P0001 (or just P0001 as subject), schema:color, <https://...>, "
    '"text", "text"@en, "12"^^xsd:integer, 99.00, 42, true; as object, other bare text is taken as text '
    "(quote it for the shell: 'dark blue')"
)


class _Usage(Exception):
    """A command-line mistake: printed as one error line, exit status 2."""


def _editor():  # noqa: ANN202 - knowledge.editing.Editor
    from knowledge.editing import Editor

    logging.getLogger("rdflib.term").setLevel(logging.ERROR)  # ill-typed literals are reported by validation
    return Editor.from_settings()


def _user(args: argparse.Namespace) -> str:
    if not args.user:
        raise _Usage("say who makes the change: --user NAME (or set SHOPBOT_STAFF_USER)")
    return args.user


def _run(body: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn the editing errors into one clear message and exit status 2."""

    def command(args: argparse.Namespace) -> int:
        from knowledge.editing.errors import EditConflict, EditError, EmptyChange, ValidationFailed
        from knowledge.shopdb.staff import StaffError

        try:
            return body(args)
        except ValidationFailed as error:
            say("error: the change breaks the shapes; nothing was written:")
            for problem in error.problems:
                print(f"  - {problem}")
            return 2
        except EmptyChange as error:
            say(f"error: {error}")
            for triple in error.skipped_added:
                print(f"  = {_fmt(triple)} (already there)")
            for triple in error.skipped_removed:
                print(f"  = {_fmt(triple)} (not there)")
            return 2
        except EditConflict as error:
            say(f"error: {error}")
            return 2
        except (EditError, StaffError, _Usage, ValueError, OSError) as error:
            say(f"error: {error}")
            return 2

    command.__name__ = body.__name__
    command.__doc__ = body.__doc__
    return command


def _fmt(triple) -> str:  # noqa: ANN001 - a triple
    from knowledge.editing import format_triple

    return format_triple(triple)


def _report(result) -> int:  # noqa: ANN001 - knowledge.editing.EditResult
    record = result.record
    say(f"change {record.id} by {record.username}: {record.summary}")
    for line in result.lines():
        print(f"  {line}")
    print(f"  {len(record.added)} triple{'s' if len(record.added) != 1 else ''} added, "
          f"{len(record.removed)} removed" + (f", {len(result.skipped_added) + len(result.skipped_removed)} "
                                              "unchanged" if result.skipped_added or result.skipped_removed else ""))
    if result.versions:
        print("  versions now: " + ", ".join(f"{key} {version}" for key, version in sorted(result.versions.items())))
    return 0


def _write(args: argparse.Namespace, build: Callable) -> int:
    user = _user(args)
    editor = _editor()
    try:
        return _report(editor.apply(build(editor.kg), user))
    finally:
        editor.close()


@_run
def cmd_kg_add(args: argparse.Namespace) -> int:
    """Add one triple."""
    from knowledge.editing import add

    return _write(args, lambda kg: add(args.subject, args.predicate, args.object))


@_run
def cmd_kg_remove(args: argparse.Namespace) -> int:
    """Remove one triple."""
    from knowledge.editing import remove

    return _write(args, lambda kg: remove(args.subject, args.predicate, args.object))


@_run
def cmd_kg_set(args: argparse.Namespace) -> int:
    """Replace every value of a subject's predicate."""
    from knowledge.editing import set_value

    values = args.object if len(args.object) > 1 else args.object[0]
    return _write(args, lambda kg: set_value(kg, args.subject, args.predicate, values))


@_run
def cmd_kg_delete(args: argparse.Namespace) -> int:
    """Delete a product with its offer and rating, and the triples pointing at it."""
    from knowledge.editing import delete_product

    return _write(args, lambda kg: delete_product(kg, args.product))


def _import_format(path: Path, given: Optional[str]) -> str:
    kind = given or {".ttl": "ttl", ".turtle": "ttl", ".csv": "csv"}.get(path.suffix.lower())
    if kind is None:
        raise _Usage(f"cannot tell the format of {path} from its name: use --format ttl or --format csv")
    return kind


@_run
def cmd_kg_import(args: argparse.Namespace) -> int:
    """Import a Turtle or CSV file: its values replace the current ones of the same subject and predicate."""
    from knowledge.editing import import_csv, import_turtle

    path = Path(args.file)
    kind = _import_format(path, args.format)
    if not path.is_file():
        raise _Usage(f"no such file: {path}")
    text = path.read_text(encoding="utf-8")
    build = import_csv if kind == "csv" else import_turtle

    def named(kg):  # noqa: ANN001, ANN202 - the builder's summary, with the file's name in front
        change = build(kg, text)
        return replace(change, summary=f"{path.name}: {change.summary}")

    return _write(args, named)


@_run
def cmd_kg_export(args: argparse.Namespace) -> int:
    """Write the whole graph as Turtle."""
    editor = _editor()
    try:
        text = editor.export_turtle()
    finally:
        editor.close()
    if args.file == "-":
        sys.stdout.write(text)
        return 0
    path = Path(args.file)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    say(f"wrote {len(text.splitlines())} lines of Turtle to {path}")
    return 0


@_run
def cmd_kg_show(args: argparse.Namespace) -> int:
    """Print a product's (or any subject's) document and its version."""
    from knowledge.editing import compact, document, format_triple, parse_subject

    editor = _editor()
    try:
        triples, version = document(editor.kg, args.subject)
    finally:
        editor.close()
    subject = parse_subject(args.subject)
    if not triples:
        say(f"error: the graph holds nothing about {compact(subject)}")
        return 2
    say(f"{compact(subject)}: {len(triples)} triples, version {version}")
    for line in sorted(format_triple(t) for t in triples):
        print(f"  {line}")
    return 0


@_run
def cmd_kg_history(args: argparse.Namespace) -> int:
    """Print the latest changes, newest first."""
    editor = _editor()
    try:
        records = editor.history(limit=args.limit, offset=args.offset, subject=args.subject)
    finally:
        editor.close()
    if not records:
        say("no changes" + (f" to {args.subject}" if args.subject else ""))
        return 0
    for record in records:
        notes = []
        if record.reverts:
            notes.append(f"reverts {record.reverts}")
        if record.reverted_by:
            notes.append(f"reverted by {record.reverted_by}")
        note = f" [{', '.join(notes)}]" if notes else ""
        print(f"{record.id:>5}  {record.created_at:%Y-%m-%d %H:%M:%S}Z  {record.username:<12} "
              f"+{len(record.added)} -{len(record.removed)}  {record.summary}{note}")
        if args.verbose:
            for line in record.lines():
                print(f"         {line}")
    return 0


@_run
def cmd_kg_revert(args: argparse.Namespace) -> int:
    """Undo a change exactly (refused if later edits touched its triples)."""
    user = _user(args)
    editor = _editor()
    try:
        return _report(editor.revert(args.change_id, user))
    finally:
        editor.close()


# --- staff ----------------------------------------------------------------------------------------------

def _db():  # noqa: ANN202 - knowledge.shopdb.ShopDB
    from knowledge.settings import get_settings
    from knowledge.connections import shop_database

    return shop_database(get_settings())


def _password(args: argparse.Namespace, name: str) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise _Usage("no password on standard input")
        return password
    if not sys.stdin.isatty():
        raise _Usage("no terminal to ask for the password: use --password-stdin")
    first = getpass.getpass(f"password for {name}: ")
    if getpass.getpass("again: ") != first:
        raise _Usage("the two passwords differ")
    return first


@_run
def cmd_staff_add(args: argparse.Namespace) -> int:
    """Create a staff account."""
    from knowledge.shopdb.staff import add_staff

    password = _password(args, args.name)
    db = _db()
    try:
        staff = add_staff(db, args.name, password, role=args.role, display_name=args.display_name)
    finally:
        db.dispose()
    say(f"added staff account {staff.username} ({staff.role})")
    return 0


@_run
def cmd_staff_set(args: argparse.Namespace) -> int:
    """Change a staff account's role or display name."""
    from knowledge.shopdb.staff import set_display_name, set_role

    if args.role is None and args.display_name is None:
        raise _Usage("give --role or --display-name")
    db = _db()
    try:
        staff = set_role(db, args.name, args.role) if args.role else None
        staff = set_display_name(db, args.name, args.display_name) if args.display_name is not None else staff
    finally:
        db.dispose()
    say(f"{staff.username}: {staff.role}, shown to shoppers as {staff.name!r}")
    return 0


@_run
def cmd_staff_list(args: argparse.Namespace) -> int:
    """List the staff accounts."""
    from knowledge.shopdb.staff import list_staff

    db = _db()
    try:
        accounts = list_staff(db)
    finally:
        db.dispose()
    if not accounts:
        say("no staff accounts yet: `shopbot staff add NAME --role editor`")
        return 0
    for staff in accounts:
        print(f"{staff.username:<24} {staff.role:<7} {'active' if staff.active else 'disabled':<8} "
              f"since {staff.created_at:%Y-%m-%d}" + (f"  shown as {staff.display_name!r}" if staff.display_name else ""))
    return 0


@_run
def cmd_staff_token(args: argparse.Namespace) -> int:
    """Print a new API token for a staff account (it expires after --days, default STAFF_TOKEN_DAYS)."""
    from datetime import timedelta

    from knowledge.shopdb.staff import get_staff, issue_token

    if args.days is not None and not 0 < args.days <= 366:
        raise _Usage("--days must be between 0 and 366")
    db = _db()
    try:
        staff = get_staff(db, args.name)
        if staff is None or not staff.active:
            raise _Usage(f"no active staff account {args.name!r}")
        token = issue_token(db, args.name, timedelta(days=args.days) if args.days is not None else None)
    finally:
        db.dispose()
    print(token)
    return 0


@_run
def cmd_staff_revoke(args: argparse.Namespace) -> int:
    """End every API token and admin-page session of a staff account."""
    from knowledge.shopdb.staff import revoke_staff

    db = _db()
    try:
        tokens, sessions = revoke_staff(db, args.name)
    finally:
        db.dispose()
    say(f"revoked {tokens} API token{'' if tokens == 1 else 's'} and {sessions} session{'' if sessions == 1 else 's'} "
        f"of {args.name}")
    return 0


@_run
def cmd_staff_password(args: argparse.Namespace) -> int:
    """Set a new password for a staff account."""
    from knowledge.shopdb.staff import set_password

    password = _password(args, args.name)
    db = _db()
    try:
        set_password(db, args.name, password)
    finally:
        db.dispose()
    say(f"new password set for {args.name}; their API tokens and sessions were revoked")
    return 0


@_run
def cmd_staff_enable(args: argparse.Namespace) -> int:
    """Enable or disable a staff account."""
    from knowledge.shopdb.staff import set_active

    db = _db()
    try:
        staff = set_active(db, args.name, args.active)
    finally:
        db.dispose()
    say(f"{staff.username} is now {'active' if staff.active else 'disabled'}")
    return 0


def register(
    kg: "argparse._SubParsersAction[argparse.ArgumentParser]",
    commands: "argparse._SubParsersAction[argparse.ArgumentParser]",
) -> None:
    """Add the graph-editing commands to ``shopbot kg`` and the ``shopbot staff`` commands (imports nothing heavy)."""
    default_user = get_settings().staff_user or None

    def writer(name: str, help_text: str) -> argparse.ArgumentParser:
        parser = kg.add_parser(name, help=help_text, description=f"{help_text}. {TERMS_HELP}.")
        parser.add_argument("--user", default=default_user,
                            help="staff account making the change, an editor or admin (default: SHOPBOT_STAFF_USER)")
        return parser

    def triple(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("subject", help="e.g. P0001, prod:P0001-offer, brand:stridewell")
        parser.add_argument("predicate", help="e.g. schema:color, shop:stockLevel, a")
        parser.add_argument("object", help='e.g. "navy", 99.00, 42, cat:running-shoes')

    parser = writer("add", "add a triple to the graph")
    triple(parser)
    parser.set_defaults(func=cmd_kg_add)
    parser = writer("remove", "remove a triple from the graph")
    triple(parser)
    parser.set_defaults(func=cmd_kg_remove)
    parser = writer("set", "replace every value of a subject's predicate "
                           "(schema:price and schema:priceCurrency of a product go to its offer)")
    parser.add_argument("subject", help="e.g. P0001")
    parser.add_argument("predicate", help="e.g. schema:price")
    parser.add_argument("object", nargs="+", help="the new value(s), e.g. 99.00")
    parser.set_defaults(func=cmd_kg_set)
    parser = writer("delete", "delete a product with its offer and rating")
    parser.add_argument("product", help="product id such as P0001")
    parser.set_defaults(func=cmd_kg_delete)
    parser = writer("import", "import a Turtle (.ttl) or CSV (.csv) file: for every subject and predicate in it, "
                              "its values replace the current ones")
    parser.add_argument("file", help="Turtle file, or CSV with an id column and name, price, currency, stock, "
                                     "brand, category, color, size, material, description, alternate_name, image "
                                     "or prefixed predicates as columns (several values: a|b; empty: unchanged)")
    parser.add_argument("--format", choices=["ttl", "csv"], help="the file's format (default: from its name)")
    parser.set_defaults(func=cmd_kg_import)

    parser = kg.add_parser("export", help="write the whole graph as Turtle")
    parser.add_argument("file", help="output file, or - for standard output")
    parser.set_defaults(func=cmd_kg_export)
    parser = kg.add_parser("show", help="print a product's triples (with its offer and rating) and its version")
    parser.add_argument("subject", help="e.g. P0001 or brand:stridewell")
    parser.set_defaults(func=cmd_kg_show)
    parser = kg.add_parser("history", help="list the changes made to the graph, newest first")
    parser.add_argument("--limit", type=int, default=20, help="how many (default: %(default)s)")
    parser.add_argument("--offset", type=int, default=0, help="skip this many newest changes first")
    parser.add_argument("--subject", help="only changes touching this subject, e.g. P0001")
    parser.add_argument("-v", "--verbose", action="store_true", help="also print each change's triples")
    parser.set_defaults(func=cmd_kg_history)
    parser = writer("revert", "undo a change exactly (refused if later edits touched its triples)")
    parser.add_argument("change_id", type=int, help="the change's number, from `shopbot kg history`")
    parser.set_defaults(func=cmd_kg_revert)

    staff = commands.add_parser("staff", help="support staff accounts (for editing the graph)").add_subparsers(
        dest="sub", required=True, metavar="SUB"
    )
    parser = staff.add_parser("add", help="create a staff account (asks for the password twice)")
    parser.add_argument("name", help="username")
    parser.add_argument("--role", choices=["viewer", "editor", "agent", "admin"], default="editor",
                        help="viewer reads, editor also edits the graph, agent answers shoppers handed over to a "
                             "person (the inbox), admin does all and manages staff (default: editor)")
    parser.add_argument("--display-name", help="the name shoppers see when this person answers (default: the username)")
    parser.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    parser.set_defaults(func=cmd_staff_add)
    parser = staff.add_parser("set", help="change a staff account's role or display name")
    parser.add_argument("name", help="username")
    parser.add_argument("--role", choices=["viewer", "editor", "agent", "admin"])
    parser.add_argument("--display-name", help="the name shoppers see (empty: the username)")
    parser.set_defaults(func=cmd_staff_set)
    staff.add_parser("list", help="list the staff accounts").set_defaults(func=cmd_staff_list)
    parser = staff.add_parser("token", help="print a new API token for a staff account (it expires)")
    parser.add_argument("name", help="username")
    parser.add_argument("--days", type=float, help="days until it expires (default: STAFF_TOKEN_DAYS or 30)")
    parser.set_defaults(func=cmd_staff_token)
    parser = staff.add_parser("revoke", help="end every API token and admin-page session of a staff account")
    parser.add_argument("name", help="username")
    parser.set_defaults(func=cmd_staff_revoke)
    parser = staff.add_parser("password", help="set a new password (revokes the account's tokens and sessions)")
    parser.add_argument("name", help="username")
    parser.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    parser.set_defaults(func=cmd_staff_password)
    parser = staff.add_parser("disable", help="disable a staff account (it can no longer sign in or edit)")
    parser.add_argument("name", help="username")
    parser.set_defaults(func=cmd_staff_enable, active=False)
    parser = staff.add_parser("enable", help="enable a disabled staff account")
    parser.add_argument("name", help="username")
    parser.set_defaults(func=cmd_staff_enable, active=True)
