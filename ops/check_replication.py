"""`zoom-ingest check`'s replication lines: which primary the Sentinels name, its replicas and their
lag, whether ZOOM_INGEST_ACK_REPLICAS can be met, and min-replicas-to-write if set.

Shown when any of it applies (Sentinel configured, replicas attached, or ACK_REPLICAS > 0); a lone
primary without them gets no lines here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from redis import Redis
from redis.exceptions import RedisError, ResponseError

from ops.check_result import Result, fail, ok, warn
from shared.config import Settings, env_name
from shared.connection import sentinel


def check_replication(settings: Settings, client: Redis) -> list[Result]:
    results = [_sentinels(settings)] if settings.redis_sentinels else []
    try:
        info = client.info("replication")
    except ResponseError:  # INFO disabled on managed Redis
        if results or settings.ack_replicas:
            fix = f"make sure the primary has {settings.ack_replicas} replicas online"
            results.append(warn("redis replicas", "could not read them: INFO is disabled", fix))
        return results
    replicas = [value for key, value in info.items() if key.startswith("slave") and isinstance(value, dict)]
    online = [replica for replica in replicas if replica.get("state") == "online"]
    if not (results or replicas or settings.ack_replicas):
        return []
    results += list(_replicas(info, replicas, online))
    results.append(_acknowledgement(settings, len(online)))
    results += list(_min_replicas(client, len(online)))
    return results


def _sentinels(settings: Settings) -> Result:
    name = settings.redis_sentinel_master
    manager = sentinel(settings)
    answering, named = 0, set()
    for client in manager.sentinels:
        try:
            state = client.sentinel_master(name)
        except (RedisError, OSError):
            continue
        finally:
            client.close()
        answering += 1
        named.add(f"{state['ip']}:{state['port']}")
    total = len(manager.sentinels)
    fix = f"start the Sentinels listed in {env_name('redis_sentinels')}, or correct the list"
    if not answering:
        return fail("redis sentinel", f"none of the {total} Sentinels knows master {name!r}", fix)
    detail = f"{answering} of {total} Sentinels answer; primary {' / '.join(sorted(named))}"
    if len(named) > 1:
        return warn("redis sentinel", detail + ": they disagree (failover under way?)", "run check again")
    if answering < total:
        return warn("redis sentinel", detail + ": a failover needs a majority of them", fix)
    return ok("redis sentinel", detail)


Replica = dict[str, Any]  # one slaveN entry of INFO replication


def _replicas(info: Mapping[str, Any], replicas: list[Replica], online: list[Replica]) -> Iterator[Result]:
    if info.get("role") != "master":
        yield fail("redis replicas", "the server named is a replica, not the primary", "point at the primary")
        return
    offset = int(info.get("master_repl_offset", 0))
    listed = ", ".join(
        f"{replica['ip']}:{replica['port']} {replica.get('state')} "
        f"lag {replica.get('lag', '?')}s/{offset - int(replica.get('offset', 0))} bytes"
        for replica in replicas
    )
    detail = f"{len(online)} of {len(replicas)} online" + (f": {listed}" if listed else "")
    if len(online) < len(replicas):
        yield warn("redis replicas", detail, "look at the replicas that are not online (their logs, network)")
    else:
        yield ok("redis replicas", detail)


def _acknowledgement(settings: Settings, online: int) -> Result:
    wanted = settings.ack_replicas
    name = env_name("ack_replicas")
    if wanted == 0:
        return ok("ack replicas", f"{name}=0: 200 once the primary has an event (replicas copy it later)")
    detail = f"{name}={wanted}, {online} replicas online"
    if online < wanted:
        fix = f"bring replicas online or lower {name}: until then the receiver answers 503 to every event"
        return fail("ack replicas", detail, fix)
    return ok("ack replicas", detail)


def _min_replicas(client: Redis, online: int) -> Iterator[Result]:
    try:
        config = client.config_get("min-replicas-*")
    except ResponseError:  # CONFIG disabled on managed Redis
        return
    minimum = int(config.get("min-replicas-to-write", 0))
    if not minimum:
        return
    detail = f"min-replicas-to-write {minimum} (max lag {config.get('min-replicas-max-lag')}s)"
    if online < minimum:
        fix = "bring replicas online: until then the primary refuses writes and the receiver answers 503"
        yield fail("min replicas to write", f"{detail}, {online} online", fix)
    else:
        yield ok("min replicas to write", detail)
