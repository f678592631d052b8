"""``shopbot campaign list|show|add|set|delete``: segment-targeted campaigns in the knowledge graph.

Writes are staff edits like ``shopbot kg``: validated against the SHACL shapes, recorded in the audit log
(``shopbot kg history``, ``shopbot kg revert``), made as ``--user NAME`` (default ``SHOPBOT_STAFF_USER``).
"""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from bot.cli_kg_edit import _run, _write
from bot.console import say
from knowledge.settings import get_settings

FIELDS = ("name", "segment", "message", "products", "start", "end", "holdout")


def _kg():  # noqa: ANN202 - a SparqlEndpoint
    from knowledge.connections import graph_client

    return graph_client(get_settings())


def _fields(args: argparse.Namespace) -> dict[str, Any]:
    return {name: getattr(args, name) for name in FIELDS if getattr(args, name) is not None}


@_run
def cmd_campaign_list(args: argparse.Namespace) -> int:
    """Every campaign with its segment, dates and status."""
    from knowledge.campaigns import list_campaigns

    today = date.today()
    found = list_campaigns(_kg())
    if not found:
        say("no campaigns (add one with `shopbot campaign add`)")
    for campaign in found:
        print(f"{campaign.id:<24} {campaign.status(today):<9} {campaign.start} – {campaign.end}  "
              f"{campaign.segment!r}: {campaign.name} ({', '.join(campaign.products)})")
    return 0


@_run
def cmd_campaign_show(args: argparse.Namespace) -> int:
    """A campaign's facts and its clicks and purchases per segment against the control group."""
    from knowledge.campaigns import campaign_stats, get_campaign
    from knowledge.connections import shop_database

    settings = get_settings()
    campaign = get_campaign(_kg(), args.id)
    if campaign is None:
        say(f"error: there is no campaign {args.id!r}")
        return 2
    share = campaign.holdout_share(settings.campaign_holdout)
    print(f"{campaign.name} ({campaign.id}), {campaign.status(date.today())}: {campaign.start} – {campaign.end}")
    print(f"segment {campaign.segment!r}, {share:.0%} held out; products {', '.join(campaign.products)}")
    print(f"message: {campaign.message}")
    db = shop_database(settings)
    try:
        rows = campaign_stats(db, campaign, settings.campaign_holdout)
    finally:
        db.dispose()
    print(f"{'segment':<36} {'arm':<20} {'members':>8} {'reached':>8} {'clicked':>8} {'click %':>8} "
          f"{'bought':>7} {'units':>6} {'buy %':>6}")
    for row in rows:
        print(f"{row.segment[:36]:<36} {row.arm:<20} {row.members:>8} {row.reached:>8} {row.clickers:>8} "
              f"{100 * row.click_rate:>7.1f}% {row.buyers:>7} {row.units:>6} {100 * row.purchase_rate:>5.1f}%")
    return 0


@_run
def cmd_campaign_add(args: argparse.Namespace) -> int:
    """Create a campaign."""
    from knowledge.campaigns import create_campaign

    return _write(args, lambda kg: create_campaign({"id": args.id, **_fields(args)}))


@_run
def cmd_campaign_set(args: argparse.Namespace) -> int:
    """Change fields of a campaign (an empty value clears the hold-out share back to the default)."""
    from knowledge.campaigns import update_campaign

    return _write(args, lambda kg: update_campaign(kg, args.id, _fields(args)))


@_run
def cmd_campaign_delete(args: argparse.Namespace) -> int:
    """Delete a campaign (revert the change to bring it back)."""
    from knowledge.campaigns import delete_campaign

    return _write(args, lambda kg: delete_campaign(kg, args.id))


def _field_options(parser: argparse.ArgumentParser, required: bool) -> None:
    parser.add_argument("--name", required=required, help="what staff call it")
    parser.add_argument("--segment", required=required,
                        help="the shopper segment it targets, by name (a leading part such as 'Bargain hunters' "
                             "targets every segment whose name starts with it)")
    parser.add_argument("--message", required=required, help="what the shopper reads")
    parser.add_argument("--products", required=required, help="product ids, comma-separated (1 to 12)")
    parser.add_argument("--start", required=required, help="first day, YYYY-MM-DD")
    parser.add_argument("--end", required=required, help="last day, YYYY-MM-DD")
    parser.add_argument("--holdout", help="share of the segment held out as the control group, 0 to 0.9 "
                                          "(default: SHOPBOT_CAMPAIGN_HOLDOUT)")


def register(subcommands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add ``campaign list|show|add|set|delete`` to the shopbot command parsers."""
    campaign = subcommands.add_parser("campaign", help="segment-targeted campaigns").add_subparsers(
        dest="sub", required=True, metavar="SUB"
    )
    campaign.add_parser("list", help="every campaign").set_defaults(func=cmd_campaign_list)
    show = campaign.add_parser("show", help="a campaign and its clicks and purchases per segment vs control")
    show.add_argument("id")
    show.set_defaults(func=cmd_campaign_show)
    user = {"default": get_settings().staff_user or None, "help": "staff account making the change (editor or admin)"}
    add = campaign.add_parser("add", help="create a campaign (validated, audited)")
    add.add_argument("id", help="lowercase letters, digits and dashes, such as spring-runners")
    _field_options(add, required=True)
    add.add_argument("--user", **user)
    add.set_defaults(func=cmd_campaign_add)
    change = campaign.add_parser("set", help="change fields of a campaign")
    change.add_argument("id")
    _field_options(change, required=False)
    change.add_argument("--user", **user)
    change.set_defaults(func=cmd_campaign_set)
    delete = campaign.add_parser("delete", help="delete a campaign")
    delete.add_argument("id")
    delete.add_argument("--user", **user)
    delete.set_defaults(func=cmd_campaign_delete)
