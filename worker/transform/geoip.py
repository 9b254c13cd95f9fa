"""source.ip from a participant's public_ip, with GeoIP (City) and ASN enrichment from MaxMind.

The fields are the ones Elasticsearch's geoip processor writes for the reference:
source.geo.{city_name, continent_name, country_iso_code, country_name, region_iso_code,
region_name, location{lat, lon}} and source.as.{number, organization.name}. Each database is opened
once per path; a missing or unreadable database means no enrichment (logged once), never an error.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
from pathlib import Path
from typing import Any

import maxminddb

from worker.transform.fields import Document, append, pop, put
from worker.transform.options import TransformOptions

logger = logging.getLogger(__name__)


def set_source_ip(document: Document, options: TransformOptions) -> None:
    """zoom.participant.public_ip -> source.ip (+ related.ip, geo, as); public_ip is removed."""
    public_ip = pop(document, "zoom.participant.public_ip")
    if isinstance(public_ip, str) and is_ip(public_ip):
        add_source_ip(document, public_ip, options)
    # an invalid address is ignored, as the reference's convert step does


def add_source_ip(document: Document, address: str, options: TransformOptions) -> None:
    """source.ip, related.ip, and source.geo/source.as from the configured databases."""
    put(document, "source.ip", address)
    append(document, "related.ip", address, allow_duplicates=False)
    geo = _geo_fields(_lookup(options.geoip_city_db, address))
    if geo:
        put(document, "source.geo", geo)
    autonomous_system = _as_fields(_lookup(options.geoip_asn_db, address))
    if autonomous_system:
        put(document, "source.as", autonomous_system)


def is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


@functools.lru_cache(maxsize=8)
def open_database(path: Path) -> maxminddb.Reader | None:
    try:
        return maxminddb.open_database(str(path))
    except (OSError, ValueError, maxminddb.InvalidDatabaseError) as error:
        logger.warning("GeoIP database %s cannot be opened, enrichment from it is off: %s", path, error)
        return None


def _lookup(path: Path | None, ip: str) -> dict[str, Any]:
    if path is None:
        return {}
    reader = open_database(Path(path))
    if reader is None:
        return {}
    try:
        record = reader.get(ip)
    except (ValueError, maxminddb.InvalidDatabaseError):  # e.g. an IPv6 address in an IPv4-only database
        return {}
    return record if isinstance(record, dict) else {}


def _english(record: Any) -> Any:
    names = record.get("names") if isinstance(record, dict) else None
    return names.get("en") if isinstance(names, dict) else None


def _geo_fields(record: dict[str, Any]) -> dict[str, Any]:
    country = record.get("country") or {}
    subdivisions = record.get("subdivisions") or [{}]
    region = subdivisions[0] if isinstance(subdivisions[0], dict) else {}
    location = record.get("location") or {}
    geo: dict[str, Any] = {
        "city_name": _english(record.get("city")),
        "continent_name": _english(record.get("continent")),
        "country_iso_code": country.get("iso_code"),
        "country_name": _english(country),
        "region_name": _english(region),
    }
    if country.get("iso_code") and region.get("iso_code"):
        geo["region_iso_code"] = f"{country['iso_code']}-{region['iso_code']}"
    if location.get("latitude") is not None and location.get("longitude") is not None:
        geo["location"] = {"lat": location["latitude"], "lon": location["longitude"]}
    return {key: value for key, value in geo.items() if value is not None}


def _as_fields(record: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if record.get("autonomous_system_number") is not None:
        fields["number"] = record["autonomous_system_number"]
    if record.get("autonomous_system_organization") is not None:
        fields["organization"] = {"name": record["autonomous_system_organization"]}
    return fields
