"""The knobs of the transform, filled by the worker from shared.config.Settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TransformOptions:
    """How a webhook body becomes a document, beyond the reference mapping itself.

    namespace: data_stream.namespace of the target data stream (logs-zoom.webhook-<namespace>).
    tags: written to `tags` after `preserve_original_event` (when that is on).
    preserve_original: keep the raw body in `event.original` and add the tag `preserve_original_event`.
    geoip_city_db / geoip_asn_db: MaxMind databases (GeoLite2/GeoIP2 City and ASN) used to enrich
        `source.ip`; None means no enrichment.
    """

    namespace: str = "default"
    tags: tuple[str, ...] = ("zoom-webhook", "forwarded")
    preserve_original: bool = False
    geoip_city_db: Path | None = None
    geoip_asn_db: Path | None = None
