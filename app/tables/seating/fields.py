"""Small finite fields GF(q), q = p^k, as tables of sums and products over 0 .. q - 1.

Element ``e`` stands for the polynomial whose coefficients are the base-p digits of ``e``;
products are taken modulo the first irreducible polynomial of degree k found by trial. For a
prime q this is plain arithmetic mod q. Only the small orders a table can have are needed, so
building the whole tables (q^2 entries) is cheap and keeps the arithmetic a lookup.
"""

from dataclasses import dataclass


def prime_power(q: int) -> tuple[int, int] | None:
    """(p, k) with p prime and p^k == q, or None when q is no prime power."""
    if q < 2:
        return None
    p = next(d for d in range(2, q + 1) if q % d == 0)  # the smallest factor is prime
    k, rest = 0, q
    while rest % p == 0:
        rest //= p
        k += 1
    return (p, k) if rest == 1 else None


def _digits(e: int, p: int, k: int) -> list[int]:
    return [(e // p**i) % p for i in range(k)]


def _number(digits: list[int], p: int) -> int:
    return sum(d * p**i for i, d in enumerate(digits))


def _poly_mul_mod(a: list[int], b: list[int], modulus: list[int], p: int) -> list[int]:
    """a * b modulo the monic ``modulus`` (coefficients lowest first, len(modulus) = k + 1)."""
    k = len(modulus) - 1
    product = [0] * (2 * k)
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            product[i + j] = (product[i + j] + x * y) % p
    for degree in range(len(product) - 1, k - 1, -1):
        factor = product[degree]
        if factor:
            for i, c in enumerate(modulus):
                product[degree - k + i] = (product[degree - k + i] - factor * c) % p
    return product[:k]


def _irreducible(p: int, k: int) -> list[int]:
    """The first monic polynomial of degree k that is irreducible over GF(p): the one whose
    quotient ring has no zero divisors (which is what makes it a field)."""
    for tail in range(p**k):
        modulus = _digits(tail, p, k) + [1]
        nonzero = range(1, p**k)
        if all(
            any(_poly_mul_mod(_digits(a, p, k), _digits(b, p, k), modulus, p))
            for a in nonzero
            for b in nonzero
            if a <= b
        ):
            return modulus
    raise ValueError(f"no irreducible polynomial of degree {k} over GF({p})")


@dataclass(frozen=True)
class Field:
    order: int
    add: tuple[tuple[int, ...], ...]
    mul: tuple[tuple[int, ...], ...]


def finite_field(q: int) -> Field:
    """GF(q) for a prime power q; ValueError otherwise."""
    found = prime_power(q)
    if found is None:
        raise ValueError(f"{q} is not a prime power")
    p, k = found
    if k == 1:
        add = tuple(tuple((a + b) % q for b in range(q)) for a in range(q))
        mul = tuple(tuple((a * b) % q for b in range(q)) for a in range(q))
        return Field(q, add, mul)
    modulus = _irreducible(p, k)
    digits = [_digits(e, p, k) for e in range(q)]
    add = tuple(
        tuple(
            _number([(x + y) % p for x, y in zip(digits[a], digits[b], strict=True)], p)
            for b in range(q)
        )
        for a in range(q)
    )
    mul = tuple(
        tuple(_number(_poly_mul_mod(digits[a], digits[b], modulus, p), p) for b in range(q))
        for a in range(q)
    )
    return Field(q, add, mul)
