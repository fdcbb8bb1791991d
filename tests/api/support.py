"""Assertions the API tests share: the one error shape, and reading every page of a list."""

from __future__ import annotations

from typing import Any

from rest_framework.test import APIClient

API = "/api/v1"


def assert_error_shape(response: Any) -> dict[str, Any]:
    """Every error has exactly {"error": {"code", "message", "fields"}}; returns the inner object."""
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "fields"}, error
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["fields"], dict)
    return error


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.content[:500])
    error = assert_error_shape(response)
    assert error["code"] == code, error
    return error


def all_ids(client: APIClient, url: str, key: str = "id", max_pages: int = 50) -> list[Any]:
    """The ids of every item of a list, following the cursor pages."""
    ids: list[Any] = []
    next_url: str | None = url + ("&" if "?" in url else "?") + "limit=200"
    for _ in range(max_pages):
        if not next_url:
            return ids
        response = client.get(next_url)
        assert response.status_code == 200, (response.status_code, response.content[:500])
        body = response.json()
        assert set(body) >= {"results", "next"}, body
        ids.extend(item[key] for item in body["results"])
        next_url = body["next"]
    raise AssertionError(f"{url} did not end after {max_pages} pages")
