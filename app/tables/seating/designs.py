"""Resolvable designs: seatings over several rounds in which no two people meet twice.

The affine plane AG(2, q) of a prime power q has q^2 points and q + 1 parallel classes of q
lines of q points each; every two points lie on exactly one line. Points are people, a class
is a round, its lines are the tables: q^2 people at q tables of q meet everyone exactly once
over q + 1 rounds, which is the limit (Kirkman's schoolgirls, the social golfer problem).
"""

from app.tables.seating.fields import finite_field, prime_power


def affine_plane_fits(people: int, tables: int, table_size: int) -> bool:
    """Whether the plane of order ``tables`` seats exactly these people at full tables."""
    return (
        tables >= 2
        and people == tables * tables
        and table_size >= tables
        and prime_power(tables) is not None
    )


def affine_plane_rounds(q: int) -> list[list[list[int]]]:
    """The q + 1 parallel classes of AG(2, q): rounds of q tables of point numbers.

    Point (x, y) is numbered x * q + y. Class ``m`` < q holds the lines y = m x + b (one per
    b); the last class holds the verticals x = c.
    """
    field = finite_field(q)
    add, mul = field.add, field.mul
    rounds: list[list[list[int]]] = []
    for slope in range(q):
        lines: list[list[int]] = [[] for _ in range(q)]
        for x in range(q):
            for b in range(q):
                y = add[mul[slope][x]][b]
                lines[b].append(x * q + y)
        rounds.append(lines)
    rounds.append([[c * q + y for y in range(q)] for c in range(q)])
    return rounds
