"""``shopbot shop ...``: create and fill the shop database, and count its rows (wired into ``bot/cli.py`` by ``register``)."""

from __future__ import annotations

import argparse
import time
from datetime import date

from bot.console import say
from knowledge.settings import get_settings


def cmd_shop_generate(args: argparse.Namespace) -> int:
    """Fill the shop database at DATABASE_URL with the demo customers, orders and interactions."""
    from knowledge.demo_store import generate_products
    from knowledge.connections import shop_database
    from knowledge.shopdb.generate import generate_shop

    settings = get_settings()
    db = shop_database(settings)
    try:
        if not db.is_empty() and not args.force:
            say(f"the shop database at {db.url} already holds data (use --force to regenerate)")
            return 0
        options = {name: getattr(args, name) for name in ("seed", "customers", "orders")}
        options["today"] = args.today or date.today()
        products = generate_products(*([args.catalog_seed] if args.catalog_seed is not None else []))
        started = time.monotonic()
        counts = generate_shop(
            db, products, currency=settings.currency, replace=args.force,
            **{name: value for name, value in options.items() if value is not None},
        )
        seconds = time.monotonic() - started
    except ValueError as error:
        say(f"error: {error}")
        return 2
    finally:
        db.dispose()
    say(f"generated the shop database at {db.url} in {seconds:.1f} s:")
    for table, count in counts.items():
        print(f"  {table:<17} {count:>8}")
    return 0


def cmd_shop_stats(args: argparse.Namespace) -> int:
    """Print how many rows each table of the shop database holds, and orders by status."""
    from sqlalchemy import func, select

    from knowledge.connections import shop_database
    from knowledge.shopdb import row_counts
    from knowledge.shopdb.models import Order

    db = shop_database(get_settings())
    try:
        counts = row_counts(db.engine)
        with db.engine.connect() as connection:
            statuses = connection.execute(
                select(Order.status, func.count()).group_by(Order.status).order_by(Order.status)
            ).all()
    finally:
        db.dispose()
    print(f"database: {db.url}")
    for table, count in counts.items():
        print(f"  {table:<17} {count:>8}")
    if statuses:
        print("orders by status:")
        for status, count in statuses:
            print(f"  {status:<17} {count:>8}")
    return 0


def register(subcommands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add ``shop generate`` and ``shop stats`` to the shopbot command parsers (imports nothing heavy)."""
    shop = subcommands.add_parser("shop", help="the shop database (customers, orders, interactions)").add_subparsers(
        dest="sub", required=True, metavar="SUB"
    )
    generate = shop.add_parser("generate", help="create and fill the shop database at DATABASE_URL")
    generate.add_argument("--force", action="store_true", help="replace a shop database that already holds data")
    generate.add_argument("--customers", type=int, help="customers, the demo ones included (default: 1000)")
    generate.add_argument("--orders", type=int, help="orders over the last 12 months, demo ones included (default: 10000)")
    generate.add_argument("--seed", type=int, help="random seed (default: 20261129)")
    generate.add_argument(
        "--today", type=date.fromisoformat,
        help="the day the data ends, YYYY-MM-DD; the demo orders' dates count back from it (default: today)",
    )
    generate.add_argument(
        "--catalog-seed", type=int,
        help="seed the catalog was generated with, `shopbot data generate --seed` (default: the demo catalog's)",
    )
    generate.set_defaults(func=cmd_shop_generate)
    shop.add_parser("stats", help="count the rows of every shop table").set_defaults(func=cmd_shop_stats)
