"""Pydantic models of the management API's bodies, one module per resource.

They are what `/openapi.json` says: routes declare them as `response_model` (or in
`responses=`) and, for JSON bodies that routes read themselves, as `json_body(Model)`:
those routes validate the body with that same model (`server/bodies.parse_json`).
Routes still return `JSONResponse` built by the platform layer, so FastAPI does not
re-validate answers on every request: the conformance test (schemathesis against a live
server) is what keeps the models and the wire format in step."""
