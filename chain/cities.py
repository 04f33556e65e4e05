"""The eight cities of the Yangtze River Delta credit information chain.

Each city knows its province, its coordinates (for the regional latency model and the
dashboard map), the administrative-division prefixes of its enterprises' credit codes, and the
number the contracts use for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


@dataclass(frozen=True, slots=True)
class CityFacts:
    """What the chain knows of a city.

    number: the city's id in the contracts (1..8).
    name_zh: the Chinese name.
    province: Shanghai (a municipality), Jiangsu, Zhejiang or Anhui.
    latitude, longitude: degrees, of the city centre.
    region_prefixes: administrative-division code prefixes (GB/T 2260) of the city.
    sample_region_code: a six-digit district code used when generating credit codes.
    """

    number: int
    name_zh: str
    province: str
    latitude: float
    longitude: float
    region_prefixes: tuple[str, ...]
    sample_region_code: str


class City(Enum):
    """A city of the chain; the value is its lower-case English name."""

    SHANGHAI = "shanghai"
    NANJING = "nanjing"
    HANGZHOU = "hangzhou"
    HEFEI = "hefei"
    SUZHOU = "suzhou"
    CHANGZHOU = "changzhou"
    SUQIAN = "suqian"
    TAIZHOU = "taizhou"

    @property
    def facts(self) -> CityFacts:
        """The city's facts."""
        return CITY_FACTS[self]

    @property
    def number(self) -> int:
        """The city's id in the contracts."""
        return CITY_FACTS[self].number

    @property
    def title(self) -> str:
        """The English name with a capital letter."""
        return self.value.capitalize()


CITY_FACTS: dict[City, CityFacts] = {
    City.SHANGHAI: CityFacts(1, "上海", "Shanghai", 31.2304, 121.4737, ("31",), "310115"),
    City.NANJING: CityFacts(2, "南京", "Jiangsu", 32.0603, 118.7969, ("3201",), "320102"),
    City.HANGZHOU: CityFacts(3, "杭州", "Zhejiang", 30.2741, 120.1551, ("3301",), "330106"),
    City.HEFEI: CityFacts(4, "合肥", "Anhui", 31.8206, 117.2272, ("3401",), "340104"),
    City.SUZHOU: CityFacts(5, "苏州", "Jiangsu", 31.2989, 120.5853, ("3205",), "320505"),
    City.CHANGZHOU: CityFacts(6, "常州", "Jiangsu", 31.8107, 119.9741, ("3204",), "320402"),
    City.SUQIAN: CityFacts(7, "宿迁", "Jiangsu", 33.9631, 118.2752, ("3213",), "321302"),
    City.TAIZHOU: CityFacts(8, "台州", "Zhejiang", 28.6564, 121.4208, ("3310",), "331002"),
}


def city_of_region_code(region_code: str) -> City | None:
    """The chain city whose prefix matches a six-digit division code, or None."""
    for city, facts in CITY_FACTS.items():
        if any(region_code.startswith(prefix) for prefix in facts.region_prefixes):
            return city
    return None


def city_by_number(number: int) -> City | None:
    """The city with a contract id, or None."""
    for city, facts in CITY_FACTS.items():
        if facts.number == number:
            return city
    return None
