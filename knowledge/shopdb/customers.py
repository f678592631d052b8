"""Who shops here: the customers a demo store page offers to sign in as."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from knowledge.shopdb.engine import DB, session_scope
from knowledge.shopdb.models import Customer, Order


@dataclass(frozen=True)
class CustomerView:
    """A customer as a picker shows them."""

    id: str
    name: str
    email: str
    order_count: int


def list_customers(db: DB, limit: int = 5) -> list[CustomerView]:
    """The first customers by id, with how many orders each has."""
    with session_scope(db) as session:
        orders = select(func.count(Order.id)).where(Order.customer_id == Customer.id).scalar_subquery()
        rows = session.execute(
            select(Customer.id, Customer.name, Customer.email, orders).order_by(Customer.id).limit(limit)
        ).all()
    return [CustomerView(id, name, email, int(count)) for id, name, email, count in rows]
