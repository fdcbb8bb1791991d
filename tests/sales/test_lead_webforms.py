"""The public web-to-lead form: no sign-in, framable by other sites, CSRF-exempt behind a honeypot, a signed
stamp and a per-IP rate limit; a good submission becomes a lead assigned by the rules; a bad one is shown
again with messages (never a 500); a switched-off form or organisation answers "not available"."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from kehu.accounts.models import Organization
from kehu.core.models import AuditEntry
from kehu.sales import lead_webforms
from kehu.sales.lead_forms import signer_for
from kehu.sales.lead_models import Lead, WebForm
from tests.sales.lead_factories import make_rule, make_webform

pytestmark = pytest.mark.django_db

FIELDS = [
    {"field": "name", "label": "您的姓名", "required": True},
    {"field": "company", "label": "", "required": False},
    {"field": "phone", "label": "手机", "required": False},
    {"field": "email", "label": "", "required": False},
    {"field": "province", "label": "省份", "required": False},
    {"field": "notes", "label": "需求", "required": False},
]


@pytest.fixture(autouse=True)
def clear_rate_limit():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def webform(tenant_a) -> WebForm:
    return make_webform(tenant_a, name="官网", title="联系我们", fields=FIELDS, thank_you="谢谢，我们会联系您。")


def visitor(**extra) -> Client:
    """A browser on another site: no session, CSRF checks on."""
    return Client(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE="en", **extra)


def url(form: WebForm) -> str:
    return reverse("lead_forms:public", args=[form.token])


def stamp(form: WebForm) -> str:
    return signer_for(form.token).sign("1")


def submit(client: Client, form: WebForm, **data):
    data.setdefault("stamp", stamp(form))
    return client.post(url(form), data)


def test_the_form_page_is_public_and_only_it_may_be_framed(webform):
    response = visitor().get(url(webform))
    assert response.status_code == 200
    html = response.content.decode()
    assert "联系我们" in html and "您的姓名" in html and 'name="website"' in html
    assert "X-Frame-Options" not in response
    assert "frame-ancestors *" in response["Content-Security-Policy"]
    assert "csrfmiddlewaretoken" not in html
    # Every other page still refuses to be framed.
    other = Client().get(reverse("accounts:login"))
    assert other["X-Frame-Options"] == "DENY" and "frame-ancestors 'none'" in other["Content-Security-Policy"]


def test_embed_origins_limit_who_may_frame_the_form(tenant_a, webform):
    lead_webforms.webform_update(
        actor=tenant_a.admin,
        form=webform,
        expected_version=None,
        data={"embed_origins": "https://www.example.com https://*.example.cn"},
    )
    response = visitor().get(url(webform))
    assert "frame-ancestors https://www.example.com https://*.example.cn;" in response["Content-Security-Policy"]
    with pytest.raises(Exception) as caught:
        lead_webforms.webform_update(
            actor=tenant_a.admin, form=webform, expected_version=None, data={"embed_origins": "javascript:alert(1)"}
        )
    assert "embed_origins" in caught.value.fields


def test_a_submission_creates_a_lead_assigned_by_the_region_rule(tenant_a, webform):
    rep2 = tenant_a.users["sales_rep_2"]
    make_rule(
        tenant_a,
        name="华南",
        action="user",
        user=rep2,
        conditions=[{"field": "province", "op": "in", "value": ["广东", "广西"]}],
    )
    response = submit(
        visitor(REMOTE_ADDR="203.0.113.9"),
        webform,
        name="黄先生",
        phone="138 2345 6781",
        province="广东省",
        notes="想了解报价",
        company="深圳鹏程",
    )
    assert response.status_code == 302 and response["Location"] == reverse("lead_forms:thanks", args=[webform.token])
    lead = Lead.objects.get(organization=tenant_a.org, name="黄先生")
    assert lead.owner == rep2 and lead.assigned_rule_name == "华南"
    assert lead.source == "web_form" and lead.web_form == webform and lead.created_by is None
    assert lead.phone_normalized == "13823456781" and lead.notes == "想了解报价"
    entry = AuditEntry.objects.get(action="lead.create", target_id=str(lead.pk))
    assert entry.actor is None and entry.actor_label == "Web form: 官网" and entry.ip == "203.0.113.9"
    webform.refresh_from_db()
    assert webform.submission_count == 1 and webform.last_submission_at is not None
    thanks = visitor().get(response["Location"])
    assert "谢谢，我们会联系您。" in thanks.content.decode() and "X-Frame-Options" not in thanks


def test_without_a_rule_the_web_lead_waits_unassigned(tenant_a, webform):
    submit(visitor(), webform, name="无人", email="who@example.com")
    lead = Lead.objects.get(name="无人")
    assert lead.owner is None and lead.assigned_rule is None


def test_a_filled_honeypot_is_thanked_and_nothing_is_saved(webform):
    response = submit(visitor(), webform, name="Bot", phone="13800000000", website="http://spam.example")
    assert response.status_code == 302
    assert not Lead.objects.filter(name="Bot").exists()


def test_a_bad_submission_is_shown_again_with_messages_and_the_input(webform):
    response = submit(visitor(), webform, name="", email="not-an-email", company="保留的公司")
    assert response.status_code == 400
    html = response.content.decode()
    assert "保留的公司" in html  # what was typed is kept
    assert 'data-testid="error-name"' in html and 'data-testid="error-email"' in html
    response = submit(visitor(), webform, name="只有名字")
    assert response.status_code == 400
    assert "phone number or an email" in response.content.decode()
    response = submit(visitor(), webform, name="x" * 101, phone="13800000000")
    assert response.status_code == 400 and 'data-testid="error-name"' in response.content.decode()
    assert not Lead.objects.exists()


def test_a_missing_or_forged_stamp_asks_to_send_again_with_a_fresh_one(webform):
    for forged in ("", "1:forged:sig"):
        response = submit(visitor(), webform, name="慢", phone="13800000000", stamp=forged)
        assert response.status_code == 400
        html = response.content.decode()
        assert 'data-testid="problem"' in html and "慢" in html
        fresh = re.search(r'name="stamp" value="([^"]+)"', html).group(1)
        assert submit(visitor(), webform, name="慢", phone="13800000000", stamp=fresh).status_code == 302
    assert Lead.objects.filter(name="慢").count() == 2


def test_the_rate_limit_is_per_ip(settings, webform):
    settings.KEHU_WEB_FORM_RATE = "3/600"
    client = visitor(REMOTE_ADDR="198.51.100.7")
    for n in range(3):
        assert submit(client, webform, name=f"人{n}", phone="13800000000").status_code == 302
    response = submit(client, webform, name="第四个", phone="13800000000")
    assert response.status_code == 429
    assert "Too many submissions" in response.content.decode() and "第四个" in response.content.decode()
    assert submit(visitor(REMOTE_ADDR="198.51.100.8"), webform, name="别人", phone="13800000000").status_code == 302
    assert not Lead.objects.filter(name="第四个").exists()


def test_a_switched_off_form_an_unknown_address_and_a_disabled_module_are_not_available(tenant_a, webform):
    assert visitor().get(reverse("lead_forms:public", args=["no-such-token"])).status_code == 404
    lead_webforms.webform_update(actor=tenant_a.admin, form=webform, expected_version=None, data={"is_active": False})
    for response in (visitor().get(url(webform)), submit(visitor(), webform, name="关", phone="13800000000")):
        assert response.status_code == 404 and 'data-testid="unavailable"' in response.content.decode()
    lead_webforms.webform_update(actor=tenant_a.admin, form=webform, expected_version=None, data={"is_active": True})
    assert visitor().get(url(webform)).status_code == 200
    Organization.objects.filter(pk=tenant_a.org.pk).update(enabled_modules=["customers"])
    assert visitor().get(url(webform)).status_code == 404
    assert submit(visitor(), webform, name="关", phone="13800000000").status_code == 404
    assert not Lead.objects.filter(name="关").exists()


def test_a_signed_in_user_of_an_organisation_without_sales_may_still_use_anothers_form(tenant_a, tenant_b, webform):
    Organization.objects.filter(pk=tenant_b.org.pk).update(enabled_modules=["customers"])
    client = visitor()
    client.force_login(tenant_b.admin)
    assert client.get(url(webform)).status_code == 200  # outside the module gate: the form's organisation counts


def test_a_required_custom_field_refuses_forms_without_it(tenant_a):
    from kehu.core import custom_fields

    custom_fields.definition_create(
        actor=tenant_a.admin, record_type="sales.lead", key="budget", label="预算", field_type="integer", required=True
    )
    with pytest.raises(Exception) as caught:
        make_webform(tenant_a, fields=FIELDS)
    assert "fields" in caught.value.fields and "预算" in caught.value.message
    form = make_webform(tenant_a, fields=[*FIELDS, {"field": "custom.budget", "label": "预算（元）"}])
    assert form.fields[-1]["required"] is True
    response = submit(visitor(), form, name="有预算", phone="13800000000", **{"custom.budget": "abc"})
    assert response.status_code == 400 and 'data-testid="error-custom.budget"' in response.content.decode()
    assert submit(visitor(), form, name="有预算", phone="13800000000", **{"custom.budget": "5000"}).status_code == 302
    assert Lead.objects.get(name="有预算").custom == {"budget": 5000}


def test_web_form_settings_are_validated(tenant_a):
    cases = [
        ({"fields": [{"field": "company"}, {"field": "phone"}]}, "fields"),  # no name
        ({"fields": [{"field": "name"}, {"field": "company"}]}, "fields"),  # no way to reach the person
        ({"fields": [{"field": "name"}, {"field": "phone"}, {"field": "phone"}]}, "fields"),
        ({"fields": [{"field": "name"}, {"field": "password"}]}, "fields"),
        ({"source": "nope"}, "source"),
        ({"name": ""}, "name"),
    ]
    for data, field in cases:
        data.setdefault("name", "表单")
        with pytest.raises(Exception) as caught:
            lead_webforms.webform_create(actor=tenant_a.admin, **data)
        assert field in caught.value.fields, (data, caught.value.fields)
