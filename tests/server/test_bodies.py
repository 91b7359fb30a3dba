"""JSON bodies validated by their models (server/bodies.py), without a server."""

from __future__ import annotations

import pytest
from pydantic import Field

from isolane.errors import BadRequest
from isolane.server.bodies import parse_json
from isolane.server.models.common import Closed


class Share(Closed):
    id: str = Field(min_length=1)
    percentage: float = Field(gt=0, le=100)


class Split(Closed):
    shares: list[Share] = Field(min_length=1, max_length=2)


CODES = {"": "not_an_object", "shares:too_long": "too_many", "shares.*.percentage": "bad_percentage"}


def refused(body: bytes, codes: dict | None = None) -> dict:
    with pytest.raises(BadRequest) as caught:
        parse_json(Split, body, code="bad_split", codes=CODES if codes is None else codes)
    return caught.value.to_body()["error"]


def test_the_value_it_accepts_is_handed_on_as_sent() -> None:
    body = b'{"shares": [{"id": "a", "percentage": 100}]}'
    assert parse_json(Split, body, code="bad_split") == {"shares": [{"id": "a", "percentage": 100}]}
    assert parse_json(Split, b"  ", code="bad_split", optional=True) is None


@pytest.mark.parametrize("body", [b"", b"{nope", b'{"shares": "\xff"}', b'{"shares": "\\ud800"}', b"NaN", b"1e400"])
def test_what_is_not_json_is_invalid_json(body: bytes) -> None:
    assert refused(body)["code"] == "invalid_json"


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (b"[]", "not_an_object", "the body: "),
        (b'{"shares": []}', "bad_split", "shares: "),
        (b'{"shares": [{"id": "a", "percentage": 50}, {"id": "b", "percentage": 25}, {"id": "c", "percentage": 25}]}', "too_many", "shares: "),
        (b'{"shares": [{"id": "a", "percentage": "100"}]}', "bad_percentage", "shares[0].percentage: "),  # strict: no coercion
        (b'{"shares": [{"id": "a", "percentage": true}]}', "bad_percentage", "shares[0].percentage: "),
        (b'{"shares": [{"id": "", "percentage": 100}]}', "bad_split", "shares[0].id: "),
        (b'{"shares": [{"id": "a", "percentage": 100}], "note": 1}', "bad_split", "note: Extra inputs"),
    ],
)
def test_a_refusal_names_the_field_with_the_code_for_where_it_happened(body: bytes, code: str, message: str) -> None:
    error = refused(body)
    assert error["code"] == code and error["message"].startswith(message), error


def test_a_named_code_adds_the_key_under_its_field() -> None:
    error = refused(b'{"shares": [{"id": "a", "percentage": 100}], "nope": 1}', {"": ("x", "key")})
    assert error["code"] == "bad_split" and "key" not in error  # "" is the body itself, not a default
    error = refused(b'{"shares": [{"id": "a", "percentage": 0}]}', {"shares": ("bad_share", "index")})
    assert (error["code"], error["index"]) == ("bad_share", "0")


def test_the_value_is_never_in_the_message() -> None:
    error = refused(b'{"shares": [{"id": "a", "percentage": "s3cret-value"}]}')
    assert "s3cret-value" not in str(error)
