"""`{% load audit_labels %}`: an audit entry's action and record type in the reader's language
(kehu.core.audit_labels): `{{ entry.action|action_label }}`, `{{ entry.target_type|record_type_label }}`."""

from __future__ import annotations

from django import template

from kehu.core import audit_labels

register = template.Library()
register.filter("action_label", audit_labels.action_label)
register.filter("record_type_label", audit_labels.record_type_label)
