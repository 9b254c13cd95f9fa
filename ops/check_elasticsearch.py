"""The Elasticsearch lines of `zoom-ingest check`: reachability, version, credentials, index templates
(and which template applies to each data stream: the webhook one, and with the poller each report
stream's) and privileges. Read-only, each request time-boxed."""

from __future__ import annotations

import fnmatch
import json
from typing import Any, NamedTuple

from elasticsearch import (
    ApiError,
    AuthenticationException,
    Elasticsearch,
    TransportError,
    UnsupportedProductError,
)
from elasticsearch import ConnectionTimeout as ESConnectionTimeout

from ops.check_result import Result, fail, ok, warn
from ops.registry import redacted_url
from shared.config import Settings, env_name
from worker.reasons import describe
from worker.report_template import report_dataset, report_template
from worker.sink import build_client
from worker.template import (
    INDEX_PATTERN,
    LEGACY_NAME,
    PRIORITY,
    SUBSTITUTES,
    TEMPLATE_NAME,
    index_pattern,
    index_template,
    is_ours,
    template_name,
)

ES_TIMEOUT_SECONDS = 5.0
SETUP = "run `zoom-ingest setup` (workers also install it when they start)"
ES_CREDENTIALS = (
    f"set either {env_name('es_api_key')} (encoded API key) or {env_name('es_username')} and "
    f"{env_name('es_password')} to credentials this cluster accepts"
)
# What the worker needs, as README.md and docs/operations.md document it; nothing more.
CLUSTER_PRIVILEGES = ["manage_index_templates"]
INDEX_PRIVILEGES = ["create_doc", "auto_configure"]
PRIVILEGES = (
    f"grant the user or API key index privileges create_doc and auto_configure on {INDEX_PATTERN} "
    "(and, with the poller, on logs-zoom.activity-*, logs-zoom.operation-*, "
    "logs-zoom.meeting_activity-*) and the cluster privilege manage_index_templates"
)


class Target(NamedTuple):
    """A data stream zoom-ingest writes, and the index template it installs for it."""

    label: str  # after "index template" and "template precedence" in the lines' names
    template_name: str
    template: dict[str, Any]
    data_stream: str


def targets(settings: Settings) -> list[Target]:
    """The webhook data stream and, when the poller is configured, the report streams it polls."""
    found = [Target("", TEMPLATE_NAME, index_template(), settings.data_stream)]
    for stream in settings.poll_streams if settings.poller_configured else []:
        dataset = report_dataset(stream)
        data_stream = f"logs-{dataset}-{settings.namespace}"
        found.append(Target(f" ({stream})", template_name(dataset), report_template(stream), data_stream))
    return found


def check_elasticsearch(settings: Settings) -> list[Result]:
    try:
        client = build_client(settings).options(request_timeout=ES_TIMEOUT_SECONDS)
    except ValueError as error:  # e.g. a host URL it cannot parse
        hint = "check ZOOM_INGEST_ES_HOSTS and the credentials settings"
        return [fail("elasticsearch", f"the client refuses the settings: {error}", hint)]
    try:
        where = ", ".join(redacted_url(host) for host in settings.es_hosts)
        # The poller's records go to the report streams' data streams, written by the same workers.
        patterns = [INDEX_PATTERN]
        if settings.poller_configured:
            patterns += [index_pattern(report_dataset(stream)) for stream in settings.poll_streams]
        return _elasticsearch(client, where, targets(settings), patterns)
    finally:
        client.close()


def _elasticsearch(
    client: Elasticsearch, where: str, streams: list[Target], patterns: list[str]
) -> list[Result]:
    reachable = ok("elasticsearch", f"reachable at {where}")
    fix = f"start Elasticsearch, or fix {env_name('es_hosts')} (--es-hosts; CA/verify settings for HTTPS)"
    try:
        nodes = client.nodes.info(filter_path="nodes.*.version").body
    except UnsupportedProductError:
        return [fail("elasticsearch", f"{where} answers without Elasticsearch's product header", fix)]
    except ESConnectionTimeout:
        return [fail("elasticsearch", f"no answer from {where} within {ES_TIMEOUT_SECONDS:.0f}s", fix)]
    except TransportError as error:
        return [fail("elasticsearch", f"cannot reach {where}: {error.message}", fix)]
    except AuthenticationException:
        return [reachable, fail("es credentials", "rejected (HTTP 401)", ES_CREDENTIALS)]
    except ApiError as error:
        if error.meta.status == 403:
            # Reading it takes the cluster privilege monitor, which the worker does not need.
            detail = "not read: that needs the cluster privilege monitor, which the worker does not need"
            version = ok("es version", detail)
        else:
            version = warn("es version", f"could not read it: {describe(error)}", "make sure it is 8.x")
    else:
        versions = sorted({str(node.get("version")) for node in nodes.get("nodes", {}).values()})
        if any(not found.startswith("8.") for found in versions) or not versions:
            detail = f"{', '.join(versions) or 'unknown'}: zoom-ingest's client is pinned to 8.x"
            version = fail("es version", detail, "use an Elasticsearch 8.x cluster")
        else:
            version = ok("es version", ", ".join(versions))
    credentials, security = _credentials(client)
    if credentials.status == "FAIL":
        return [reachable, version, credentials]
    privileges = _privileges(client, security, patterns)
    return [reachable, version, credentials, *_templates(client, streams), privileges]


def _credentials(client: Elasticsearch) -> tuple[Result, bool | None]:
    """The credentials line, and whether security is on (None: unknown)."""
    try:
        who = client.security.authenticate().body
    except AuthenticationException:
        return fail("es credentials", "rejected (HTTP 401)", ES_CREDENTIALS), None
    except ApiError as error:
        # No _security API: security is disabled (or the distribution has none).
        text = error.body if isinstance(error.body, str) else json.dumps(error.body)
        markers = ("no handler found", "not enabled", "explicitly enabled", "Incorrect HTTP method")
        if error.meta.status in (400, 404, 405, 500) and any(marker in text for marker in markers):
            return ok("es credentials", "security is off on this cluster: none needed"), False
        return warn("es credentials", f"could not verify them: {describe(error)}", ES_CREDENTIALS), None
    except TransportError as error:
        return warn("es credentials", f"could not verify them: {describe(error)}", ES_CREDENTIALS), None
    return ok("es credentials", f"accepted: authenticated as {who.get('username')}"), True


def mapped_field_types(template: dict[str, Any]) -> dict[str, str]:
    """{dotted field: type} of a template's mappings, multi-fields included. A type setup replaces on
    clusters without its mapper (SUBSTITUTES) counts as its stand-in."""
    types: dict[str, str] = {}

    def walk(properties: dict[str, Any], prefix: str) -> None:
        for name, spec in properties.items():
            if "properties" in spec:
                walk(spec["properties"], f"{prefix}{name}.")
                continue
            kind = str(spec.get("type", "object"))
            types[prefix + name] = SUBSTITUTES.get(kind, kind)
            for sub, subspec in spec.get("fields", {}).items():
                kind = str(subspec.get("type", "object"))
                types[f"{prefix}{name}.{sub}"] = SUBSTITUTES.get(kind, kind)

    walk(template.get("template", {}).get("mappings", {}).get("properties", {}), "")
    return types


def template_differences(installed: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    differences = [
        f"{key} {installed.get(key)!r} (expected {expected[key]!r})"
        for key in ("priority", "index_patterns", "composed_of")
        if installed.get(key) != expected[key]
    ]
    if "data_stream" not in installed:
        differences.append("not a data stream template")
    if not is_ours(installed):
        differences.append("_meta does not say it is zoom-ingest's")
    date_detection = installed.get("template", {}).get("mappings", {}).get("date_detection", True)
    if date_detection is not False:
        differences.append("date_detection on (expected off)")
    have, want = mapped_field_types(installed), mapped_field_types(expected)
    for label, names in (
        ("missing fields", sorted(set(want) - set(have))),
        (
            "fields of another type",
            sorted(name for name in set(want) & set(have) if want[name] != have[name]),
        ),
        ("fields unknown to this version", sorted(set(have) - set(want))),
    ):
        if names:
            count = f" ({len(names)})" if len(names) > 5 else ""
            differences.append(f"{label}{count}: {', '.join(names[:5])}{', ...' * (len(names) > 5)}")
    return differences


def _templates(client: Elasticsearch, streams: list[Target]) -> list[Result]:
    """For each data stream, its template line, and which template applies to it."""
    try:
        found = client.indices.get_index_template().body["index_templates"]
    except (ApiError, TransportError) as error:
        return [warn("index template", f"could not read the index templates: {describe(error)}", SETUP)]
    templates = {entry["name"]: entry["index_template"] for entry in found}
    lines = []
    for target in streams:
        name, label = target.template_name, f"index template{target.label}"
        ours = templates.get(name)
        if ours is None:
            lines.append(warn(label, f"{name} is not installed", SETUP))
        elif differences := template_differences(ours, target.template):
            lines.append(warn(label, f"{name} is outdated: " + "; ".join(differences), SETUP))
        else:
            lines.append(ok(label, f"{name} matches this version"))
        lines.append(_precedence(templates, target))
    return lines


def _precedence(templates: dict[str, dict[str, Any]], target: Target) -> Result:
    """Which template Elasticsearch uses for the data stream's next backing index: of those whose
    patterns match its name, the one of highest priority (overlapping ones cannot share one)."""
    label, data_stream = f"template precedence{target.label}", target.data_stream
    matching = {
        name: template
        for name, template in templates.items()
        if any(fnmatch.fnmatchcase(data_stream, pattern) for pattern in template.get("index_patterns", []))
    }
    if not matching:
        return warn(label, f"no index template matches {data_stream}", SETUP)
    winner = max(matching, key=lambda name: int(matching[name].get("priority") or 0))

    def described(name: str) -> str:
        owner = matching[name].get("_meta", {}).get("managed_by")
        managed = "Fleet-managed " if owner == "fleet" else ""
        return f"{managed}{name} (priority {matching[name].get('priority') or 0})"

    others = [described(name) for name in sorted(matching) if name != winner]
    also = f"; also matching: {', '.join(others)}" if others else ""
    if winner == target.template_name:
        return ok(label, f"{described(winner)} applies to {data_stream}{also}")
    if winner == LEGACY_NAME and is_ours(matching[winner]):
        detail = f"zoom-ingest's template under its former name {described(winner)} applies to {data_stream}"
        return warn(label, detail, SETUP)
    fix = (
        f"zoom-ingest's template (priority {PRIORITY}) must have the highest priority among those: "
        f"{SETUP}, and give {winner} a priority below {PRIORITY} or narrow its index_patterns"
    )
    detail = f"{described(winner)} applies to {data_stream}, not zoom-ingest's{also}"
    return warn(label, detail, fix)


def _privileges(client: Elasticsearch, security: bool | None, patterns: list[str]) -> Result:
    if security is False:
        return ok("es privileges", "security is off on this cluster: nothing to check")
    try:
        answer = client.security.has_privileges(
            cluster=CLUSTER_PRIVILEGES,
            index=[{"names": patterns, "privileges": INDEX_PRIVILEGES}],
        ).body
    except (ApiError, TransportError) as error:
        return warn("es privileges", f"could not check them: {describe(error)}", PRIVILEGES)
    missing = [f"cluster {name}" for name, held in answer.get("cluster", {}).items() if not held]
    for pattern in patterns:
        granted = answer.get("index", {}).get(pattern, {})
        missing += [f"{name} on {pattern}" for name in INDEX_PRIVILEGES if not granted.get(name)]
    if missing:
        return fail("es privileges", "missing " + ", ".join(missing), PRIVILEGES)
    return ok("es privileges", f"create_doc, auto_configure on {', '.join(patterns)}; manage_index_templates")
