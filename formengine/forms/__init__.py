"""WTForms classes built at run time from instrument definitions."""

from formengine.forms.builder import build_form_class, form_answers, unrendered_items

__all__ = ["build_form_class", "form_answers", "unrendered_items"]
