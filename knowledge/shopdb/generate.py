"""The demo shop's customers, orders, shipments, returns and interaction log, deterministic for a seed.

Every shopper has a latent type (runner, commuter, coffee lover, ...) with category preferences, a price
sensitivity and a private taste for particular products; orders, views, carts and ratings are drawn from
it, so a recommender trained on the interaction log has signal to find. Two demo customers have fixed
facts for docs and tests (see :data:`DEMO_ORDERS`).
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Optional, Sequence, Union

from sqlalchemy import insert
from sqlalchemy.engine import URL, Connection

from knowledge.shopdb.engine import ShopDB, connect, drop_schema, ensure_schema
from knowledge.shopdb.models import (
    CENT,
    TABLES,
    Customer,
    Interaction,
    Order,
    OrderLine,
    Return,
    Shipment,
)

if TYPE_CHECKING:
    from knowledge.demo_store import Product

SEED = 20261129
TODAY = date(2026, 11, 29)
CUSTOMERS = 1_000
ORDERS = 10_000
MAX_ORDERS = 800_000
CHUNK = 10_000

CANCEL_RATE = 0.05
RETURN_RATE = 0.045  # of delivered orders; about 4 % of all orders end up returned
LATE_RATE = 0.06


@dataclass(frozen=True)
class ShopperType:
    """A latent kind of shopper: what they buy, how much price matters, how they ship."""

    name: str
    share: float
    categories: Mapping[str, float]
    price_sensitivity: float
    express_share: float


SHOPPER_TYPES: tuple[ShopperType, ...] = (
    ShopperType("runner", 0.20, {"running-shoes": 6, "t-shirts": 2.5, "smartwatches": 2.5, "headphones": 1.2,
                                 "sunglasses": 1.2, "backpacks": 0.6}, 0.6, 0.15),
    ShopperType("commuter", 0.18, {"backpacks": 4, "jackets": 3.5, "headphones": 3, "t-shirts": 1,
                                   "sunglasses": 0.8, "coffee-makers": 0.5}, 0.9, 0.25),
    ShopperType("coffee lover", 0.14, {"coffee-makers": 7, "t-shirts": 0.8, "skincare": 0.6, "backpacks": 0.4},
                0.3, 0.10),
    ShopperType("wellness", 0.18, {"yoga-mats": 5, "skincare": 4.5, "t-shirts": 1.5, "smartwatches": 1,
                                   "running-shoes": 0.6}, 1.2, 0.08),
    ShopperType("techie", 0.15, {"headphones": 5, "smartwatches": 5, "backpacks": 1, "coffee-makers": 1},
                0.2, 0.35),
    ShopperType("traveller", 0.15, {"backpacks": 4.5, "sunglasses": 3.5, "jackets": 3, "t-shirts": 1.2,
                                    "skincare": 0.8, "headphones": 0.8}, 0.7, 0.20),
)

PICKUP_SHARE = 0.10  # the rest: express by shopper type, else standard
CARRIERS = ("DHL", "UPS", "FedEx", "USPS")
RETURN_REASONS = (
    "does not fit", "changed my mind", "arrived damaged", "not as described", "wrong item sent",
    "found a better price", "quality not as expected", "arrived too late",
)

FIRST_NAMES = (
    "Maria", "James", "Sofia", "Liam", "Emma", "Noah", "Olivia", "Lucas", "Mia", "Ethan", "Ava", "Mateo",
    "Chloe", "Leon", "Hannah", "Omar", "Aisha", "Kenji", "Yuki", "Priya", "Arjun", "Fatima", "Jonas", "Elena",
    "Marco", "Ines", "Nora", "Felix", "Zoe", "Samuel", "Lena", "Diego", "Amara", "Tom", "Julia", "Ravi",
)
LAST_NAMES = (
    "Garcia", "Smith", "Müller", "Rossi", "Kowalski", "Nguyen", "Kim", "Okafor", "Silva", "Jensen", "O'Neil",
    "Dubois", "Novak", "Haddad", "Tanaka", "Patel", "Fischer", "Lopez", "Andersen", "Moreau", "Costa",
    "Schmidt", "Ivanova", "Cohen", "Brown", "Wilson", "Hughes", "Becker", "Santos", "Yilmaz",
)
STREETS = (
    "Harbor", "Maple", "Station", "Mill", "Church", "Park", "River", "Elm", "Lake", "Hill", "Market", "Bridge",
    "Oak", "Cedar", "Garden", "Meadow", "Sunset", "King", "Queen", "Forest",
)
STREET_KINDS = ("Street", "Road", "Avenue", "Lane", "Way", "Drive")
CITIES = (
    "Springfield", "Riverton", "Lakeside", "Fairview", "Greenville", "Bridgeport", "Oakdale", "Milton",
    "Ashford", "Westbrook", "Kingsport", "Clearwater",
)


@dataclass(frozen=True)
class DemoOrder:
    """One of the fixed demo orders: the facts docs and tests rely on."""

    order_id: str
    customer_id: str
    email: str
    status: str
    carrier: Optional[str] = None
    tracking_number: Optional[str] = None
    delivered_days_ago: Optional[int] = None


DEMO_CUSTOMERS = (  # id, name, e-mail, address, shopper type
    ("C0001", "Alex Morgan", "alex@example.com", "12 Harbor Street, Springfield 12345", "runner"),
    ("C0002", "Sam Lee", "sam@example.com", "7 Maple Avenue, Riverton 54321", "coffee lover"),
)
DEMO_ORDERS: dict[str, DemoOrder] = {
    "SB-100001": DemoOrder("SB-100001", "C0001", "alex@example.com", "processing"),
    "SB-100002": DemoOrder("SB-100002", "C0001", "alex@example.com", "shipped", "UPS", "1Z999AA10123456784"),
    "SB-100003": DemoOrder("SB-100003", "C0001", "alex@example.com", "delivered", "FedEx", "784512369874", 10),
    "SB-100004": DemoOrder("SB-100004", "C0001", "alex@example.com", "delivered", "DHL", "4587962310", 60),
    "SB-100005": DemoOrder("SB-100005", "C0002", "sam@example.com", "processing"),
}


class DatabaseNotEmpty(RuntimeError):
    """The database already holds a shop; pass ``replace=True`` to start over."""


# --- helpers --------------------------------------------------------------------------------------


def _money(value: Any) -> Decimal:
    return Decimal(value).quantize(CENT)


def _shipping_options() -> dict[str, tuple[Decimal, int, int, Optional[Decimal]]]:
    """slug -> (cost, min days, max days, free over), as the catalog states them."""
    from knowledge.demo_store import SHIPPING_OPTIONS as CATALOG_OPTIONS

    return {slug: (cost, low, high, free_over) for slug, _, cost, low, high, free_over in CATALOG_OPTIONS}


def _tracking_number(rng: random.Random, carrier: str) -> str:
    digits = lambda n: "".join(rng.choice("0123456789") for _ in range(n))  # noqa: E731 - a one-line helper read more easily inline
    if carrier == "UPS":
        return "1Z" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(6)) + digits(10)
    if carrier == "FedEx":
        return digits(12)
    if carrier == "USPS":
        return "9400" + digits(18)
    return digits(10)


def _uniform_time(rng: random.Random, start: datetime, end: datetime) -> datetime:
    seconds = max((end - start).total_seconds(), 1.0)
    return start + timedelta(seconds=int(rng.uniform(0, seconds)))


def _hours(rng: random.Random, low: float, high: float) -> timedelta:
    """A random span between ``low`` and ``high`` hours, in whole seconds."""
    return timedelta(seconds=int(rng.uniform(low * 3600, high * 3600)))


def _chunks(rows: Sequence[dict[str, Any]]) -> Iterable[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]


class _Sampler:
    """Products drawn with fixed weights (cumulative sums and bisection)."""

    def __init__(self, products: Sequence["Product"], weights: Sequence[float]) -> None:
        self.products = products
        self.cumulative = list(itertools.accumulate(weights))
        self.total = self.cumulative[-1]

    def draw(self, rng: random.Random) -> "Product":
        return self.products[bisect.bisect_right(self.cumulative, rng.random() * self.total)]


@dataclass
class _Shopper:
    id: str
    created_at: datetime
    address: str
    primary: int
    secondary: int
    activity: float
    orders: int = 0


# --- the generator --------------------------------------------------------------------------------


class _Generator:
    """Builds every row in memory (plain dicts for bulk inserts), then writes them in one transaction."""

    def __init__(self, products: Sequence["Product"], seed: int, today: date, currency: str) -> None:
        self.rng = random.Random(seed)
        self.products = list(products)
        self.today = today
        self.now = datetime.combine(today, time(0, 0))
        self.start = self.now - timedelta(days=365)
        self.currency = currency
        self.shipping = _shipping_options()
        self.customers: list[dict[str, Any]] = []
        self.orders: list[dict[str, Any]] = []
        self.lines: list[dict[str, Any]] = []
        self.shipments: list[dict[str, Any]] = []
        self.returns: list[dict[str, Any]] = []
        self.interactions: list[dict[str, Any]] = []
        self._build_samplers()

    # products and tastes
    def _build_samplers(self) -> None:
        rng = self.rng
        by_category: dict[str, list[float]] = {}
        for p in self.products:
            by_category.setdefault(p.category.slug, []).append(float(p.price))
        median = {slug: sorted(prices)[len(prices) // 2] for slug, prices in by_category.items()}
        popularity = [math.sqrt(p.review_count + 10) * (float(p.rating) / 4.0) ** 2 for p in self.products]
        self.samplers: list[_Sampler] = []
        self.affinity: list[dict[str, float]] = []
        self.taste: list[dict[str, float]] = []
        for kind in SHOPPER_TYPES:
            top = max(kind.categories.values())
            taste = {p.id: rng.lognormvariate(0.0, 0.8) for p in self.products}
            weights = [
                (kind.categories.get(p.category.slug, 0.0) + 0.05)
                * popularity[i]
                * taste[p.id]
                * (float(p.price) / median[p.category.slug]) ** (-kind.price_sensitivity)
                for i, p in enumerate(self.products)
            ]
            self.samplers.append(_Sampler(self.products, weights))
            self.affinity.append({slug: w / top for slug, w in kind.categories.items()})
            self.taste.append(taste)

    # customers
    def _address(self) -> str:
        rng = self.rng
        return (f"{rng.randint(1, 999)} {rng.choice(STREETS)} {rng.choice(STREET_KINDS)}, "
                f"{rng.choice(CITIES)} {rng.randint(10000, 99999)}")

    def make_customers(self, count: int) -> list[_Shopper]:
        rng = self.rng
        shoppers: list[_Shopper] = []
        type_index = {kind.name: i for i, kind in enumerate(SHOPPER_TYPES)}
        for number, (cid, name, email, address, kind_name) in enumerate(DEMO_CUSTOMERS):
            created = self.now - timedelta(days=400 + 30 * number)
            self.customers.append({"id": cid, "name": name, "email": email, "created_at": created, "address": address})
            kind = type_index[kind_name]
            shoppers.append(_Shopper(cid, created, address, kind, kind, 0.0))
        shares = [kind.share for kind in SHOPPER_TYPES]
        for number in range(len(DEMO_CUSTOMERS) + 1, count + 1):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            cid = f"C{number:04d}"
            local = "".join(c for c in f"{first}.{last}".lower() if c.isascii() and (c.isalnum() or c == "."))
            email = f"{local}.{number:04d}@example.{rng.choice(('com', 'net', 'org'))}"
            if rng.random() < 0.7:
                created = _uniform_time(rng, self.now - timedelta(days=3 * 365), self.start)
            else:
                created = _uniform_time(rng, self.start, self.now - timedelta(days=1))
            primary = rng.choices(range(len(SHOPPER_TYPES)), weights=shares)[0]
            secondary = rng.randrange(len(SHOPPER_TYPES)) if rng.random() < 0.35 else primary
            active_days = (self.now - max(created, self.start)).total_seconds() / 86400
            activity = min(rng.paretovariate(1.8), 6.0) * active_days / 365
            address = self._address()
            self.customers.append({"id": cid, "name": f"{first} {last}", "email": email, "created_at": created,
                                   "address": address})
            shoppers.append(_Shopper(cid, created, address, primary, secondary, activity))
        return shoppers

    # orders
    def _lines(self, kind: int, count: int) -> list[tuple["Product", int]]:
        rng = self.rng
        chosen: dict[str, tuple["Product", int]] = {}
        for _ in range(count * 4):
            if len(chosen) == count:
                break
            product = self.samplers[kind].draw(rng)
            if product.id not in chosen:
                bulk = product.category.slug in ("t-shirts", "skincare")
                chosen[product.id] = (product, rng.choices((1, 2, 3), weights=(70, 22, 8))[0] if bulk else
                                      rng.choices((1, 2), weights=(94, 6))[0])
        return list(chosen.values())

    def _add_order(self, order_id: str, shopper: _Shopper, placed: datetime,
                   items: list[tuple["Product", int]], option: str, address: str) -> dict[str, Any]:
        subtotal = sum((p.price * q for p, q in items), Decimal("0"))
        cost, _, _, free_over = self.shipping[option]
        shipping_cost = Decimal("0.00") if free_over is not None and subtotal >= free_over else cost
        order = {"id": order_id, "customer_id": shopper.id, "placed_at": placed, "status": "processing",
                 "shipping_address": address, "shipping_option": option, "shipping_cost": _money(shipping_cost),
                 "total": _money(subtotal + shipping_cost), "currency": self.currency}
        self.orders.append(order)
        for product, quantity in items:
            self.lines.append({"order_id": order_id, "product_id": product.id, "product_name": product.name,
                               "quantity": quantity, "unit_price": _money(product.price)})
        return order

    def _ship(self, order: dict[str, Any], shipped: datetime, delivered: Optional[datetime],
              carrier: str, tracking: str, expected: date) -> None:
        self.shipments.append({"order_id": order["id"], "carrier": carrier, "tracking_number": tracking,
                               "shipped_at": shipped, "expected_delivery": expected,
                               "delivered_at": delivered})

    def _interact(self, customer: str, product: str, kind: str, value: float, at: datetime) -> None:
        self.interactions.append({"customer_id": customer, "product_id": product, "kind": kind,
                                  "value": float(value), "at": at})

    def _rating(self, kind: int, product: "Product", returned: bool) -> int:
        rng = self.rng
        score = (2.6 + 1.3 * self.affinity[kind].get(product.category.slug, 0.0)
                 + 0.6 * math.log(self.taste[kind][product.id]) + 0.8 * (float(product.rating) - 4.0)
                 + rng.gauss(0.0, 0.7) - (1.6 if returned else 0.0))
        return int(min(max(round(score), 1), 5))

    def make_orders(self, shoppers: list[_Shopper], count: int) -> None:
        rng = self.rng
        regulars = shoppers[len(DEMO_CUSTOMERS):]
        owners = rng.choices(regulars, weights=[s.activity for s in regulars], k=count)
        planned = []
        for shopper in owners:
            shopper.orders += 1
            placed = _uniform_time(rng, max(shopper.created_at, self.start), self.now - timedelta(minutes=5))
            planned.append((placed, shopper))
        planned.sort(key=lambda item: (item[0], item[1].id))
        numbers = sorted(rng.sample(range(100100, 1000000), count))
        for number, (placed, shopper) in zip(numbers, planned):
            self._random_order(f"SB-{number}", shopper, placed)
        for shopper in regulars:
            if shopper.orders == 0:  # browsers: a few views, no orders
                sampler = self.samplers[shopper.primary]
                for _ in range(rng.randint(2, 10)):
                    at = _uniform_time(rng, max(shopper.created_at, self.start), self.now)
                    self._interact(shopper.id, sampler.draw(rng).id, "view", 1.0, at)

    def _random_order(self, order_id: str, shopper: _Shopper, placed: datetime) -> None:
        rng = self.rng
        kind = shopper.primary if rng.random() < 0.8 else shopper.secondary
        items = self._lines(kind, rng.choices((1, 2, 3, 4), weights=(55, 28, 12, 5))[0])
        roll = rng.random()
        express = SHOPPER_TYPES[kind].express_share
        option = "pickup" if roll < PICKUP_SHARE else "express" if roll < PICKUP_SHARE + express else "standard"
        address = shopper.address if rng.random() < 0.95 else self._address()
        order = self._add_order(order_id, shopper, placed, items, option, address)
        self._browse(shopper, kind, placed, items)
        if rng.random() < CANCEL_RATE:
            order["status"] = "cancelled"
            return
        for product, quantity in items:
            self._interact(shopper.id, product.id, "purchase", quantity, placed)
        _, low, high, _ = self.shipping[option]
        shipped = placed + (_hours(rng, 2, 20) if option == "express" else _hours(rng, 4, 52))
        if shipped >= self.now:
            return
        carrier = rng.choice(CARRIERS)
        expected = shipped.date() + timedelta(days=high)
        transit = rng.randint(low, high) + (rng.randint(1, 3) if rng.random() < LATE_RATE else 0)
        delivered = datetime.combine(shipped.date() + timedelta(days=transit), time(rng.randint(8, 19), rng.randint(0, 59)))
        if delivered >= self.now:
            order["status"] = "shipped"
            self._ship(order, shipped, None, carrier, _tracking_number(rng, carrier), expected)
            return
        order["status"] = "delivered"
        self._ship(order, shipped, delivered, carrier, _tracking_number(rng, carrier), expected)
        returned_at = None
        if rng.random() < RETURN_RATE:
            candidate = delivered + _hours(rng, 24, 28 * 24)
            if candidate < self.now:
                returned_at = candidate
                age = self.now - candidate
                status = "requested" if age < timedelta(days=4) else "received" if age < timedelta(days=10) else "refunded"
                if status != "requested":
                    order["status"] = "returned"
                self.returns.append({"id": None, "order_id": order_id, "created_at": candidate,
                                     "reason": rng.choice(RETURN_REASONS), "status": status,
                                     "refund_amount": order["total"]})
        for product, _ in items:
            if rng.random() < 0.3:
                at = delivered + _hours(rng, 24, 20 * 24)
                if at < self.now:
                    self._interact(shopper.id, product.id, "rating",
                                   self._rating(kind, product, returned_at is not None), at)

    def _browse(self, shopper: _Shopper, kind: int, placed: datetime, items: list[tuple["Product", int]]) -> None:
        rng, sampler = self.rng, self.samplers[kind]
        floor = shopper.created_at
        for product, _ in items:
            for _ in range(rng.randint(1, 3)):
                self._interact(shopper.id, product.id, "view", 1.0, max(placed - _hours(rng, 0.1, 72), floor))
            self._interact(shopper.id, product.id, "cart", 1.0, max(placed - _hours(rng, 2 / 60, 1.5), floor))
        for _ in range(rng.randint(1, 5)):
            product = sampler.draw(rng)
            at = max(placed - _hours(rng, 0, 96), floor)
            self._interact(shopper.id, product.id, "view", 1.0, at)
            if rng.random() < 0.12:
                self._interact(shopper.id, product.id, "cart", 1.0, at + _hours(rng, 1 / 60, 1 / 6))

    # the fixed demo orders
    def _pick(self, slug: str, index: int) -> "Product":
        for product in self.products:
            if product.category.slug == slug and product is not self.products[0]:
                return product
        return self.products[index % len(self.products)]

    def make_demo_orders(self, shoppers: list[_Shopper]) -> None:
        alex, sam = shoppers[0], shoppers[1]
        day = lambda n, hour=10, minute=0: datetime.combine(self.today - timedelta(days=n), time(hour, minute))  # noqa: E731 - a one-line helper read more easily inline
        watch = self._pick("smartwatches", 4)
        plans = [  # order, shopper, placed, items, option, (shipped, delivered, expected) or None
            ("SB-100001", alex, day(1, 10, 15), [(self.products[0], 1), (self._pick("t-shirts", 1), 2)], "standard",
             None),
            ("SB-100002", alex, day(4, 9, 12), [(self._pick("headphones", 2), 1)], "standard",
             (day(3, 16, 40), None, self.today + timedelta(days=2))),
            ("SB-100003", alex, day(16, 19, 3), [(self._pick("backpacks", 3), 1)], "standard",
             (day(15, 11, 20), day(10, 14, 30), self.today - timedelta(days=10))),
            ("SB-100004", alex, day(66, 8, 47), [(watch, 1)], "standard",
             (day(65, 15, 5), day(60, 11, 5), self.today - timedelta(days=60))),
            ("SB-100005", sam, day(1, 18, 40), [(self._pick("coffee-makers", 5), 1)], "pickup", None),
        ]
        for order_id, shopper, placed, items, option, shipment in plans:
            fact = DEMO_ORDERS[order_id]
            order = self._add_order(order_id, shopper, placed, items, option, shopper.address)
            order["status"] = fact.status
            if shipment is not None:
                shipped, delivered, expected = shipment
                self._ship(order, shipped, delivered, fact.carrier or "", fact.tracking_number or "", expected)
            for product, quantity in items:
                self._interact(shopper.id, product.id, "view", 1.0, placed - timedelta(hours=2))
                self._interact(shopper.id, product.id, "purchase", quantity, placed)
        self._interact(alex.id, watch.id, "rating", 5.0, day(55, 20, 0))

    def finish(self) -> None:
        """Number the returns in time order and put the interaction log in time order."""
        self.returns.sort(key=lambda row: (row["created_at"], row["order_id"]))
        numbers = sorted(self.rng.sample(range(100100, 1000000), len(self.returns)))
        for number, row in zip(numbers, self.returns):
            row["id"] = f"RT-{number}"
        self.interactions.sort(key=lambda row: row["at"])

    def write(self, connection: Connection) -> dict[str, int]:
        tables = (
            (Customer.__table__, self.customers), (Order.__table__, self.orders),
            (OrderLine.__table__, self.lines), (Shipment.__table__, self.shipments),
            (Return.__table__, self.returns), (Interaction.__table__, self.interactions),
        )
        for table, rows in tables:
            for chunk in _chunks(rows):
                connection.execute(insert(table), list(chunk))
        return {table.name: len(rows) for table, rows in tables}


def generate_shop(
    db: Union[str, URL, ShopDB],
    products: Sequence["Product"],
    seed: int = SEED,
    today: date = TODAY,
    customers: int = CUSTOMERS,
    orders: int = ORDERS,
    currency: str = "USD",
    replace: bool = False,
) -> dict[str, int]:
    """Fill the shop database with customers, orders, shipments, returns and interactions; return row counts.

    ``customers`` and ``orders`` include the two demo customers and their five orders. The same
    ``products``, ``seed``, ``today`` and sizes always give the same rows. A database that already holds
    customers or orders raises :class:`DatabaseNotEmpty` unless ``replace`` is true (then the shop tables
    are dropped and made again).
    """
    if not products:
        raise ValueError("products must not be empty")
    if customers < len(DEMO_CUSTOMERS) + 1:
        raise ValueError(f"customers must be at least {len(DEMO_CUSTOMERS) + 1}")
    if not len(DEMO_ORDERS) <= orders <= MAX_ORDERS:
        raise ValueError(f"orders must be between {len(DEMO_ORDERS)} and {MAX_ORDERS}")
    shop = connect(db) if not isinstance(db, ShopDB) else db
    try:
        if not shop.is_empty():
            if not replace:
                raise DatabaseNotEmpty(f"{shop.url} already holds a shop (use replace=True / --force)")
            drop_schema(shop.engine)
        ensure_schema(shop.engine)
        generator = _Generator(products, seed, today, currency)
        shoppers = generator.make_customers(customers)
        generator.make_demo_orders(shoppers)
        generator.make_orders(shoppers, orders - len(DEMO_ORDERS))
        generator.finish()
        indexes = [index for table in TABLES for index in table.indexes]
        with shop.engine.begin() as connection:  # indexes are built after the bulk insert: faster
            for index in indexes:
                index.drop(connection)
            counts = generator.write(connection)
            for index in indexes:
                index.create(connection)
        return counts
    finally:
        if shop is not db:
            shop.dispose()
