"""The demo store: a deterministic product catalog, store policies and product images."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Callable, Iterator

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, RDFS, XSD

from knowledge.namespaces import BRAND, CATEGORY, POLICY, PREFIXES, SCHEMA, SHOP, product_iri

SEED = 20261129


@dataclass(frozen=True)
class CategorySpec:
    """How the products of one category are made up."""

    slug: str
    label: str
    noun: str
    synonyms: tuple[str, ...]
    models: tuple[str, ...]
    variants: tuple[str, ...]
    colors: tuple[str, ...]
    materials: tuple[str, ...]
    sizes: tuple[str, ...]
    price_range: tuple[int, int]
    blurb: str
    features: dict[str, str] = field(hash=False)  # what each variant is good for, a sentence each
    weight_range: tuple[int, int] = (100, 1000)  # grams


CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec(
        "running-shoes", "Running Shoes", "Running Shoe",
        ("running shoes", "running shoe", "sneakers", "trainers", "runners", "shoes"),
        ("Trailblazer", "Velocity", "Cloudrunner", "Tempo", "Pacer", "Stride", "Aero", "Summit", "Ridge", "Glide"),
        ("GTX", "Trail", "Road", "Lite", "Pro"),
        ("red", "black", "white", "blue", "grey", "green", "orange"),
        ("mesh", "knit", "synthetic", "leather"),
        ("6", "7", "8", "9", "10", "11", "12"),
        (60, 180),
        "A responsive running shoe with a cushioned midsole and a grippy outsole.",
        {"GTX": "A waterproof Gore-Tex membrane keeps feet dry on wet trails and winter runs.",
         "Trail": "Deep lugs and a rock plate grip on muddy trails, for trail running and hiking.",
         "Road": "A smooth, cushioned ride for road running, daily training and marathons.",
         "Lite": "Ultra lightweight and breathable, built for fast tempo runs and races.",
         "Pro": "A carbon plate and responsive foam for race day and personal bests."},
        (180, 380),
    ),
    CategorySpec(
        "jackets", "Jackets", "Jacket",
        ("jackets", "jacket", "coats", "coat", "rain jacket", "parka"),
        ("Nordwand", "Stormshell", "Cascade", "Fjell", "Drizzle", "Alpine", "Harbor", "Tundra"),
        ("Insulated", "Rain", "Softshell", "Down", "Windbreaker"),
        ("black", "navy", "olive", "red", "yellow", "grey"),
        ("nylon", "polyester", "down", "gore-tex", "fleece"),
        ("XS", "S", "M", "L", "XL", "XXL"),
        (70, 320),
        "A weather-ready jacket with taped seams, adjustable hood and zip pockets.",
        {"Insulated": "Synthetic insulation keeps you warm on cold winter days, even when damp.",
         "Rain": "Fully waterproof and breathable shell for hiking and walking in heavy rain.",
         "Softshell": "Stretchy, wind-resistant and water-repellent, made for climbing and hiking.",
         "Down": "Warm, packable goose-down fill for cold, dry city winters; not waterproof.",
         "Windbreaker": "A light, packable wind shell for running and cycling on breezy days."},
        (250, 1100),
    ),
    CategorySpec(
        "t-shirts", "T-Shirts", "T-Shirt",
        ("t-shirts", "t-shirt", "tshirt", "tshirts", "tee", "tees", "shirts", "shirt"),
        ("Essential", "Everyday", "Crew", "Vintage", "Breeze", "Canvas", "Studio", "Sunday"),
        ("Organic", "Graphic", "Slim", "Relaxed", "Tech"),
        ("white", "black", "navy", "grey", "green", "red", "pink"),
        ("cotton", "organic cotton", "linen", "polyester", "merino"),
        ("XS", "S", "M", "L", "XL"),
        (12, 45),
        "A soft everyday tee with a classic fit that keeps its shape wash after wash.",
        {"Organic": "Made from certified organic fibres, a sustainable everyday choice.",
         "Graphic": "Printed with a bold graphic design on the front.",
         "Slim": "A slim, tailored fit that looks sharp under a jacket.",
         "Relaxed": "A loose, relaxed fit for lounging and weekends.",
         "Tech": "Quick-drying, moisture-wicking fabric for running, workouts and the gym."},
        (120, 260),
    ),
    CategorySpec(
        "backpacks", "Backpacks", "Backpack",
        ("backpacks", "backpack", "rucksack", "rucksacks", "daypack", "bags", "bag"),
        ("Rover", "Nomad", "Transit", "Basecamp", "Metro", "Voyager", "Scout", "Atlas"),
        ("20L", "30L", "Laptop", "Travel", "Rolltop"),
        ("black", "grey", "navy", "green", "orange", "brown"),
        ("nylon", "canvas", "polyester", "leather"),
        (),
        (35, 190),
        "A durable backpack with a padded laptop sleeve and a water-resistant base.",
        {"20L": "A compact 20-litre daypack for the city and short walks.",
         "30L": "A roomy 30-litre pack with hip belt for day hikes and weekend trips.",
         "Laptop": "A padded compartment fits a 16-inch laptop, for work, school and commuting.",
         "Travel": "Carry-on sized with lockable zips and a clamshell opening, made for air travel.",
         "Rolltop": "A waterproof roll-top closure keeps gear dry when cycling in the rain."},
        (500, 1600),
    ),
    CategorySpec(
        "headphones", "Headphones", "Headphones",
        ("headphones", "headphone", "earbuds", "earphones", "headset", "cans"),
        ("Sonic", "Echo", "Pulse", "Quietwave", "Bassline", "Aria", "Nova", "Studio"),
        ("ANC", "Wireless", "Sport", "Over-Ear", "Mini"),
        ("black", "white", "silver", "blue", "rose"),
        ("plastic", "aluminium", "leather"),
        (),
        (25, 380),
        "Wireless headphones with rich sound, long battery life and comfortable ear cushions.",
        {"ANC": "Active noise cancelling blocks out engines and chatter on flights and commutes.",
         "Wireless": "Bluetooth wireless with a 30-hour battery for all-day listening.",
         "Sport": "Sweat-resistant with a secure fit for running, workouts and the gym.",
         "Over-Ear": "Over-ear cups with a wide, detailed soundstage for music at home and studio work.",
         "Mini": "Tiny true wireless earbuds in a pocket-sized charging case."},
        (5, 350),
    ),
    CategorySpec(
        "smartwatches", "Smartwatches", "Smartwatch",
        ("smartwatches", "smartwatch", "smart watch", "watches", "watch", "fitness tracker"),
        ("Chrono", "Vital", "Orbit", "Pulse", "Horizon", "Apex", "Tracker", "Zenith"),
        ("GPS", "LTE", "Active", "Classic", "Sport"),
        ("black", "silver", "gold", "blue", "rose", "green"),
        ("aluminium", "stainless steel", "titanium", "silicone"),
        ("40mm", "44mm"),
        (79, 499),
        "A smartwatch with heart-rate tracking, GPS workouts and notifications on your wrist.",
        {"GPS": "Built-in GPS maps runs, rides and hikes without your phone.",
         "LTE": "Calls, messages and music over LTE, even when your phone stays at home.",
         "Active": "Swim-proof fitness tracking with sleep, steps and heart-rate zones.",
         "Classic": "An elegant classic design that suits the office and evenings out.",
         "Sport": "A rugged, shock-resistant case for sports, mountains and outdoor adventures."},
        (30, 90),
    ),
    CategorySpec(
        "coffee-makers", "Coffee Makers", "Coffee Maker",
        ("coffee makers", "coffee maker", "coffee machine", "espresso machine", "coffee machines", "brewer"),
        ("Barista", "Morning", "Crema", "Roastery", "Drip", "Percolo", "Bean", "Aroma"),
        ("Espresso", "Drip", "Pour-Over", "Pod", "French Press"),
        ("black", "silver", "red", "white", "copper"),
        ("stainless steel", "plastic", "glass", "aluminium"),
        (),
        (29, 650),
        "A coffee maker that brews a full-bodied cup with precise temperature control.",
        {"Espresso": "A 15-bar pump and steam wand for espresso, lattes and cappuccinos with milk foam.",
         "Drip": "Brews a full 12-cup carafe with a programmable timer, for families and offices.",
         "Pour-Over": "A manual pour-over brewer for one clean, bright cup at a time.",
         "Pod": "Single-serve capsules brew a cup in one touch, quick and easy.",
         "French Press": "No electricity needed: a rich, full-bodied press that travels to the campsite."},
        (400, 9000),
    ),
    CategorySpec(
        "skincare", "Skincare", "Cream",
        ("skincare", "skin care", "moisturizer", "moisturiser", "cream", "lotion", "serum"),
        ("Hydra", "Glow", "Calm", "Pure", "Velvet", "Dew", "Bloom", "Clear"),
        ("Day", "Night", "SPF 30", "Sensitive", "Repair"),
        ("white", "pink", "green", "blue"),
        ("aloe", "shea butter", "hyaluronic acid", "vitamin c"),
        ("50ml", "100ml"),
        (9, 85),
        "A gentle skincare formula that hydrates and soothes without a greasy feel.",
        {"Day": "A light daily moisturiser that absorbs quickly under make-up.",
         "Night": "A rich overnight cream that repairs and restores while you sleep.",
         "SPF 30": "Broad-spectrum SPF 30 sun protection for every day outdoors.",
         "Sensitive": "Fragrance-free and hypoallergenic, gentle on sensitive and reactive skin.",
         "Repair": "An anti-ageing formula that smooths fine lines and wrinkles."},
        (60, 160),
    ),
    CategorySpec(
        "yoga-mats", "Yoga Mats", "Yoga Mat",
        ("yoga mats", "yoga mat", "exercise mat", "mats", "mat"),
        ("Lotus", "Balance", "Flow", "Grounded", "Zen", "Asana", "Namaste", "Core"),
        ("Pro", "Travel", "Thick", "Eco", "Grip"),
        ("purple", "blue", "green", "black", "pink", "grey"),
        ("natural rubber", "cork", "tpe", "pvc"),
        ("4mm", "6mm"),
        (19, 120),
        "A non-slip yoga mat with a cushioned surface for stable poses.",
        {"Pro": "Extra dense and durable for daily practice and studio teachers.",
         "Travel": "Thin, foldable and very light, packs into a suitcase for yoga on the road.",
         "Thick": "Extra cushioning protects knees and joints, great for pilates and beginners.",
         "Eco": "Eco-friendly and biodegradable, free of PVC and toxins.",
         "Grip": "A sticky non-slip surface that holds in sweaty hot yoga."},
        (900, 3000),
    ),
    CategorySpec(
        "sunglasses", "Sunglasses", "Sunglasses",
        ("sunglasses", "shades", "sunnies", "glasses"),
        ("Solstice", "Horizon", "Coast", "Aviator", "Wayfarer", "Riviera", "Glacier", "Vista"),
        ("Polarized", "Sport", "Classic", "Round", "Mirror"),
        ("black", "brown", "gold", "silver", "blue"),
        ("acetate", "metal", "titanium", "polycarbonate"),
        (),
        (25, 240),
        "Sunglasses with UV400 lenses and a lightweight frame that fits all day.",
        {"Polarized": "Polarized lenses cut glare from water and roads, ideal for driving and fishing.",
         "Sport": "A wraparound frame that stays put for cycling, running and skiing.",
         "Classic": "A timeless classic frame that goes with everything.",
         "Round": "Retro round lenses with a vintage look.",
         "Mirror": "Mirrored lenses for bright beaches, snow and mountains."},
        (20, 45),
    ),
)

BRANDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Stridewell", ("running-shoes",)),
    ("Peakform", ("running-shoes", "jackets")),
    ("Fleetfoot", ("running-shoes",)),
    ("Northpeak", ("jackets", "backpacks")),
    ("Rainshield", ("jackets",)),
    ("Urban Thread", ("t-shirts", "jackets")),
    ("Cottonfield", ("t-shirts",)),
    ("Basic Loom", ("t-shirts",)),
    ("Trailpack", ("backpacks",)),
    ("Carryall", ("backpacks",)),
    ("Soundcore Labs", ("headphones",)),
    ("Auralux", ("headphones",)),
    ("Beatline", ("headphones", "smartwatches")),
    ("Tempus", ("smartwatches",)),
    ("Wristlogic", ("smartwatches",)),
    ("Brewster", ("coffee-makers",)),
    ("Caffeo", ("coffee-makers",)),
    ("Kettleworks", ("coffee-makers",)),
    ("Lumiere", ("skincare",)),
    ("Dermaleaf", ("skincare",)),
    ("Purely", ("skincare", "yoga-mats")),
    ("Zenflow", ("yoga-mats",)),
    ("Matterra", ("yoga-mats",)),
    ("Sunward", ("sunglasses",)),
    ("Opticoast", ("sunglasses",)),
    ("Glarestop", ("sunglasses", "smartwatches")),
    ("Everyday Co", ("t-shirts", "backpacks", "sunglasses")),
    ("Orbit Audio", ("headphones",)),
)

PRODUCTS_PER_CATEGORY = 32

# The one product every example in the docs and tests starts from.
HERO = {"name": "Trailblazer 2 GTX Running Shoe", "brand": "Stridewell", "price": Decimal("129.00"),
        "colors": ("red", "black"), "material": "mesh", "stock": 42}


@dataclass(frozen=True)
class Product:
    """One product of the demo store."""

    id: str
    name: str
    alt_names: tuple[str, ...]
    brand: str
    category: CategorySpec
    price: Decimal
    colors: tuple[str, ...]
    sizes: tuple[str, ...]
    material: str
    description: str
    stock: int
    rating: Decimal
    review_count: int
    weight: int = 0  # grams


LIGHTER = {"Lite": 0.7, "Travel": 0.6, "Mini": 0.1, "Windbreaker": 0.5, "Pour-Over": 0.15, "French Press": 0.2,
           "20L": 0.7, "Down": 0.7, "Sport": 0.9, "Pro": 1.1, "Thick": 1.3, "Over-Ear": 1.0, "Espresso": 1.0}


def describe(spec: CategorySpec, line: str, variant: str, brand: str) -> str:
    """A product's description: what its category is, what its variant is good for, and its line and brand."""
    return f"{spec.blurb} {spec.features.get(variant, '')} The {line} {variant} by {brand}.".replace("  ", " ")


def weight_grams(spec: CategorySpec, variant: str, name: str) -> int:
    """A plausible weight in grams for a product, the same for the same name (its own random draw)."""
    low, high = spec.weight_range
    draw = random.Random(f"weight:{name}").uniform(low, high)
    return int(round(min(max(draw * LIGHTER.get(variant, 1.0), low * 0.5), high)))


def slugify(text: str) -> str:
    """A lowercase, dash-separated form of a name for use in IRIs."""
    return "-".join("".join(c if c.isalnum() else " " for c in text.lower()).split())


def _alt_names(model: str, version: int, variant: str, noun: str, brand: str) -> tuple[str, ...]:
    base = f"{model} {version}".lower()
    names = [base, f"{base} {variant}".lower(), f"{brand} {base}".lower(), f"{model} {version} {noun}".lower()]
    return tuple(dict.fromkeys(names))


def _category_products(spec: CategorySpec, rng: random.Random, next_id: Callable[[], str]) -> Iterator[Product]:
    brands = [name for name, cats in BRANDS if spec.slug in cats]
    seen: set[str] = set()
    while len(seen) < PRODUCTS_PER_CATEGORY:
        model, version, variant = rng.choice(spec.models), rng.randint(1, 5), rng.choice(spec.variants)
        name = f"{model} {version} {variant} {spec.noun}"
        if name in seen or name.startswith("Trailblazer 2 "):
            continue
        seen.add(name)
        brand = rng.choice(brands)
        low, high = spec.price_range
        price = Decimal(rng.randint(low, high)) - Decimal("0.01") * rng.choice((0, 1, 5))
        colors = tuple(sorted(rng.sample(spec.colors, rng.randint(1, 3))))
        yield Product(
            id=next_id(),
            name=name,
            alt_names=_alt_names(model, version, variant, spec.noun, brand),
            brand=brand,
            category=spec,
            price=price.quantize(Decimal("0.01")),
            colors=colors,
            sizes=spec.sizes,
            material=rng.choice(spec.materials),
            description=describe(spec, f"{model} {version}", variant, brand),
            stock=rng.choice((0, 0, 3, 8, 15, 27, 40, 64, 120)),
            rating=Decimal(str(round(rng.uniform(3.0, 5.0), 1))),
            review_count=rng.randint(0, 900),
            weight=weight_grams(spec, variant, name),
        )


def generate_products(seed: int = SEED) -> list[Product]:
    """All products of the demo store, the same for the same seed."""
    rng = random.Random(seed)
    counter = iter(range(1, 1_000_000))

    def next_id() -> str:
        return f"P{next(counter):04d}"

    shoes = CATEGORIES[0]
    hero = Product(
        id=next_id(), name=HERO["name"],
        alt_names=("trailblazer 2", "trailblazer 2 gtx", "stridewell trailblazer 2", "trailblazer 2 running shoe"),
        brand=HERO["brand"], category=shoes, price=HERO["price"], colors=HERO["colors"], sizes=shoes.sizes,
        material=HERO["material"], description=describe(shoes, "Trailblazer 2", "GTX", HERO["brand"]),
        stock=HERO["stock"], rating=Decimal("4.6"), review_count=312, weight=310,
    )
    products = [hero]
    for spec in CATEGORIES:
        products.extend(_category_products(spec, rng, next_id))
    return _unique_alt_names(products)


def _unique_alt_names(products: list[Product]) -> list[Product]:
    """Products whose alternative names name them alone: shared ones are dropped."""
    counts = Counter(alt for product in products for alt in product.alt_names)
    return [replace(p, alt_names=tuple(a for a in p.alt_names if counts[a] == 1)) for p in products]


def _add_product(graph: Graph, product: Product) -> None:
    node = product_iri(product.id)
    offer = URIRef(f"{node}-offer")
    rating = URIRef(f"{node}-rating")
    graph.add((node, RDF.type, SCHEMA.Product))
    graph.add((node, SCHEMA.productID, Literal(product.id)))
    graph.add((node, SCHEMA.name, Literal(product.name)))
    for alt in product.alt_names:
        graph.add((node, SCHEMA.alternateName, Literal(alt)))
    graph.add((node, SCHEMA.brand, BRAND[slugify(product.brand)]))
    graph.add((node, SCHEMA.category, CATEGORY[product.category.slug]))
    graph.add((node, SCHEMA.description, Literal(product.description)))
    graph.add((node, SCHEMA.material, Literal(product.material)))
    for color in product.colors:
        graph.add((node, SCHEMA.color, Literal(color)))
    for size in product.sizes:
        graph.add((node, SCHEMA.size, Literal(size)))
    graph.add((node, SHOP.stockLevel, Literal(product.stock, datatype=XSD.integer)))
    if product.weight:
        graph.add((node, SHOP.weightGrams, Literal(product.weight, datatype=XSD.integer)))
    graph.add((node, SCHEMA.image, Literal(f"/static/products/{product.id}.svg", datatype=XSD.anyURI)))
    graph.add((node, SCHEMA.offers, offer))
    graph.add((offer, RDF.type, SCHEMA.Offer))
    graph.add((offer, SCHEMA.price, Literal(product.price, datatype=XSD.decimal)))
    graph.add((offer, SCHEMA.priceCurrency, Literal("USD")))
    graph.add((node, SCHEMA.aggregateRating, rating))
    graph.add((rating, RDF.type, SCHEMA.AggregateRating))
    graph.add((rating, SCHEMA.ratingValue, Literal(product.rating, datatype=XSD.decimal)))
    graph.add((rating, SCHEMA.reviewCount, Literal(product.review_count, datatype=XSD.integer)))


def _add_taxonomy(graph: Graph) -> None:
    for spec in CATEGORIES:
        node = CATEGORY[spec.slug]
        graph.add((node, RDF.type, SHOP.Category))
        graph.add((node, SCHEMA.name, Literal(spec.label)))
        for synonym in spec.synonyms:
            graph.add((node, SHOP.synonym, Literal(synonym)))
    for name, _ in BRANDS:
        node = BRAND[slugify(name)]
        graph.add((node, RDF.type, SCHEMA.Brand))
        graph.add((node, SCHEMA.name, Literal(name)))


SHIPPING_OPTIONS = (
    ("standard", "Standard shipping", Decimal("4.95"), 3, 5, Decimal("50.00")),
    ("express", "Express shipping", Decimal("12.95"), 1, 2, None),
    ("pickup", "Click and collect", Decimal("0.00"), 1, 1, None),
)
PAYMENT_METHODS = ("Visa", "Mastercard", "American Express", "PayPal", "Apple Pay", "Google Pay", "Gift card")


def _add_policies(graph: Graph) -> None:
    store = SHOP.store
    graph.add((store, RDF.type, SCHEMA.OnlineStore))
    graph.add((store, SCHEMA.name, Literal("Shopbot Demo Store")))
    graph.add((store, SCHEMA.email, Literal("help@shop.example")))
    graph.add((store, SHOP.contactHours, Literal("Monday to Friday, 9:00 to 18:00 CET")))
    graph.add((store, SHOP.timeZone, Literal("Europe/Berlin")))
    hours = POLICY["hours-weekdays"]  # the same hours, machine-readable (knowledge/hours.py)
    graph.add((hours, RDF.type, SCHEMA.OpeningHoursSpecification))
    for day in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday"):
        graph.add((hours, SCHEMA.dayOfWeek, SCHEMA[day]))
    graph.add((hours, SCHEMA.opens, Literal("09:00:00", datatype=XSD.time)))
    graph.add((hours, SCHEMA.closes, Literal("18:00:00", datatype=XSD.time)))
    graph.add((store, SCHEMA.openingHoursSpecification, hours))

    returns = POLICY.returns
    graph.add((returns, RDF.type, SHOP.ReturnPolicy))
    graph.add((returns, SHOP.returnWindowDays, Literal(30, datatype=XSD.integer)))
    graph.add((returns, SHOP.refundDays, Literal(5, datatype=XSD.integer)))
    graph.add((returns, SHOP.refundMethod, Literal("the original payment method")))
    graph.add((returns, SHOP.condition, Literal("unused, in the original packaging")))
    graph.add((returns, SHOP.freeReturns, Literal(True)))
    graph.add((store, SHOP.returnPolicy, returns))

    for slug, label, cost, min_days, max_days, free_over in SHIPPING_OPTIONS:
        option = POLICY[f"shipping-{slug}"]
        graph.add((option, RDF.type, SHOP.ShippingOption))
        graph.add((option, SCHEMA.name, Literal(label)))
        graph.add((option, SHOP.cost, Literal(cost, datatype=XSD.decimal)))
        graph.add((option, SHOP.minDays, Literal(min_days, datatype=XSD.integer)))
        graph.add((option, SHOP.maxDays, Literal(max_days, datatype=XSD.integer)))
        if free_over is not None:
            graph.add((option, SHOP.freeOver, Literal(free_over, datatype=XSD.decimal)))
        graph.add((store, SHOP.shippingOption, option))

    for method in PAYMENT_METHODS:
        node = POLICY[f"payment-{slugify(method)}"]
        graph.add((node, RDF.type, SHOP.PaymentMethod))
        graph.add((node, SCHEMA.name, Literal(method)))
        graph.add((store, SHOP.paymentMethod, node))

    warranty = POLICY.warranty
    graph.add((warranty, RDF.type, SHOP.WarrantyPolicy))
    graph.add((warranty, SHOP.warrantyYears, Literal(2, datatype=XSD.integer)))
    graph.add((warranty, RDFS.comment, Literal("Covers manufacturing defects; keep your order number as proof of purchase.")))
    graph.add((store, SHOP.warrantyPolicy, warranty))


def build_graph(products: list[Product]) -> Graph:
    """The demo store's graph: taxonomy, policies and products."""
    graph = Graph()
    for name, ns in PREFIXES.items():
        graph.bind(name, ns, override=True)
    _add_taxonomy(graph)
    _add_policies(graph)
    for product in products:
        _add_product(graph, product)
    return graph


PALETTE = {
    "red": "#d64545", "black": "#2d2d2d", "white": "#f4f4f4", "blue": "#3b6fd6", "grey": "#8a8f98",
    "green": "#3f9b5b", "orange": "#e98b2a", "navy": "#24345c", "olive": "#6b7440", "yellow": "#e8c631",
    "pink": "#e889b5", "brown": "#7b5637", "silver": "#c0c4cc", "rose": "#d9a0a0", "gold": "#c9a13b",
    "copper": "#b8733d", "purple": "#7d55c7",
}


def product_svg(product: Product) -> str:
    """A small SVG picture of a product: its colour, category and name."""
    from xml.sax.saxutils import escape

    fill = PALETTE.get(product.colors[0], "#999999")
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="320" height="240" viewBox="0 0 320 240">'
        f'<rect width="320" height="240" fill="#fafafa"/>'
        f'<rect x="40" y="30" width="240" height="130" rx="24" fill="{fill}"/>'
        f'<text x="160" y="105" font-family="sans-serif" font-size="22" fill="#ffffff" '
        f'text-anchor="middle">{escape(product.category.label)}</text>'
        f'<text x="160" y="195" font-family="sans-serif" font-size="15" fill="#333333" '
        f'text-anchor="middle">{escape(product.name[:38])}</text>'
        f'<text x="160" y="220" font-family="sans-serif" font-size="13" fill="#777777" '
        f'text-anchor="middle">{escape(product.brand)}</text></svg>'
    )


def write_store(store_dir: Path, seed: int = SEED) -> tuple[Path, int]:
    """Write the catalog (Turtle) and product images; return the catalog path and product count."""
    products = generate_products(seed)
    images = store_dir / "images"
    images.mkdir(parents=True, exist_ok=True)
    for product in products:
        (images / f"{product.id}.svg").write_text(product_svg(product), encoding="utf-8")
    catalog = store_dir / "catalog.ttl"
    build_graph(products).serialize(destination=str(catalog), format="turtle")
    return catalog, len(products)
