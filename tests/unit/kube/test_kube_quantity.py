"""Quantities as Kubernetes reads and writes them."""

from __future__ import annotations

from fractions import Fraction

import pytest

from liqo_core.kube.quantity import (
    BINARY_SI,
    DECIMAL_SI,
    Quantity,
    QuantityError,
    canonical_quantity,
    format_quantity,
    is_quantity,
    parse_quantity,
)


@pytest.mark.parametrize(
    ("text", "value", "canonical"),
    [
        ("0", Fraction(0), "0"),
        ("0m", Fraction(0), "0"),
        ("0Ki", Fraction(0), "0"),
        ("1", Fraction(1), "1"),
        ("+1", Fraction(1), "1"),
        ("-1", Fraction(-1), "-1"),
        ("1.5", Fraction(3, 2), "1500m"),
        (".5", Fraction(1, 2), "500m"),
        ("5.", Fraction(5), "5"),
        ("-0.5", Fraction(-1, 2), "-500m"),
        ("100m", Fraction(1, 10), "100m"),
        ("1000", Fraction(1000), "1k"),
        ("1500", Fraction(1500), "1500"),
        ("1.5k", Fraction(1500), "1500"),
        ("2M", Fraction(2 * 10**6), "2M"),
        ("1E", Fraction(10**18), "1E"),
        ("1000000000000000000000", Fraction(10**21), "1000E"),
        ("500n", Fraction(5, 10**7), "500n"),
        ("1u", Fraction(1, 10**6), "1u"),
        ("1n", Fraction(1, 10**9), "1n"),
        ("0.1n", Fraction(1, 10**9), "1n"),  # rounded up to the nano unit
        ("1.0000000001", Fraction(1_000_000_001, 10**9), "1000000001n"),
        ("1Ki", Fraction(1024), "1Ki"),
        ("1024", Fraction(1024), "1024"),
        ("1.5Ki", Fraction(1536), "1536"),
        ("0.5Ki", Fraction(512), "512"),
        ("1Mi", Fraction(2**20), "1Mi"),
        ("1024Mi", Fraction(2**30), "1Gi"),
        ("128Mi", Fraction(128 * 2**20), "128Mi"),
        ("1.5Gi", Fraction(3 * 2**29), "1536Mi"),
        ("0.5Gi", Fraction(2**29), "512Mi"),
        ("1024Ei", Fraction(2**70), "1024Ei"),
        ("1e3", Fraction(1000), "1e3"),
        ("1E3", Fraction(1000), "1e3"),
        ("1e-3", Fraction(1, 1000), "1e-3"),
        ("12e6", Fraction(12 * 10**6), "12e6"),
        ("1.5e3", Fraction(1500), "1500"),
    ],
)
def test_parse_and_canonical_form(text: str, value: Fraction, canonical: str) -> None:
    assert parse_quantity(text) == value
    assert canonical_quantity(text) == canonical
    assert parse_quantity(canonical) == value  # the canonical form reads back the same


@pytest.mark.parametrize(
    "text",
    [
        "",
        " 1",
        "1 ",
        "abc",
        "1.2.3",
        "10Xi",
        "m",
        "Gi",
        "1K",
        "1 Gi",
        "1e",
        "1e1.5",
        "--1",
        "1Gi1",
        "1ki",
        "0x10",
    ],
)
def test_malformed_quantities_are_refused_with_the_rule(text: str) -> None:
    with pytest.raises(QuantityError, match=r"invalid quantity .*e\.g\. 500m, 4, 8Gi"):
        parse_quantity(text)
    assert not is_quantity(text)


def test_numbers_and_non_strings() -> None:
    assert parse_quantity(4) == 4
    assert parse_quantity(0.25) == Fraction(1, 4)
    assert parse_quantity(0.1) == Fraction(1, 10)  # decimal, not binary floating point
    assert is_quantity(3)
    for bad in (True, None, float("inf"), [1]):
        with pytest.raises(QuantityError):
            Quantity.parse(bad)  # type: ignore[arg-type]


def test_comparison_and_arithmetic_keep_the_left_format() -> None:
    one_gi = Quantity.parse("1Gi")
    assert one_gi == Quantity.parse("1073741824") == 2**30
    assert len({one_gi, Quantity.parse("1073741824")}) == 1
    assert Quantity.parse("500m") < Quantity.parse("1") <= Quantity.parse("1000m")
    assert max(Quantity.parse("2"), Quantity.parse("1500m")) == 2
    assert str(one_gi + Quantity.parse("512Mi")) == "1536Mi"
    assert str(one_gi - Quantity.parse("1Gi")) == "0"
    assert str(Quantity.parse("1") + Quantity.parse("500m")) == "1500m"
    assert str(sum([Quantity.parse("1Gi"), Quantity.parse("1Gi")])) == "2Gi"
    assert str(Quantity.parse("250m") * 4) == "1"
    assert str(-Quantity.parse("1Ki")) == "-1Ki"
    assert Quantity.parse("1500m").to_int() == 2 and Quantity.parse("1500m").milli() == 1500
    assert Quantity.parse("0.1n").milli() == 1
    assert not Quantity.parse("0") and Quantity.parse("1m")


def test_format_quantity_in_each_format() -> None:
    assert format_quantity(Fraction(3, 2)) == "1500m"
    assert format_quantity(2 * 2**30, BINARY_SI) == "2Gi"
    assert format_quantity(Fraction(1, 2), BINARY_SI) == "500m"  # binary cannot say it
    assert format_quantity(1000, DECIMAL_SI) == "1k"
    assert format_quantity(1000, "DecimalExponent") == "1e3"
