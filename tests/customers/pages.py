"""The customer's page as a browser shows it: the page (with its timeline's first page), then the part htmx
loads into it right after (customers:panels, see customers.views.customer_detail)."""

from __future__ import annotations

import re
from typing import Any

from django.urls import reverse

# The placeholder of customers/detail.html: <div data-testid="panels-placeholder" hx-get="URL" ...>...</div>
_PLACEHOLDER = re.compile(r'<div[^>]* data-testid="panels-placeholder" hx-get="([^"]+)"[^>]*>.*?</div>', re.S)


def customer_page(client: Any, customer: Any, *, response: Any = None, **extra: Any) -> str:
    """The HTML of the customer's page with its loaded panels in place of their placeholder (as htmx swaps
    them: outerHTML). `response`: the page already fetched (e.g. after a redirect); else it is fetched.
    `extra`: for every request (e.g. HTTP_ACCEPT_LANGUAGE)."""
    if response is None:
        response = client.get(reverse("customers:detail", args=[getattr(customer, "pk", customer)]), **extra)
    assert response.status_code == 200, response.status_code
    page = response.content.decode()

    def load(match: re.Match) -> str:
        part = client.get(match.group(1).replace("&amp;", "&"), headers={"HX-Request": "true"}, **extra)
        assert part.status_code == 200, part.status_code
        return part.content.decode()

    return _PLACEHOLDER.sub(load, page)
