"""The Elasticsearch lines of `zoom-ingest check`: reachability, version, credentials, index template
and privileges. Read-only, each request time-boxed."""

from __future__ import annotations

import json
from typing import Any

from elasticsearch import (
    ApiError,
    AuthenticationException,
    Elasticsearch,
    NotFoundError,
    TransportError,
    UnsupportedProductError,
)
from elasticsearch import ConnectionTimeout as ESConnectionTimeout

from ops.check_result import Result, fail, ok, warn
from ops.registry import redacted_url
from shared.config import Settings, env_name
from worker.sink import build_client
from worker.template import CONSTANT_FIELDS, INDEX_PATTERN, TEMPLATE_NAME, index_template

ES_TIMEOUT_SECONDS = 5.0
SETUP = "run `zoom-ingest setup` (workers also install it when they start)"
ES_CREDENTIALS = (
    f"set either {env_name('es_api_key')} (encoded API key) or {env_name('es_username')} and "
    f"{env_name('es_password')} to credentials this cluster accepts"
)
INDEX_PRIVILEGES = ["create_doc", "auto_configure"]
PRIVILEGES = (
    f"grant the user or API key index privileges create_doc and auto_configure on {INDEX_PATTERN} "
    "and the cluster privilege manage_index_templates"
)


def check_elasticsearch(settings: Settings) -> list[Result]:
    try:
        client = build_client(settings).options(request_timeout=ES_TIMEOUT_SECONDS)
    except ValueError as error:  # e.g. a host URL it cannot parse
        hint = "check ZOOM_INGEST_ES_HOSTS and the credentials settings"
        return [fail("elasticsearch", f"the client refuses the settings: {error}", hint)]
    try:
        return _elasticsearch(client, ", ".join(redacted_url(host) for host in settings.es_hosts))
    finally:
        client.close()


def _why(error: ApiError | TransportError) -> str:
    if isinstance(error, ApiError):
        return f"HTTP {error.meta.status} {str(error.message)[:200]}"
    return str(error.message)


def _elasticsearch(client: Elasticsearch, where: str) -> list[Result]:
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
        why = (
            "the credentials lack the cluster privilege monitor" if error.meta.status == 403 else _why(error)
        )
        version = warn("es version", f"could not read it: {why}", "make sure it is 8.x")
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
    return [reachable, version, credentials, _template(client), _privileges(client, security)]


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
        return warn("es credentials", f"could not verify them: {_why(error)}", ES_CREDENTIALS), None
    except TransportError as error:
        return warn("es credentials", f"could not verify them: {_why(error)}", ES_CREDENTIALS), None
    return ok("es credentials", f"accepted: authenticated as {who.get('username')}"), True


def field_types(template: dict[str, Any]) -> dict[str, str]:
    """{dotted field: type} of a template's mappings. Constant fields count as keyword: setup maps
    them as keyword on clusters without the constant_keyword mapper."""
    types: dict[str, str] = {}

    def walk(properties: dict[str, Any], prefix: str) -> None:
        for name, spec in properties.items():
            if "properties" in spec:
                walk(spec["properties"], f"{prefix}{name}.")
            else:
                types[prefix + name] = str(spec.get("type", "object"))

    walk(template.get("template", {}).get("mappings", {}).get("properties", {}), "")
    types.update({name: "keyword" for name in CONSTANT_FIELDS if types.get(name) == "constant_keyword"})
    return types


def template_differences(installed: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    differences = [
        f"{key} {installed.get(key)!r} (expected {expected[key]!r})"
        for key in ("priority", "index_patterns", "composed_of")
        if installed.get(key) != expected[key]
    ]
    if "data_stream" not in installed:
        differences.append("not a data stream template")
    have, want = field_types(installed), field_types(expected)
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


def _template(client: Elasticsearch) -> Result:
    try:
        found = client.indices.get_index_template(name=TEMPLATE_NAME).body["index_templates"]
    except NotFoundError:
        found = []
    except (ApiError, TransportError) as error:
        return warn("index template", f"could not read {TEMPLATE_NAME}: {_why(error)}", SETUP)
    if not found:
        return warn("index template", f"{TEMPLATE_NAME} is not installed", SETUP)
    differences = template_differences(found[0]["index_template"], index_template())
    if differences:
        return warn("index template", f"{TEMPLATE_NAME} is outdated: " + "; ".join(differences), SETUP)
    return ok("index template", f"{TEMPLATE_NAME} matches this version")


def _privileges(client: Elasticsearch, security: bool | None) -> Result:
    if security is False:
        return ok("es privileges", "security is off on this cluster: nothing to check")
    try:
        answer = client.security.has_privileges(
            cluster=["manage_index_templates"],
            index=[{"names": [INDEX_PATTERN], "privileges": INDEX_PRIVILEGES}],
        ).body
    except (ApiError, TransportError) as error:
        return warn("es privileges", f"could not check them: {_why(error)}", PRIVILEGES)
    granted = answer.get("index", {}).get(INDEX_PATTERN, {})
    missing = [f"cluster {name}" for name, held in answer.get("cluster", {}).items() if not held]
    missing += [f"{name} on {INDEX_PATTERN}" for name in INDEX_PRIVILEGES if not granted.get(name)]
    if missing:
        return fail("es privileges", "missing " + ", ".join(missing), PRIVILEGES)
    return ok("es privileges", f"create_doc, auto_configure on {INDEX_PATTERN}; manage_index_templates")
