"""The canonical model: entity table, identity and version rules, content hash, envelope."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambdas.model.content import canonical_json, content_hash, json_and_hash
from lambdas.model.entities import DEFAULT_ENTITIES, ENTITIES, SYNC_ORDER, Kind, plural
from lambdas.model.envelope import Envelope, EnvelopeError
from lambdas.model.identity import (
    IdentityError,
    deletion_target,
    is_older,
    source_id,
    target,
    version,
    version_order,
)
from qbxml import SYNC_ENTITIES


def customer(**kw: object) -> dict:
    return {
        "entity": "Customer",
        "list_id": "80-1",
        "edit_sequence": "1000",
        "time_modified": "2026-01-02T09:00:00-05:00",
        "name": "Acme",
        **kw,
    }


def test_the_entity_table_is_the_sync_set_in_dependency_order():
    assert set(SYNC_ORDER) == set(SYNC_ENTITIES)
    kinds = [ENTITIES[e].kind for e in SYNC_ORDER]
    # Lists before transactions before deletions; payments after the invoices they pay.
    assert kinds == sorted(kinds, key=[Kind.LIST, Kind.TXN, Kind.DELETION].index)
    assert SYNC_ORDER.index("ReceivePayment") > SYNC_ORDER.index("Invoice")
    assert "Vendor" not in DEFAULT_ENTITIES and "Customer" in DEFAULT_ENTITIES
    assert ENTITIES["Invoice"].id_field == "txn_id" and ENTITIES["Item"].id_field == "list_id"
    assert plural("ReceivePayment", 1) == "payment" and plural("SalesOrder") == "sales orders"


def test_versions_compare_edit_sequences_and_times():
    assert is_older("99", "100") and not is_older("100", "99") and not is_older("5", "5")
    assert is_older("2026-01-01T10:00:00-05:00", "2026-01-01T16:00:00+00:00")
    assert not is_older("2026-01-01T10:00:00-05:00", "2026-01-01T15:00:00+00:00")
    assert not is_older("100", "2026-01-01T10:00:00")  # incomparable: not older
    assert not is_older("", "100") and not is_older("x", "y")
    assert version({"edit_sequence": "5", "time_modified": "x"}) == "5"
    assert version({"sync_token": "7"}) == "7"
    assert version({"time_deleted": "2026-01-01T00:00:00"}) == "2026-01-01T00:00:00"
    assert version_order("1000") < version_order("1001")
    assert version_order("") == version_order("garbage") == 0.0


def test_identity_and_deletion_targets():
    assert source_id(customer()) == "80-1"
    with pytest.raises(IdentityError, match="Customer without ListID"):
        source_id({"entity": "Customer"})
    assert deletion_target(
        {"entity": "ListDeleted", "list_del_type": "ItemService", "list_id": "I-1"}
    ) == ("Item", "I-1")
    assert target({"entity": "TxnDeleted", "txn_del_type": "Invoice", "txn_id": "T-1"}) == (
        "Invoice",
        "T-1",
    )
    assert target(customer()) == ("Customer", "80-1")


def test_the_content_hash_ignores_volatile_fields_only():
    a = customer()
    assert content_hash(a) == content_hash(customer(edit_sequence="2000", time_modified="z"))
    assert content_hash(a) != content_hash(customer(name="Acme Ltd"))


def test_the_content_hash_is_over_the_sorted_compact_json_without_volatile_fields():
    # Stored in mapping rows: other bytes hashed would re-send every record once.
    expected = b'{"entity":"Customer","list_id":"80-1","name":"Acme"}'
    assert content_hash(customer()) == hashlib.sha256(expected).hexdigest()


@pytest.mark.parametrize(
    "record",
    [
        customer(),
        customer(name='Ac"me \\ \u00e9', notes=None, balance="1.50"),
        {"time_modified": "x"},
        {"edit_sequence": "1", "sync_token": "2", "time_modified": "3"},
        {"edit_sequence": "1", "sync_token": "2", "z": 1},
        {"a": 1, "sync_token": "2", "time_modified": "3"},
        {"edit_sequence": "1", "m": None, "time_modified": "3", "z": [1]},
        {"entity": "Invoice", "txn_id": "T", "sync_token": None, "lines": [{"a": 1}]},
        # The same item nested in the record: cut from the text, it could be the wrong one.
        customer(lines=[{"edit_sequence": "1000"}], other={"time_modified": "x"}),
        customer(time_modified=5, edit_sequence=["odd"]),
    ],
)
def test_serializing_once_hashes_the_same_bytes_as_the_content_hash(record):
    text, digest = json_and_hash(record)
    assert (
        text == canonical_json(record) == json.dumps(record, sort_keys=True, separators=(",", ":"))
    )
    assert digest == content_hash(record)


_KEYS = st.sampled_from(["a", "edit_sequence", "entity", "sync_token", "time_modified", "z"])
_LEAVES = st.none() | st.text(max_size=8) | st.integers() | st.booleans()
_VALUES = st.recursive(
    _LEAVES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=8,
)


_VOLATILE = st.none() | st.text(max_size=4) | _VALUES
_RECORDS = st.fixed_dictionaries(
    {},
    optional={
        "a": _VALUES,
        "edit_sequence": _VOLATILE,
        "entity": _VALUES,
        "sync_token": _VOLATILE,
        "time_modified": _VOLATILE,
        "z": _VALUES,
    },
)


@settings(max_examples=300, deadline=None)
@given(_RECORDS)
def test_serializing_once_agrees_with_the_content_hash_on_any_record(record):
    text, digest = json_and_hash(record)
    assert text == canonical_json(record) and digest == content_hash(record)


def test_the_message_body_is_the_whole_envelope_as_sorted_compact_json():
    env = Envelope.of("acme", "qbd", customer(), read_at=3.5)
    for sent in (env, replace(env, review="mass deletion"), env.checked(env.claim_key)):
        body = {
            "tenant": sent.tenant,
            "source": sent.source,
            "entity": sent.entity,
            "id": sent.source_id,
            "version": sent.version,
            "content_hash": sent.content_hash,
            "read_at": sent.read_at,
            **({"review": sent.review} if sent.review else {}),
            **({"claim": sent.claim} if sent.claim else {"record": sent.record}),
        }
        assert sent.to_json() == json.dumps(body, sort_keys=True, separators=(",", ":"))


def test_envelopes_round_trip_and_derive_what_an_older_producer_left_out():
    env = Envelope.of("acme", "qbd", customer())
    back = Envelope.from_json(env.to_json())
    assert back == env and back.dedup_id == "acme:qbd:Customer:80-1:1000"
    legacy = json.dumps({"tenant": "acme", "record": customer()})
    assert Envelope.from_json(legacy).content_hash == env.content_hash
    checked = env.checked(env.claim_key)
    again = Envelope.from_json(checked.to_json())
    assert again.record is None and again.claim == env.claim_key
    assert "/" not in Envelope.of("a/b c", "qbd", customer()).claim_key.split("/")[0]


@pytest.mark.parametrize(
    "body",
    [
        "nope",
        "[]",
        json.dumps({"tenant": "acme"}),
        json.dumps({"record": customer()}),
        json.dumps({"tenant": "acme", "source": "sap", "record": customer()}),
        json.dumps({"tenant": "acme", "record": {"entity": "Customer"}}),
        json.dumps({"tenant": "acme", "claim": "k"}),
    ],
)
def test_malformed_envelopes_are_refused_with_a_reason(body):
    with pytest.raises(EnvelopeError):
        Envelope.from_json(body)
