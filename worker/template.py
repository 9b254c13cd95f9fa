"""The index template for `logs-zoom.webhook-*`: a data stream, with every field typed up front.

Types follow the reference integration's field list. Ids are keyword because Zoom sends the same id
as a number in one event and a string in another; a dynamically mapped `long` would then reject
the string. Strings Zoom adds later under `zoom.*` become keyword, not text, so nothing is analysed
by surprise, and payloads of families the reference does not map (`zoom.object`) are flattened so
their changing shapes can never cause a mapping conflict.
"""

from __future__ import annotations

from typing import Any

TEMPLATE_NAME = "logs-zoom.webhook"
# Yours to create: settings (an ILM policy, shards, refresh) and mappings in this component template
# apply to new backing indices and survive our template updates, as Fleet's "@custom" ones do.
CUSTOM_COMPONENT = "logs-zoom.webhook@custom"
INDEX_PATTERN = "logs-zoom.webhook-*"
# Above the stack's built-in `logs` template (priority 100) so our mappings win.
PRIORITY = 250

# parent path -> leaf names, all keyword
KEYWORD_FIELDS: dict[str, str] = {
    "": "tags",
    "zoom": "master_account_id sub_account_id operator_id operator account_id creation_type operation scope",
    "zoom.account": (
        "id owner_id email owner_email account_name account_alias account_email"
        " account_support_name account_support_email"
    ),
    "zoom.chat_channel": "name id type",
    "zoom.chat_message": "id type session_id contact_email contact_id channel_id channel_name message",
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
        "email id user_id user_name participant_user_id participant_uuid registrant_id public_ip"
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
    "zoom.chat_channel.date_time": "date",
    "zoom.chat_message.date_time": "date",
    "zoom.participant.date_time": "date",
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

# Constant per data stream: stored once per shard instead of per document where the cluster has
# the constant_keyword mapper (every default distribution; minimal builds lack it).
CONSTANT_FIELDS = (
    "data_stream.type",
    "data_stream.dataset",
    "data_stream.namespace",
    "event.module",
    "event.dataset",
)


def field_types(constant_keyword: bool = True) -> dict[str, str]:
    types = {
        f"{parent}.{leaf}" if parent else leaf: "keyword"
        for parent, leaves in KEYWORD_FIELDS.items()
        for leaf in leaves.split()
    }
    types.update(TYPED_FIELDS)
    if constant_keyword:
        types.update(dict.fromkeys(CONSTANT_FIELDS, "constant_keyword"))
    return types


def _properties(types: dict[str, str]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for path, field_type in sorted(types.items()):
        node = root
        *parents, leaf = path.split(".") if path != "@timestamp" else ["@timestamp"]
        for parent in parents:
            node = node.setdefault(parent, {"properties": {}})["properties"]
        mapping: dict[str, Any] = {"type": field_type}
        if field_type == "keyword" and path != "event.original":
            mapping["ignore_above"] = 1024
        if path == "event.original":
            mapping.update(index=False, doc_values=False)
        node[leaf] = mapping
    return root


def index_template(constant_keyword: bool = True) -> dict[str, Any]:
    """The body of PUT _index_template/logs-zoom.webhook."""
    return {
        "index_patterns": [INDEX_PATTERN],
        "data_stream": {},
        "priority": PRIORITY,
        "composed_of": [CUSTOM_COMPONENT],
        "ignore_missing_component_templates": [CUSTOM_COMPONENT],
        "template": {
            "mappings": {
                "dynamic_templates": [
                    {
                        "zoom_strings_as_keyword": {
                            "path_match": "zoom.*",
                            "match_mapping_type": "string",
                            "mapping": {"type": "keyword", "ignore_above": 1024},
                        }
                    }
                ],
                "properties": _properties(field_types(constant_keyword)),
            }
        },
        "_meta": {"managed_by": "zoom-ingest", "description": "Zoom webhook events as ECS documents"},
    }
