"""source.ip enrichment from MaxMind databases, and what happens without them."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from worker.transform.geoip import open_database, set_source_ip
from worker.transform.options import TransformOptions


def participant_with(public_ip: Any) -> dict[str, Any]:
    return {"zoom": {"participant": {"id": "p1", "public_ip": public_ip}}}


def enriched(public_ip: Any, **options: Any) -> dict[str, Any]:
    document = participant_with(public_ip)
    set_source_ip(document, TransformOptions(**options))
    return document


def test_city_and_asn_fields(maxmind_databases: dict[str, Path]) -> None:
    document = enriched(
        "89.160.20.112", geoip_city_db=maxmind_databases["city"], geoip_asn_db=maxmind_databases["asn"]
    )

    assert document["source"] == {
        "ip": "89.160.20.112",
        "geo": {
            "city_name": "Linköping",
            "continent_name": "Europe",
            "country_iso_code": "SE",
            "country_name": "Sweden",
            "region_iso_code": "SE-E",
            "region_name": "Östergötland County",
            "location": {"lat": 58.4167, "lon": 15.6167},
        },
        "as": {"number": 29518, "organization": {"name": "Bredband2 AB"}},
    }
    assert document["related"] == {"ip": ["89.160.20.112"]}
    assert document["zoom"]["participant"] == {"id": "p1"}


def test_asn_without_organization_name(maxmind_databases: dict[str, Path]) -> None:
    document = enriched("67.43.156.1", geoip_asn_db=maxmind_databases["asn"])

    assert document["source"]["as"] == {"number": 35908}


def test_ipv6_address_is_looked_up(maxmind_databases: dict[str, Path]) -> None:
    document = enriched("2001:218::1", geoip_city_db=maxmind_databases["city"])

    assert document["source"]["ip"] == "2001:218::1"
    assert document["source"]["geo"]["country_iso_code"] == "JP"


@pytest.mark.parametrize("address", ["10.1.2.3", "127.0.0.1", "::1"])
def test_address_not_in_the_databases_gets_no_geo(maxmind_databases: dict[str, Path], address: str) -> None:
    document = enriched(
        address, geoip_city_db=maxmind_databases["city"], geoip_asn_db=maxmind_databases["asn"]
    )

    assert document["source"] == {"ip": address}


def test_without_databases_only_the_address_is_set() -> None:
    assert enriched("81.2.69.144")["source"] == {"ip": "81.2.69.144"}


def test_unreadable_database_path_means_no_enrichment(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    garbage = tmp_path / "garbage.mmdb"
    garbage.write_bytes(b"not a maxmind database")

    with caplog.at_level(logging.WARNING):
        missing = enriched("81.2.69.144", geoip_city_db=tmp_path / "missing.mmdb")
        broken = enriched("81.2.69.144", geoip_asn_db=garbage)

    assert missing["source"] == {"ip": "81.2.69.144"}
    assert broken["source"] == {"ip": "81.2.69.144"}
    assert "missing.mmdb" in caplog.text and "garbage.mmdb" in caplog.text


def test_database_is_opened_once_per_path(maxmind_databases: dict[str, Path]) -> None:
    assert open_database(maxmind_databases["city"]) is open_database(maxmind_databases["city"])


@pytest.mark.parametrize("public_ip", ["not-an-ip", "999.1.1.1", 12345, ["1.2.3.4"]])
def test_invalid_public_ip_is_removed_without_source_ip(public_ip: Any) -> None:
    document = enriched(public_ip)

    assert "source" not in document and "related" not in document
    assert document["zoom"]["participant"] == {"id": "p1"}


def test_no_public_ip_changes_nothing() -> None:
    document: dict[str, Any] = {"zoom": {"participant": {"id": "p1"}}}

    set_source_ip(document, TransformOptions())

    assert document == {"zoom": {"participant": {"id": "p1"}}}
