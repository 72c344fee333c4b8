"""Kubernetes resource quantities (``resource.Quantity``): ``500m``, ``4``, ``1.5Gi``, ``1e3``.

The one parser of the tree. Values are exact (:class:`~fractions.Fraction`), rounded up to
the nano unit as Kubernetes does, and keep the format their text was written in (decimal
SI, binary SI or decimal exponent), which decides their canonical form: ``1.5`` is
``1500m``, ``1536Mi`` stays so while ``0.5Gi`` becomes ``512Mi``, ``1000`` is ``1k``,
``1e3`` stays ``1e3``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from functools import total_ordering
from typing import Literal

Format = Literal["DecimalSI", "BinarySI", "DecimalExponent"]
DECIMAL_SI: Format = "DecimalSI"
BINARY_SI: Format = "BinarySI"
DECIMAL_EXPONENT: Format = "DecimalExponent"

_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_SUFFIX = {exponent: suffix for suffix, exponent in _DECIMAL.items()}
_BINARY_SUFFIX = {exponent: suffix for suffix, exponent in _BINARY.items()}
_GRAMMAR = re.compile(
    r"(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(?P<binary>[KMGTPE]i)|(?P<decimal>[numkMGTPE])|[eE](?P<exponent>[+-]?[0-9]+))?"
)
_NANO = 10**9
_MAX_EXPONENT = 1000  # beyond any real resource; keeps a hostile ``1e99999999`` cheap


class QuantityError(ValueError):
    """Text that is not a quantity (the message quotes it and shows the expected form)."""


@total_ordering
@dataclass(frozen=True, eq=False)
class Quantity:
    """An exact quantity and the format its canonical text is written in.

    Compares, hashes and adds by value (``1Gi`` equals ``1073741824``); arithmetic keeps
    the format of the left operand, as Kubernetes' ``Add`` does.
    """

    value: Fraction
    format: Format = DECIMAL_SI

    @classmethod
    def parse(cls, text: Quantity | str | int | float | Fraction) -> Quantity:
        """Parse ``text`` (numbers are taken as decimal SI).

        :raises QuantityError: not a quantity.
        """
        if isinstance(text, Quantity):
            return text
        if isinstance(text, bool):
            raise QuantityError(f"invalid quantity {text!r}: a boolean is not a quantity")
        if isinstance(text, int | Fraction):
            return cls(_round_nano(Fraction(text)))
        if isinstance(text, float):
            if not math.isfinite(text):
                raise QuantityError(f"invalid quantity {text!r}: not a finite number")
            return cls(_round_nano(Fraction(repr(text))))
        if not isinstance(text, str):
            raise QuantityError(f"invalid quantity {text!r}: not a string or a number")
        match = _GRAMMAR.fullmatch(text)
        if match is None:
            raise QuantityError(
                f"invalid quantity {text!r}: expected a number with an optional suffix "
                "(n, u, m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei or an exponent such as "
                "e3), e.g. 500m, 4, 8Gi"
            )
        number = Fraction(match["number"])
        if match["binary"]:
            return cls(_round_nano(number * 2 ** _BINARY[match["binary"]]), BINARY_SI)
        if match["exponent"] is not None:
            exponent = int(match["exponent"])
            if abs(exponent) > _MAX_EXPONENT:
                raise QuantityError(f"invalid quantity {text!r}: exponent out of range")
            return cls(_round_nano(number * Fraction(10) ** exponent), DECIMAL_EXPONENT)
        return cls(_round_nano(number * Fraction(10) ** _DECIMAL[match["decimal"] or ""]))

    def __str__(self) -> str:
        """The canonical form (what the API server returns)."""
        return format_quantity(self.value, self.format)

    def __repr__(self) -> str:
        return f"Quantity({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Quantity):
            return self.value == other.value
        if isinstance(other, int | Fraction):
            return self.value == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.value)

    def __lt__(self, other: Quantity | int | Fraction) -> bool:
        return self.value < _value_of(other)

    def __add__(self, other: Quantity | int | Fraction) -> Quantity:
        return Quantity(self.value + _value_of(other), self.format)

    def __radd__(self, other: int | Fraction) -> Quantity:  # sum() starts from 0
        return Quantity(self.value + _value_of(other), self.format)

    def __sub__(self, other: Quantity | int | Fraction) -> Quantity:
        return Quantity(self.value - _value_of(other), self.format)

    def __neg__(self) -> Quantity:
        return Quantity(-self.value, self.format)

    def __mul__(self, factor: int | Fraction) -> Quantity:
        return Quantity(_round_nano(self.value * factor), self.format)

    __rmul__ = __mul__

    def __bool__(self) -> bool:
        return self.value != 0

    def __float__(self) -> float:
        return float(self.value)

    def to_int(self) -> int:
        """The value rounded up to an integer (Kubernetes' ``Value()``)."""
        return math.ceil(self.value)

    def milli(self) -> int:
        """The value in thousandths, rounded up (Kubernetes' ``MilliValue()``)."""
        return math.ceil(self.value * 1000)


def _value_of(other: Quantity | int | Fraction) -> Fraction:
    if isinstance(other, Quantity):
        return other.value
    if isinstance(other, int | Fraction) and not isinstance(other, bool):
        return Fraction(other)
    raise TypeError(f"not a quantity: {other!r}")


def _round_nano(value: Fraction) -> Fraction:
    """Kubernetes keeps nine decimals: more precise values are rounded up (away from 0)."""
    scaled = value * _NANO
    if scaled.denominator == 1:
        return value
    rounded = math.ceil(abs(scaled))
    return Fraction(rounded if value > 0 else -rounded, _NANO)


def parse_quantity(text: Quantity | str | int | float | Fraction) -> Fraction:
    """The exact value of a quantity.

    :raises QuantityError: (a ``ValueError``) ``text`` is not a quantity.
    """
    return Quantity.parse(text).value


def is_quantity(text: object) -> bool:
    """Whether ``text`` is a quantity (a string in quantity syntax, or a number)."""
    try:
        Quantity.parse(text)  # type: ignore[arg-type]
    except QuantityError:
        return False
    return True


def format_quantity(value: Fraction | int, format: Format = DECIMAL_SI) -> str:
    """The canonical text of ``value`` in ``format`` (Kubernetes' ``Quantity.String()``).

    Binary SI is used only for whole values of at least 1024 (``1536Mi``); others fall back
    to decimal SI (``512``, ``1500m``), as in Kubernetes.
    """
    value = _round_nano(Fraction(value))
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    magnitude = abs(value)
    if format == BINARY_SI and magnitude >= 1024 and magnitude.denominator == 1:
        number, exponent = int(magnitude), 0
        while number % 1024 == 0 and exponent < 60:
            number //= 1024
            exponent += 10
        return f"{sign}{number}{_BINARY_SUFFIX.get(exponent, '')}"
    number, exponent = int(magnitude * _NANO), -9
    while number % 10 == 0:
        number //= 10
        exponent += 1
    shift = exponent % 3  # the exponent goes down to a multiple of three
    number, exponent = number * 10**shift, exponent - shift
    if format == DECIMAL_EXPONENT:
        return f"{sign}{number}" + (f"e{exponent}" if exponent else "")
    if exponent > 18:  # no suffix beyond E
        number, exponent = number * 10 ** (exponent - 18), 18
    return f"{sign}{number}{_DECIMAL_SUFFIX[exponent]}"


def canonical_quantity(text: Quantity | str | int | float | Fraction) -> str:
    """The canonical text of a quantity (``"1.5"`` → ``"1500m"``, ``"0.5Gi"`` → ``"512Mi"``).

    :raises QuantityError: ``text`` is not a quantity.
    """
    return str(Quantity.parse(text))
