"""Installing zoom-ingest's index templates: the webhook data stream's and each report stream's.

A template is created or updated under zoom-ingest's own name, never over one that is someone
else's (Fleet's, an operator's): those are left alone and reported (TemplateConflict). On a
cluster without some mapper types (worker/template.py's SUBSTITUTES, missing from minimal builds)
the fields are mapped as their stand-ins.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from elasticsearch import BadRequestError, Elasticsearch, NotFoundError

from worker.report_template import STREAMS, report_dataset, report_template
from worker.template import (
    LEGACY_NAME,
    SUBSTITUTES,
    WEBHOOK_DATASET,
    index_template,
    is_ours,
    template_name,
    without_types,
)

log = logging.getLogger("zoom_ingest.worker")


class TemplateConflict(Exception):
    """An index template zoom-ingest would write exists and is not zoom-ingest's."""


def install_templates(client: Elasticsearch) -> None:
    """One attempt at creating or updating every index template: webhooks and report streams."""
    substituted = install_template(client, WEBHOOK_DATASET, index_template())
    for stream in STREAMS:
        # A cluster that lacked a mapper for the first template lacks it for all: one warning.
        install_template(client, report_dataset(stream), report_template(stream), substitute=substituted)


def install_template(
    client: Elasticsearch, dataset: str, template: dict[str, Any], substitute: bool = False
) -> bool:
    """Create or update zoom-ingest's index template for `logs-<dataset>-*`, never replacing one that
    is not zoom-ingest's (TemplateConflict); then remove the template of the same data stream under
    zoom-ingest's former name, only if it is zoom-ingest's (under that name Fleet installs its own).

    Returns whether the mapper types in SUBSTITUTES were mapped as their stand-ins: because the
    cluster refused one of them (logged), or at once with `substitute`."""
    name = template_name(dataset)
    existing = _installed(client, name)
    if existing is not None and not is_ours(existing):
        owner = existing.get("_meta", {}).get("managed_by", "nobody")
        raise TemplateConflict(
            f"index template {name} exists and is not zoom-ingest's (_meta.managed_by: {owner}); "
            "zoom-ingest does not replace it: rename or delete it, then run `zoom-ingest setup`"
        )
    if substitute:
        client.indices.put_index_template(name=name, **without_types(template, SUBSTITUTES))
    else:
        try:
            client.indices.put_index_template(name=name, **template)
        except BadRequestError as error:
            lacking = [kind for kind in SUBSTITUTES if f"[{kind}]" in json.dumps(error.body)]
            if not lacking:
                raise
            log.warning(
                "this cluster lacks the %s mapper; mapping %s as %s instead",
                lacking[0], ", ".join(SUBSTITUTES), ", ".join(SUBSTITUTES.values()),
            )  # fmt: skip
            client.indices.put_index_template(name=name, **without_types(template, SUBSTITUTES))
            substitute = True
    legacy = _installed(client, LEGACY_NAME) if dataset == WEBHOOK_DATASET else None
    if legacy is not None and is_ours(legacy):
        client.indices.delete_index_template(name=LEGACY_NAME)
        log.info("removed zoom-ingest's index template under its former name %s", LEGACY_NAME)
    return substitute


def _installed(client: Elasticsearch, name: str) -> dict[str, Any] | None:
    try:
        found = client.indices.get_index_template(name=name).body["index_templates"]
    except NotFoundError:
        return None
    return dict(found[0]["index_template"]) if found else None
