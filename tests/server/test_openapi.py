"""The OpenAPI document says what the server really answers (docs/api.md is rendered from it)."""

from __future__ import annotations

import httpx
import orjson
import pytest
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from isolane.server.models.namespaces import NamespaceSettings
from isolane.server.models.schedules import SchedulesPut, ScheduleTestRequest
from isolane.server.models.scripts import DeploymentRequest, TagList
from isolane.server.models.secrets import SecretPut
from isolane.server.openapi import COMPONENT
from isolane.testing import Server

SCRIPT = "/v1/namespaces/{ns}/scripts/{name}"
# The routes that read their JSON body themselves, and the model each validates it with.
MODELED_BODIES = [
    ("put", SCRIPT + "/secrets", SecretPut, True),
    ("put", SCRIPT + "/tags", TagList, True),
    ("post", SCRIPT + "/deployments", DeploymentRequest, True),
    ("put", "/v1/namespaces/{ns}", NamespaceSettings, False),
    ("put", SCRIPT + "/schedules", SchedulesPut, True),
    ("post", SCRIPT + "/schedules/test", ScheduleTestRequest, False),
]


def document(server: Server) -> dict:
    response = httpx.get(f"{server.url}/openapi.json")
    assert response.status_code == 200
    return response.json()


def test_validation_errors_are_documented_as_isolane_answers_them(server: Server, admin: httpx.Client) -> None:
    spec = document(server)
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert schemas["ErrorBody"]["required"] == ["error"]
    create_token = spec["paths"]["/v1/tokens"]["post"]["responses"]
    assert "422" not in create_token
    assert create_token["400"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
    # ... and that is what the server does with an invalid body.
    answer = admin.post("/v1/tokens", json={"name": ""})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_request"


def test_no_operation_documents_a_status_the_api_never_uses(server: Server) -> None:
    for path, operations in document(server)["paths"].items():
        for method, operation in operations.items():
            assert "422" not in operation["responses"], f"{method.upper()} {path}"
            for status, response in operation["responses"].items():
                json_content = response.get("content", {}).get("application/json", {})
                assert json_content.get("schema") != {"type": "string"}, f"{method.upper()} {path} {status}"


def test_every_operation_is_described(server: Server) -> None:
    for path, operations in document(server)["paths"].items():
        for method, operation in operations.items():
            assert operation.get("description"), f"{method.upper()} {path} has no description"
            assert operation.get("x-isolane-access"), f"{method.upper()} {path} declares no access"


def test_invocation_documents_the_limit_answers(server: Server) -> None:
    responses = document(server)["paths"]["/v1/namespaces/{ns}/scripts/{name}/invoke"]["get"]["responses"]
    assert {"404", "413", "429", "500", "503", "504"} <= responses.keys()


def test_token_operations_declare_bearer_security(server: Server) -> None:
    spec = document(server)
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "description": "An Isolane token (admin or namespace)"
    }
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            expected = [] if operation["x-isolane-access"] == "public" else [{"bearer": []}]
            assert operation.get("security", []) == expected, f"{method.upper()} {path}"


@pytest.mark.parametrize(("method", "path", "model", "required"), MODELED_BODIES, ids=[model.__name__ for _, _, model, _ in MODELED_BODIES])
def test_bodies_read_by_routes_are_documented_by_the_models_that_validate_them(
    server: Server, method: str, path: str, model: type[BaseModel], required: bool
) -> None:
    spec = document(server)
    body = spec["paths"][path][method]["requestBody"]
    assert body["required"] is required
    assert body["content"] == {"application/json": {"schema": {"$ref": COMPONENT.format(model=model.__name__)}}}
    # The components are the model's own schema, and those of the models it uses.
    _, defined = models_json_schema([(model, "validation")], ref_template=COMPONENT)
    own = orjson.loads(orjson.dumps(defined["$defs"]))
    assert model.__name__ in own
    for name, schema in own.items():
        assert spec["components"]["schemas"][name] == schema, name
