"""Who shops here: the customers a demo store page offers to sign in as."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

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


def get_customer(db: DB, customer_id: Optional[str]) -> Optional[CustomerView]:
    """One customer with their number of orders, or None."""
    if not isinstance(customer_id, str) or not customer_id or len(customer_id) > 16:
        return None
    with session_scope(db) as session:
        orders = select(func.count(Order.id)).where(Order.customer_id == Customer.id).scalar_subquery()
        row = session.execute(
            select(Customer.id, Customer.name, Customer.email, orders).where(Customer.id == customer_id)
        ).first()
    return CustomerView(row[0], row[1], row[2], int(row[3])) if row else None
