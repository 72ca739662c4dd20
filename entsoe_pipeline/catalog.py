"""What exists: the ENTSO-E endpoints the pipeline knows and the areas it can ask them for.

Pure data. Every other layer reads it; adding an endpoint is one entry in ``ENDPOINTS`` (plus parser
support only for a new document kind), adding an area one entry in ``AREAS``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType


class Granularity(StrEnum):
    """Width of one Dagster partition (always in UTC)."""

    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    YEARLY = "yearly"

    @property
    def nominal(self) -> timedelta:
        """The usual length of one partition, for sizing (months and years vary)."""
        return _NOMINAL[self]


_NOMINAL = {
    Granularity.DAILY: timedelta(days=1),
    Granularity.WEEKLY: timedelta(days=7),
    Granularity.MONTHLY: timedelta(days=31),
    Granularity.YEARLY: timedelta(days=366),
}


class DocumentKind(StrEnum):
    GL = "GL_MarketDocument"
    PUBLICATION = "Publication_MarketDocument"


@dataclass(frozen=True)
class Reread:
    """A revision sweep: on ``cron`` (UTC), fetch again the partitions of the last ``span`` (and
    those the endpoint's horizon reaches), so revisions and late publications are stored."""

    name: str  # short, for the automation condition's labels: "daily", "weekly", "monthly"
    cron: str
    span: timedelta


DAILY_WEEK = Reread("daily", "50 2 * * *", timedelta(days=7))
WEEKLY_QUARTER = Reread("weekly", "20 3 * * 1", timedelta(days=90))
WEEKLY_MONTH = Reread("weekly", "20 3 * * 1", timedelta(days=31))
MONTHLY_YEAR = Reread("monthly", "40 3 1 * *", timedelta(days=366))


class Cadence(StrEnum):
    """How often ENTSO-E publishes new values for an endpoint, hence how often to refresh it."""

    ACTUAL = "actual"  # rolling publication, about one MTU after real time
    FORECAST = "forecast"  # a few publications per day
    MARGIN = "margin"  # rarely: year-ahead documents


@dataclass(frozen=True)
class Area:
    """An ENTSO-E area: bidding zone, control area or country."""

    name: str  # short name used in asset keys and configuration, e.g. "DE_LU"
    eic: str  # the Energy Identification Code the API wants, e.g. "10Y1001A1001A82H"
    tz: str  # IANA zone: local calendar for P1D/P7D/P1M/P1Y resolutions
    label: str
    # Rough peak load in MW: scales the simulator's synthetic series and bounds plausibility checks.
    peak_load_mw: float
    # Names of the catalogue areas that lie inside this one (the German control areas inside DE_LU):
    # their load is part of this area's, so a total over areas must not count both.
    parts: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """Lower-case form used in Dagster asset keys."""
        return self.name.lower()


@dataclass(frozen=True)
class Endpoint:
    """One ENTSO-E data item as the pipeline fetches it."""

    name: str
    title: str
    description: str
    document_type: str
    process_type: str | None
    # Request parameters that take the area's EIC (prices need it twice: in_Domain and out_Domain).
    domain_params: tuple[str, ...]
    document_kind: DocumentKind
    granularity: Granularity
    # The longest window one request may cover. The API documents one year but its R3 backend
    # rejects more than 'P1M' for actual load and generation, and 'P1M' itself has been refused for
    # a 31-day month, so a month is taken as 28 days. The client shrinks further when told to.
    max_span: timedelta
    cadence: Cadence
    # How long the data after the newest stored point may have been due before the series counts as
    # not current (its _newest companion fails and the store sensor refills it); see defs/freshness.py.
    freshness: timedelta
    # Resolutions the endpoint publishes (the first is the usual one); checks compare against them.
    resolutions: tuple[str, ...]
    unit: str
    # Fixed extra request parameters, e.g. the contract type for prices.
    extra_params: tuple[tuple[str, str], ...] = ()
    # Whether values can legitimately be negative (prices can; load cannot).
    allows_negative: bool = False
    # Upper bound of a plausible value, as a multiple of the area's peak load (None: no bound).
    max_peak_ratio: float | None = 1.6
    # How far ahead of now the published data reaches (day-ahead: tomorrow, so one day).
    horizon: timedelta = timedelta(0)
    # How long after a window ends ENTSO-E may still publish it for the first time (TSOs publish
    # late, at D+2 or D+7): only older windows can be confirmed empty by "no matching data".
    late_publication: timedelta = timedelta(days=30)
    # Revision sweeps: ENTSO-E revises values days to months after first publication, so recent
    # windows are read again daily, the last quarter weekly, and actual data's last year monthly.
    rereads: tuple[Reread, ...] = (DAILY_WEEK,)
    # How long before its period starts ENTSO-E first publishes a window (forecasts; None: actual
    # data, published as it happens). Before that, asking for the window is a wasted request
    # answered "no matching data". The simulator publishes forecast blocks by this lead.
    published_ahead: timedelta | None = None

    def params(self, area: Area) -> dict[str, str]:
        """Query parameters for this endpoint and area, without the time window and the token."""
        out = {"documentType": self.document_type}
        if self.process_type:
            out["processType"] = self.process_type
        out.update({p: area.eic for p in self.domain_params})
        out.update(self.extra_params)
        return out

    @property
    def default_resolution(self) -> timedelta:
        """Nominal step of the usual resolution, for expectations where nothing is stored yet."""
        return NOMINAL_RESOLUTION[self.resolutions[0]]

    @property
    def partitions_per_request(self) -> int:
        """How many partitions one maximal request covers: sizes backfill runs."""
        return max(1, self.max_span // self.granularity.nominal)


# Nominal length of each ISO 8601 resolution ENTSO-E uses (months and years vary in reality).
NOMINAL_RESOLUTION: MappingProxyType[str, timedelta] = MappingProxyType(
    {
        "PT15M": timedelta(minutes=15),
        "PT30M": timedelta(minutes=30),
        "PT60M": timedelta(hours=1),
        "P1D": timedelta(days=1),
        "P7D": timedelta(days=7),
        "P1M": timedelta(days=30),
        "P1Y": timedelta(days=365),
    }
)

_MONTH = timedelta(days=28)
_YEAR = timedelta(days=365)
_LOAD_DOMAIN = ("outBiddingZone_Domain",)
# Publication leads (Regulation 543/2013 and the day-ahead auction): day-ahead data with the noon
# auction of the day before (12:00 UTC, as the simulator's day_ahead_horizon), week-ahead on the
# Friday before the week, month-ahead a week before the month, year-ahead forecasts and margin
# by mid-December (15 days before the year, as the simulator has it).
_DAY_AHEAD_PUBLISHED = timedelta(hours=12)
_YEAR_AHEAD_PUBLISHED = timedelta(days=15)
_GEN_DOMAIN = ("in_Domain",)


def _endpoints(*items: Endpoint) -> MappingProxyType[str, Endpoint]:
    return MappingProxyType({e.name: e for e in items})


ENDPOINTS: MappingProxyType[str, Endpoint] = _endpoints(
    Endpoint(
        name="actual_load",
        title="Actual total load",
        description="Actual total load [6.1.A] (A65/A16), in MW per MTU, published about an hour "
        "after real time.",
        document_type="A65",
        process_type="A16",
        domain_params=_LOAD_DOMAIN,
        document_kind=DocumentKind.GL,
        granularity=Granularity.DAILY,
        max_span=_MONTH,
        cadence=Cadence.ACTUAL,
        freshness=timedelta(hours=2),
        resolutions=("PT15M", "PT60M", "PT30M"),
        unit="MAW",
        rereads=(DAILY_WEEK, WEEKLY_QUARTER, MONTHLY_YEAR),
    ),
    Endpoint(
        name="day_ahead_load_forecast",
        title="Day-ahead total load forecast",
        description="Day-ahead total load forecast [6.1.B] (A65/A01), in MW per MTU, published "
        "before noon for the next day.",
        document_type="A65",
        process_type="A01",
        domain_params=_LOAD_DOMAIN,
        document_kind=DocumentKind.GL,
        granularity=Granularity.DAILY,
        max_span=_MONTH,
        cadence=Cadence.FORECAST,
        freshness=timedelta(hours=12),
        resolutions=("PT15M", "PT60M", "PT30M"),
        unit="MAW",
        horizon=timedelta(days=1),
        late_publication=timedelta(days=7),
        rereads=(DAILY_WEEK, WEEKLY_QUARTER),
        published_ahead=_DAY_AHEAD_PUBLISHED,
    ),
    Endpoint(
        name="week_ahead_load_forecast",
        title="Week-ahead total load forecast",
        description="Week-ahead total load forecast [6.1.C] (A65/A31): daily minimum (A60) and "
        "maximum (A61) load in MW.",
        document_type="A65",
        process_type="A31",
        domain_params=_LOAD_DOMAIN,
        document_kind=DocumentKind.GL,
        granularity=Granularity.WEEKLY,
        max_span=_YEAR,
        cadence=Cadence.FORECAST,
        freshness=timedelta(days=2),
        resolutions=("P1D",),
        unit="MAW",
        horizon=timedelta(days=7),
        late_publication=timedelta(days=14),
        published_ahead=timedelta(days=3),
    ),
    Endpoint(
        name="month_ahead_load_forecast",
        title="Month-ahead total load forecast",
        description="Month-ahead total load forecast [6.1.D] (A65/A32): weekly minimum (A60) and "
        "maximum (A61) load in MW.",
        document_type="A65",
        process_type="A32",
        domain_params=_LOAD_DOMAIN,
        document_kind=DocumentKind.GL,
        granularity=Granularity.MONTHLY,
        max_span=_YEAR,
        cadence=Cadence.FORECAST,
        freshness=timedelta(days=7),
        resolutions=("P7D",),
        unit="MAW",
        horizon=timedelta(days=31),
        late_publication=timedelta(days=31),
        rereads=(WEEKLY_MONTH,),
        published_ahead=timedelta(days=7),
    ),
    Endpoint(
        name="year_ahead_load_forecast",
        title="Year-ahead total load forecast",
        description="Year-ahead total load forecast [6.1.E] (A65/A33): weekly minimum (A60) and "
        "maximum (A61) load in MW.",
        document_type="A65",
        process_type="A33",
        domain_params=_LOAD_DOMAIN,
        document_kind=DocumentKind.GL,
        granularity=Granularity.YEARLY,
        max_span=_YEAR,
        cadence=Cadence.MARGIN,
        freshness=timedelta(days=31),
        resolutions=("P7D",),
        unit="MAW",
        horizon=timedelta(days=366),
        late_publication=timedelta(days=60),
        rereads=(MONTHLY_YEAR,),
        published_ahead=_YEAR_AHEAD_PUBLISHED,
    ),
    Endpoint(
        name="year_ahead_forecast_margin",
        title="Year-ahead forecast margin",
        description="Year-ahead forecast margin [8.1] (A70/A33): one value per year in MW.",
        document_type="A70",
        process_type="A33",
        domain_params=_LOAD_DOMAIN,
        document_kind=DocumentKind.GL,
        granularity=Granularity.YEARLY,
        max_span=_YEAR,
        cadence=Cadence.MARGIN,
        freshness=timedelta(days=31),
        resolutions=("P1Y",),
        unit="MAW",
        allows_negative=True,
        horizon=timedelta(days=366),
        late_publication=timedelta(days=60),
        rereads=(MONTHLY_YEAR,),
        published_ahead=_YEAR_AHEAD_PUBLISHED,
    ),
    Endpoint(
        name="actual_generation",
        title="Actual generation per production type",
        description="Actual generation per production type [16.1.B&C] (A75/A16), one series per "
        "psrType; outBiddingZone series (pumping, storage charging) are stored as consumption.",
        document_type="A75",
        process_type="A16",
        domain_params=_GEN_DOMAIN,
        document_kind=DocumentKind.GL,
        granularity=Granularity.DAILY,
        max_span=_MONTH,
        cadence=Cadence.ACTUAL,
        freshness=timedelta(hours=3),
        resolutions=("PT15M", "PT60M", "PT30M"),
        unit="MAW",
        rereads=(DAILY_WEEK, WEEKLY_QUARTER, MONTHLY_YEAR),
    ),
    Endpoint(
        name="wind_solar_forecast",
        title="Day-ahead wind and solar generation forecast",
        description="Day-ahead generation forecast for wind and solar [14.1.D] (A69/A01), per "
        "psrType (B16 solar, B18 wind offshore, B19 wind onshore).",
        document_type="A69",
        process_type="A01",
        domain_params=_GEN_DOMAIN,
        document_kind=DocumentKind.GL,
        granularity=Granularity.DAILY,
        max_span=_MONTH,
        cadence=Cadence.FORECAST,
        freshness=timedelta(hours=12),
        resolutions=("PT15M", "PT60M", "PT30M"),
        unit="MAW",
        horizon=timedelta(days=1),
        late_publication=timedelta(days=7),
        rereads=(DAILY_WEEK, WEEKLY_QUARTER),
        published_ahead=_DAY_AHEAD_PUBLISHED,
    ),
    Endpoint(
        name="day_ahead_prices",
        title="Day-ahead prices",
        description="Day-ahead energy prices [12.1.D] (A44, contract A01) in EUR/MWh; a second "
        "classification sequence (EXAA for DE_LU/AT) is kept as its own series.",
        document_type="A44",
        process_type=None,
        domain_params=("in_Domain", "out_Domain"),
        document_kind=DocumentKind.PUBLICATION,
        granularity=Granularity.DAILY,
        # Prices come as one document per day and sequence; the API caps an answer at 100 of them.
        max_span=_MONTH,
        cadence=Cadence.FORECAST,
        freshness=timedelta(hours=26),
        resolutions=("PT15M", "PT60M", "PT30M"),
        unit="EUR/MWH",
        extra_params=(("contract_MarketAgreement.type", "A01"),),
        allows_negative=True,
        max_peak_ratio=None,
        horizon=timedelta(days=1),
        late_publication=timedelta(days=7),
        rereads=(DAILY_WEEK, WEEKLY_QUARTER),
        published_ahead=_DAY_AHEAD_PUBLISHED,
    ),
)

LOAD_ENDPOINTS: tuple[str, ...] = (
    "actual_load",
    "day_ahead_load_forecast",
    "week_ahead_load_forecast",
    "month_ahead_load_forecast",
    "year_ahead_load_forecast",
    "year_ahead_forecast_margin",
)


def _areas(*items: Area) -> MappingProxyType[str, Area]:
    by_name = {a.name: a for a in items}
    eics = [a.eic for a in items]
    if len(set(eics)) != len(eics):  # an EIC -> name lookup must be unambiguous
        raise ValueError("duplicate EIC code in the area catalogue")
    unknown = {p for a in items for p in a.parts} - set(by_name)
    if unknown:
        raise ValueError(f"area parts not in the catalogue: {', '.join(sorted(unknown))}")
    return MappingProxyType(by_name)


_CET = "Europe/Berlin"

AREAS: MappingProxyType[str, Area] = _areas(
    Area(
        "DE_LU",
        "10Y1001A1001A82H",
        _CET,
        "Germany-Luxembourg bidding zone",
        80_000,
        parts=("DE_50HZ", "DE_AMPRION", "DE_TENNET", "DE_TRANSNET", "LU"),
    ),
    Area(
        "DE_AT_LU",
        "10Y1001A1001A63L",
        _CET,
        "Germany-Austria-Luxembourg bidding zone (until 2018-09-30)",
        90_000,
        parts=("DE_LU", "AT"),
    ),
    Area("DE_50HZ", "10YDE-VE-------2", _CET, "50Hertz control area", 18_000),
    Area("DE_AMPRION", "10YDE-RWENET---I", _CET, "Amprion control area", 30_000),
    Area("DE_TENNET", "10YDE-EON------1", _CET, "TenneT DE control area", 28_000),
    Area("DE_TRANSNET", "10YDE-ENBW-----N", _CET, "TransnetBW control area", 12_000),
    Area("AT", "10YAT-APG------L", "Europe/Vienna", "Austria", 12_000),
    Area("BE", "10YBE----------2", "Europe/Brussels", "Belgium", 14_000),
    Area("NL", "10YNL----------L", "Europe/Amsterdam", "Netherlands", 20_000),
    Area("FR", "10YFR-RTE------C", "Europe/Paris", "France", 95_000),
    Area("LU", "10YLU-CEGEDEL-NQ", "Europe/Luxembourg", "Luxembourg (CREOS control area)", 1_200),
    Area("CH", "10YCH-SWISSGRIDZ", "Europe/Zurich", "Switzerland", 11_000),
    Area("CZ", "10YCZ-CEPS-----N", "Europe/Prague", "Czech Republic", 12_000),
    Area("PL", "10YPL-AREA-----S", "Europe/Warsaw", "Poland", 28_000),
    Area("SK", "10YSK-SEPS-----K", "Europe/Bratislava", "Slovakia", 5_000),
    Area("HU", "10YHU-MAVIR----U", "Europe/Budapest", "Hungary", 8_000),
    Area("SI", "10YSI-ELES-----O", "Europe/Ljubljana", "Slovenia", 2_500),
    Area("HR", "10YHR-HEP------M", "Europe/Zagreb", "Croatia", 3_500),
    Area("ES", "10YES-REE------0", "Europe/Madrid", "Spain", 42_000),
    Area("PT", "10YPT-REN------W", "Europe/Lisbon", "Portugal", 10_000),
    Area(
        "IT",
        "10YIT-GRTN-----B",
        "Europe/Rome",
        "Italy (control area)",
        58_000,
        parts=("IT_NORD", "IT_CNOR", "IT_CSUD", "IT_SUD", "IT_SICI", "IT_SARD", "IT_CALA"),
    ),
    Area("IT_NORD", "10Y1001A1001A73I", "Europe/Rome", "Italy North bidding zone", 30_000),
    Area("IT_CNOR", "10Y1001A1001A70O", "Europe/Rome", "Italy Centre-North bidding zone", 7_000),
    Area("IT_CSUD", "10Y1001A1001A71M", "Europe/Rome", "Italy Centre-South bidding zone", 10_000),
    Area("IT_SUD", "10Y1001A1001A788", "Europe/Rome", "Italy South bidding zone", 5_000),
    Area("IT_SICI", "10Y1001A1001A75E", "Europe/Rome", "Italy Sicily bidding zone", 3_500),
    Area("IT_SARD", "10Y1001A1001A74G", "Europe/Rome", "Italy Sardinia bidding zone", 2_000),
    Area("IT_CALA", "10Y1001C--00096J", "Europe/Rome", "Italy Calabria bidding zone", 2_000),
    Area("DK1", "10YDK-1--------W", "Europe/Copenhagen", "Denmark West bidding zone", 4_000),
    Area("DK2", "10YDK-2--------M", "Europe/Copenhagen", "Denmark East bidding zone", 3_000),
    Area("NO1", "10YNO-1--------2", "Europe/Oslo", "Norway South-East bidding zone", 9_000),
    Area("NO2", "10YNO-2--------T", "Europe/Oslo", "Norway South-West bidding zone", 6_000),
    Area("NO3", "10YNO-3--------J", "Europe/Oslo", "Norway Central bidding zone", 5_000),
    Area("NO4", "10YNO-4--------9", "Europe/Oslo", "Norway North bidding zone", 3_500),
    Area("NO5", "10Y1001A1001A48H", "Europe/Oslo", "Norway West bidding zone", 3_500),
    Area("SE1", "10Y1001A1001A44P", "Europe/Stockholm", "Sweden Luleå bidding zone", 2_000),
    Area("SE2", "10Y1001A1001A45N", "Europe/Stockholm", "Sweden Sundsvall bidding zone", 3_000),
    Area("SE3", "10Y1001A1001A46L", "Europe/Stockholm", "Sweden Stockholm bidding zone", 18_000),
    Area("SE4", "10Y1001A1001A47J", "Europe/Stockholm", "Sweden Malmö bidding zone", 5_000),
    Area("FI", "10YFI-1--------U", "Europe/Helsinki", "Finland", 15_000),
    Area("EE", "10Y1001A1001A39I", "Europe/Tallinn", "Estonia", 1_600),
    Area("LV", "10YLV-1001A00074", "Europe/Riga", "Latvia", 1_300),
    Area("LT", "10YLT-1001A0008Q", "Europe/Vilnius", "Lithuania", 2_000),
    Area("GR", "10YGR-HTSO-----Y", "Europe/Athens", "Greece", 10_000),
    Area("BG", "10YCA-BULGARIA-R", "Europe/Sofia", "Bulgaria", 7_000),
    Area("RO", "10YRO-TEL------P", "Europe/Bucharest", "Romania", 9_000),
    Area("RS", "10YCS-SERBIATSOV", "Europe/Belgrade", "Serbia", 7_000),
    Area(
        "IE_SEM", "10Y1001A1001A59C", "Europe/Dublin", "Ireland single electricity market bidding zone", 7_000
    ),
    Area("GB", "10YGB----------A", "Europe/London", "Great Britain (National Grid)", 50_000),
)

DEFAULT_AREAS: tuple[str, ...] = ("DE_LU", "FR", "NL")

_BY_EIC = MappingProxyType({a.eic: a for a in AREAS.values()})


class UnknownName(KeyError):
    """A name that is not in the catalogue; the message lists the close matches."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def _unknown(kind: str, name: str, known: list[str]) -> UnknownName:
    close = difflib.get_close_matches(name.upper(), [k.upper() for k in known], n=4, cutoff=0.5)
    close_names = [k for k in known if k.upper() in close]
    hint = f"; did you mean {', '.join(close_names)}?" if close_names else ""
    return UnknownName(f"unknown {kind} {name!r}{hint} (known: {', '.join(sorted(known))})")


def area(name_or_eic: str) -> Area:
    """Look an area up by short name (case-insensitive, '-' or '_') or by EIC code."""
    key = name_or_eic.strip()
    if key in _BY_EIC:
        return _BY_EIC[key]
    normal = key.upper().replace("-", "_")
    if normal in AREAS:
        return AREAS[normal]
    # Common alternative spellings: DK_1, NO_2, SE_3 (entsoe-py) for DK1, NO2, SE3.
    compact = normal.replace("_", "")
    for a in AREAS.values():
        if a.name.replace("_", "") == compact:
            return a
    raise _unknown("area", name_or_eic, list(AREAS))


def endpoint(name: str) -> Endpoint:
    """Look an endpoint up by name."""
    key = name.strip().lower()
    if key in ENDPOINTS:
        return ENDPOINTS[key]
    raise _unknown("endpoint", name, list(ENDPOINTS))


def published_by(endpoint: Endpoint, partition_start: datetime, now: datetime) -> bool:
    """Whether ENTSO-E can have published any of a partition's data by ``now``.

    The lead counts from the partition's start as its key names it (a UTC midnight). A local
    period starts up to the area's UTC offset earlier, hours that fall between two refresh ticks
    (defs/automation.py). Month- and year-ahead documents start on the period's first Monday, and
    the simulator counts their lead from there: up to six days later than this, when the refresh
    asks early (a few requests, not a lost publication).
    """
    return now >= partition_start - (endpoint.published_ahead or timedelta(0))


def containers(a: Area) -> tuple[Area, ...]:
    """The catalogue areas that contain ``a``, directly or through others (DE_50HZ: DE_LU, DE_AT_LU)."""
    found: list[Area] = []
    pending = [a.name]
    while pending:
        name = pending.pop()
        for outer in AREAS.values():
            if name in outer.parts and outer not in found:
                found.append(outer)
                pending.append(outer.name)
    return tuple(found)


def nested_pairs(areas: tuple[Area, ...] | list[Area]) -> list[tuple[Area, Area]]:
    """(part, container) for every pair of the given areas where the container holds the part:
    what a sum over these areas must not count twice."""
    chosen = set(areas)
    return [(a, outer) for a in areas for outer in containers(a) if outer in chosen]
