"""account.*: the reference has no expected documents, so each rule of its section 3 is checked
against the real bodies of account.ndjson."""

from __future__ import annotations

import pytest

from .support import RECEIVED_AT_TEXT, body, transform


def test_created_is_iam_user_creation() -> None:
    document = transform(body("account", "account.created"))

    assert document["event"]["category"] == ["iam"]
    assert document["event"]["type"] == ["user", "creation"]
    assert document["event"]["action"] == "account.created"


@pytest.mark.parametrize("action", ["account.updated", "account.disassociated"])
def test_updated_and_disassociated_are_iam_user_change(action: str) -> None:
    document = transform(body("account", action))

    assert document["event"]["category"] == ["iam"]
    assert document["event"]["type"] == ["user", "change"]


def test_settings_updated_is_also_configuration() -> None:
    event = body("account", "account.updated")
    event["event"] = "account.settings_updated"

    document = transform(event)

    assert document["event"]["category"] == ["iam", "configuration"]
    assert document["event"]["type"] == ["user", "change"]


def test_other_account_action_is_iam_user_only() -> None:
    event = body("account", "account.created")
    event["event"] = "account.lock_settings_updated"

    document = transform(event)

    assert document["event"]["category"] == ["iam"]
    assert document["event"]["type"] == ["user"]


def test_account_ids_are_renamed_and_object_becomes_zoom_account() -> None:
    document = transform(body("account", "account.created"))

    assert document["zoom"]["master_account_id"] == "lq8KK_EoRCq6ByEyA73qCA"
    assert document["zoom"]["sub_account_id"] == "aIxE1yiRR8WghhUIO6eu9L"
    assert document["zoom"]["account"] == {
        "owner_email": "thesubaccountowneremail@somemail.com",
        "owner_id": "e2ZHO5RSGqyfrmFnElxw",
    }
    assert "account_id" not in document["zoom"] and "object" not in document["zoom"]


def test_epoch_time_stamp_becomes_timestamp_and_is_removed() -> None:
    document = transform(body("account", "account.updated"))

    assert document["@timestamp"] == "2019-07-01T17:03:04.527Z"
    assert "time_stamp" not in document["zoom"]


def test_without_time_stamp_timestamp_is_receive_time() -> None:
    assert transform(body("account", "account.created"))["@timestamp"] == RECEIVED_AT_TEXT


def test_owner_is_the_target_user() -> None:
    document = transform(body("account", "account.disassociated"))

    assert document["user"]["target"] == {
        "id": "eZbcHO5RSGqyKAUmFnElxw",
        "email": "theowneremail@someemail.com",
    }


def test_old_values_make_target_and_differing_new_values_make_changes() -> None:
    document = transform(body("account", "account.updated"))

    assert document["user"]["target"] == {"id": "eFs_EGRCq6ByEyA73qCA", "full_name": "Mike Harris"}
    assert document["user"]["changes"] == {"full_name": "Michael Harris", "name": "MH"}
    # the empty old alias was pruned, the rest of the old values stay
    assert document["zoom"]["old_values"] == {"account_name": "Mike Harris", "id": "eFs_EGRCq6ByEyA73qCA"}
    assert document["zoom"]["account"] == {"account_alias": "MH", "account_name": "Michael Harris"}


def test_old_values_override_owner_in_target() -> None:
    event = body("account", "account.created")
    event["payload"]["old_object"] = {
        "id": "old-id",
        "account_email": "old@example.com",
        "account_alias": "OA",
    }

    document = transform(event)

    assert document["user"]["target"] == {"id": "old-id", "email": "old@example.com", "name": "OA"}


def test_unchanged_values_are_not_changes() -> None:
    event = body("account", "account.updated")
    event["payload"]["old_object"]["account_name"] = "Michael Harris"

    document = transform(event)

    assert document["user"]["changes"] == {"name": "MH"}


def test_operator_is_the_user() -> None:
    document = transform(body("account", "account.updated"))

    assert document["user"]["id"] == "iKoRgfbaTazDX6r2Q_eQsQL"
    assert document["user"]["email"] == "theoperatoremail@someemail.com"


def test_related_users_are_operator_owner_and_target_without_duplicates() -> None:
    created = transform(body("account", "account.created"))
    updated = transform(body("account", "account.updated"))

    assert created["related"]["user"] == ["uLohghhRgfgrbTayCX6r2Q_qQsQ", "e2ZHO5RSGqyfrmFnElxw"]
    assert updated["related"]["user"] == ["iKoRgfbaTazDX6r2Q_eQsQL", "eFs_EGRCq6ByEyA73qCA"]


def test_no_user_name_outside_target_and_changes() -> None:
    for action in ("account.created", "account.updated", "account.disassociated"):
        document = transform(body("account", action))
        assert "name" not in document["user"] and "full_name" not in document["user"]
