"""Unit tests of knowledge.policies: store policies come from the graph, not from code."""

from __future__ import annotations

from decimal import Decimal

from rdflib import Literal
from rdflib.namespace import XSD

from knowledge.policies import payment_methods, return_policy, shipping_options, store_contact
from knowledge.sparql import HttpSparqlClient, render


def test_return_policy(kg: HttpSparqlClient) -> None:
    policy = return_policy(kg)
    assert policy is not None
    assert policy.window_days == 30
    assert policy.refund_days == 5
    assert policy.refund_method == "the original payment method"
    assert "unused" in policy.condition
    assert policy.free_returns is True


def test_shipping_options_sorted_by_cost(kg: HttpSparqlClient) -> None:
    options = shipping_options(kg)
    assert len(options) == 3
    costs = [option.cost for option in options]
    assert costs == sorted(costs)
    by_name = {option.name: option for option in options}
    standard = by_name["Standard shipping"]
    assert standard.cost == Decimal("4.95")
    assert (standard.min_days, standard.max_days) == (3, 5)
    assert standard.free_over == Decimal("50")
    assert by_name["Express shipping"].free_over is None
    assert by_name["Express shipping"].cost == Decimal("12.95")
    assert [option.name for option in options] == ["Click and collect", "Standard shipping", "Express shipping"]
    assert all(option.min_days <= option.max_days for option in options)


def test_payment_methods(kg: HttpSparqlClient) -> None:
    methods = payment_methods(kg)
    assert "Visa" in methods and "PayPal" in methods
    assert len(methods) == len(set(methods)) == 7
    assert methods == sorted(methods)


def test_store_contact(kg: HttpSparqlClient) -> None:
    contact = store_contact(kg)
    assert contact is not None
    assert contact.email == "help@shop.example"
    assert contact.name == "Shopbot Demo Store"
    assert contact.warranty_years == 2
    assert contact.hours
    assert "defects" in contact.warranty_terms


def test_return_window_comes_from_the_graph(fresh_kg: HttpSparqlClient) -> None:
    fresh_kg.update(render("DELETE WHERE { policy:returns shop:returnWindowDays ?d }"))
    assert return_policy(fresh_kg) is None
    fresh_kg.update(render("INSERT DATA { policy:returns shop:returnWindowDays $d }", d=Literal(45, datatype=XSD.integer)))
    policy = return_policy(fresh_kg)
    assert policy is not None and policy.window_days == 45


def test_shipping_edit_is_seen(fresh_kg: HttpSparqlClient) -> None:
    fresh_kg.update(render(
        "DELETE WHERE { policy:shipping-standard shop:cost ?c } ;\n"
        "INSERT DATA { policy:shipping-standard shop:cost $c }",
        c=Literal(Decimal("20.00"), datatype=XSD.decimal),
    ))
    options = shipping_options(fresh_kg)
    assert [option.name for option in options][-1] == "Standard shipping"
    assert options[-1].cost == Decimal("20.00")


def test_policies_restored_after_edits(kg: HttpSparqlClient) -> None:
    policy = return_policy(kg)
    assert policy is not None and policy.window_days == 30
    assert shipping_options(kg)[1].cost == Decimal("4.95")
