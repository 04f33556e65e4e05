"""The regional latency model: one-way delay between two cities of the chain.

Great-circle distance between city centres, times a route factor for fibre paths that do not
run straight, at the speed of light in fibre, plus a fixed per-hop processing delay. Within one
city the delay is the processing delay alone. The simulator and the node transport use the same
function, so simulated and real runs see the same network.
"""

from __future__ import annotations

import math

from chain.cities import City

EARTH_RADIUS_KM = 6_371.0
FIBRE_KM_PER_MS = 200.0  # light in glass: about two thirds of c
ROUTE_FACTOR = 1.6  # fibre paths are longer than the great circle
PROCESSING_MS = 1.5  # switching and queuing along a metro/provincial path


def distance_km(a: City, b: City) -> float:
    """Great-circle distance between two city centres (haversine)."""
    lat1, lon1 = math.radians(a.facts.latitude), math.radians(a.facts.longitude)
    lat2, lon2 = math.radians(b.facts.latitude), math.radians(b.facts.longitude)
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(
        (lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


def one_way_delay_ms(a: City, b: City) -> float:
    """Modelled one-way delay from `a` to `b` in milliseconds."""
    return PROCESSING_MS + distance_km(a, b) * ROUTE_FACTOR / FIBRE_KM_PER_MS
