"""JSON for the Elasticsearch client: orjson, with the standard library's encoding for what orjson
refuses.

Encoding the bulk request is the worker's largest cost after the transform itself, and the worker
is CPU-bound; orjson encodes a document in about a third of the time (docs/benchmarks.md). It is
stricter than the json module: it refuses integers past 64 bits and strings holding a lone
surrogate, both of which a webhook body can carry. Such a document is encoded as before, by the
client's own serializer, instead of failing its whole bulk request.
"""

from __future__ import annotations

from typing import Any

import orjson
from elasticsearch.serializer import JsonSerializer, NdjsonSerializer, Serializer


class FastJsonSerializer(JsonSerializer):
    def json_dumps(self, data: Any) -> bytes:
        try:
            return orjson.dumps(data)
        except orjson.JSONEncodeError:
            return super().json_dumps(data)

    def json_loads(self, data: bytes) -> Any:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            return super().json_loads(data)


class FastNdjsonSerializer(NdjsonSerializer, FastJsonSerializer):
    pass


def serializers() -> dict[str, Serializer]:
    """For Elasticsearch(serializers=...): requests and responses, in both media types the client
    speaks (it derives the compatibility-mode ones from these)."""
    return {
        FastJsonSerializer.mimetype: FastJsonSerializer(),
        FastNdjsonSerializer.mimetype: FastNdjsonSerializer(),
    }
