"""Index templates of zoom-ingest's data streams (`logs-zoom.webhook-*`): every field typed up front.

Types follow the reference integration's field list, so a data view over `logs-*` that covers an
Elastic Agent's `logs-zoom.webhook-*` indices and ours shows no conflicts: `date_detection` off as in
Fleet's templates, and the ECS `.text` multi-fields. Ids are keyword because Zoom sends the same id
as a number in one event and a string in another; a dynamically mapped `long` would then reject
the string. Strings Zoom adds later under `zoom.*` become keyword, not text, so nothing is analysed
by surprise, and payloads of families the reference does not map (`zoom.object`) are flattened so
their changing shapes can never cause a mapping conflict.

Fleet installs Elastic's integration as an index template named `logs-zoom.webhook` (priority 200)
on the same pattern. Ours has a name of its own and a higher priority, carries `_meta.managed_by:
zoom-ingest`, and zoom-ingest only ever replaces or deletes templates that carry it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from shared.config import DATASET

OWNER = "zoom-ingest"
WEBHOOK_DATASET = DATASET
# Above Fleet's 200 (overlapping templates may not share a priority) and above 250, the priority of
# LEGACY_NAME, so this one can be installed before that one is removed.
PRIORITY = 300
# The name zoom-ingest used before 2026-12, which is also the name of Fleet's template.
LEGACY_NAME = "logs-zoom.webhook"
# Mapper types a minimal Elasticsearch build may lack (constant_keyword and wildcard are x-pack
# plugins, match_only_text is in mapper-extras), and what stands in for each there. Kibana's data
# views see the same type (string) either way.
SUBSTITUTES = {"constant_keyword": "keyword", "match_only_text": "text", "wildcard": "keyword"}


def template_name(dataset: str = WEBHOOK_DATASET) -> str:
    return f"{OWNER}.logs-{dataset}"


def index_pattern(dataset: str = WEBHOOK_DATASET) -> str:
    return f"logs-{dataset}-*"


def custom_component(dataset: str = WEBHOOK_DATASET) -> str:
    """Yours to create: settings (an ILM policy, shards, refresh) and mappings in this component
    template apply to new backing indices and survive our template updates. Fleet's template for
    the same data stream includes it too."""
    return f"logs-{dataset}@custom"


def is_ours(template: Mapping[str, Any]) -> bool:
    """Whether an installed index template (the `index_template` of GET _index_template) is ours."""
    return bool(template.get("_meta", {}).get("managed_by") == OWNER)


TEMPLATE_NAME = template_name()
INDEX_PATTERN = index_pattern()
CUSTOM_COMPONENT = custom_component()

# parent path -> leaf names, all keyword
KEYWORD_FIELDS: dict[str, str] = {
    "": "tags",
    "zoom": "master_account_id sub_account_id operator_id operator account_id creation_type operation scope",
    "zoom.account": (
        "id owner_id email owner_email account_name account_alias account_email"
        " account_support_name account_support_email"
    ),
    "zoom.chat_channel": "name id type date_time",
    "zoom.chat_message": (
        "id type session_id contact_email contact_id channel_id channel_name message date_time"
    ),
    "zoom.meeting": "id uuid host_id topic type timezone issues password",
    "zoom.phone": "id user_id download_url call_id",
    "zoom.phone.caller": (
        "id user_id number_type name phone_number extension_type extension_number timezone device_type"
    ),
    "zoom.phone.callee": (
        "id user_id name number_type phone_number extension_type extension_number timezone device_type"
    ),
    "zoom.recording": "id uuid host_id topic type timezone share_url host_email",
    "zoom.user": (
        "id first_name last_name email type login_type phone_number phone_country company pmi pic_url"
        " vanity_name timezone language host_key role dept presence_status personal_notes client_type"
        " version"
    ),
    "zoom.webinar": "id join_url uuid host_id topic type timezone agenda password issues",
    "zoom.zoomroom": (
        "id room_name calendar_name calendar_id event_id change_key resource_email email issue"
        " alert_type component alert_kind"
    ),
    "zoom.registrant": (
        "id status email first_name last_name address city country zip state phone industry org"
        " job_title purchasing_time_frame role_in_purchase_process no_of_employees comments join_url"
    ),
    "zoom.participant": (
        "email id user_id user_name participant_user_id participant_uuid registrant_id public_ip date_time"
    ),
    "zoom.participant.sharing_details": "link_source content file_link date_time source",
    "data_stream": "type dataset namespace",
    "ecs": "version",
    "event": "action category dataset id kind module outcome type timezone",
    "related": "user",
    "user": "domain email id name full_name",
    "user.target": "domain email full_name id name",
    "user.target.group": "domain id name",
    "user.changes": "domain email full_name id name",
    "user.changes.group": "domain id name",
    "observer": "vendor product",
    "url": "full",
    "source.user": "id",
    "destination.user": "id",
    "source.geo": ("city_name continent_name country_iso_code country_name region_iso_code region_name"),
    "source.as.organization": "name",
}

TYPED_FIELDS: dict[str, str] = {
    "@timestamp": "date",
    "event.created": "date",
    "event.ingested": "date",
    "event.start": "date",
    "event.end": "date",
    "event.duration": "long",
    "event.original": "keyword",
    "error.message": "text",
    "message": "text",
    "source.ip": "ip",
    "related.ip": "ip",
    "source.geo.location": "geo_point",
    "source.as.number": "long",
    "zoom.timestamp": "date",
    "zoom.time_stamp": "date",
    "zoom.meeting.start_time": "date",
    "zoom.meeting.duration": "long",
    "zoom.phone.ringing_start_time": "date",
    "zoom.phone.connected_start_time": "date",
    "zoom.phone.answer_start_time": "date",
    "zoom.phone.call_end_time": "date",
    "zoom.phone.date_time": "date",
    "zoom.phone.duration": "long",
    "zoom.recording.start_time": "date",
    "zoom.recording.duration": "long",
    "zoom.recording.total_size": "long",
    "zoom.recording.recording_count": "long",
    "zoom.recording.recording_file.recording_start": "date",
    "zoom.recording.recording_file.recording_end": "date",
    "zoom.webinar.start_time": "date",
    "zoom.webinar.duration": "long",
    "zoom.participant.join_time": "date",
    "zoom.participant.leave_time": "date",
    "zoom.user.use_pmi": "boolean",
    "zoom.old_values": "flattened",
    "zoom.settings": "flattened",
    "zoom.object": "flattened",
}

# Constant per data stream: stored once per shard instead of per document.
CONSTANT_FIELDS = (
    "data_stream.type",
    "data_stream.dataset",
    "data_stream.namespace",
    "event.module",
    "event.dataset",
)
# Keyword fields with ECS's `.text` multi-field (match_only_text), as the integration maps them.
TEXT_MULTI_FIELDS = (
    "user.name",
    "user.full_name",
    "user.target.name",
    "user.target.full_name",
    "user.changes.name",
    "user.changes.full_name",
    "source.as.organization.name",
)


def substitute(kind: str, missing: Collection[str]) -> str:
    """The mapper type to use for `kind` on a cluster without the types in `missing`."""
    return SUBSTITUTES[kind] if kind in missing else kind


def field_types(missing: Collection[str] = ()) -> dict[str, str]:
    """{dotted field: type} of the webhook data stream, without the mapper types in `missing`."""
    types = {
        f"{parent}.{leaf}" if parent else leaf: "keyword"
        for parent, leaves in KEYWORD_FIELDS.items()
        for leaf in leaves.split()
    }
    types.update(TYPED_FIELDS)
    types.update(dict.fromkeys(CONSTANT_FIELDS, "constant_keyword"))
    types.update({f"{path}.text": "match_only_text" for path in TEXT_MULTI_FIELDS})
    return {path: substitute(kind, missing) for path, kind in types.items()}


def _properties(types: Mapping[str, str]) -> dict[str, Any]:
    """Mappings of dotted fields; a field `a.b.text` whose parent `a.b` is a keyword field is the
    parent's multi-field."""
    root: dict[str, Any] = {}
    multi_fields = {path for path in types if path.rpartition(".")[0] in types}
    for path, field_type in sorted(types.items()):
        if path in multi_fields:
            continue
        node = root
        *parents, leaf = path.split(".") if path != "@timestamp" else ["@timestamp"]
        for parent in parents:
            node = node.setdefault(parent, {"properties": {}})["properties"]
        mapping: dict[str, Any] = {"type": field_type}
        if field_type == "keyword" and path != "event.original":
            mapping["ignore_above"] = 1024
        if path == "event.original":
            mapping.update(index=False, doc_values=False)
        subfields = {
            sub.rpartition(".")[2]: {"type": types[sub]}
            for sub in multi_fields
            if sub.rpartition(".")[0] == path
        }
        if subfields:
            mapping["fields"] = subfields
        node[leaf] = mapping
    return root


def index_template(
    dataset: str = WEBHOOK_DATASET,
    types: Mapping[str, str] | None = None,
    description: str = "Zoom webhook events as ECS documents",
) -> dict[str, Any]:
    """The body of PUT _index_template/<template_name(dataset)>: a data stream template for
    `logs-<dataset>-*` with these field types (default: the webhook's)."""
    component = custom_component(dataset)
    return {
        "index_patterns": [index_pattern(dataset)],
        "data_stream": {},
        "priority": PRIORITY,
        "composed_of": [component],
        "ignore_missing_component_templates": [component],
        "template": {
            "mappings": {
                # As Fleet's templates: a string that looks like a date stays a string.
                "date_detection": False,
                "dynamic_templates": [
                    {
                        "zoom_strings_as_keyword": {
                            "path_match": "zoom.*",
                            "match_mapping_type": "string",
                            "mapping": {"type": "keyword", "ignore_above": 1024},
                        }
                    }
                ],
                "properties": _properties(field_types() if types is None else types),
            }
        },
        "_meta": {"managed_by": OWNER, "description": description},
    }


def without_types(template: dict[str, Any], missing: Collection[str]) -> dict[str, Any]:
    """The template with every mapper type in `missing` replaced by its SUBSTITUTES entry."""

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                key: substitute(item, missing) if key == "type" and isinstance(item, str) else walk(item)
                for key, item in value.items()
            }
        return [walk(item) for item in value] if isinstance(value, list) else value

    return dict(walk(template))
