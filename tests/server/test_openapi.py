"""The OpenAPI document says what the server really answers (docs/api.md is rendered from it)."""

from __future__ import annotations

import httpx

from isolane.testing import Server


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
