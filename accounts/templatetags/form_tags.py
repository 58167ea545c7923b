"""Template filters of the shared form templates (templates/includes/field.html, form_errors.html).

`{{ field|kept_uploads }}`: the files a form kept for this field when it came back with errors
(core.forms.KeepsUploadsMixin); the template sends their tokens back and shows what was chosen.
`{{ form|error_fields }}`: the bound fields with errors, in the form's order, for the error summary.
`{{ field|summary_label }}`: the field's name in that summary: a field whose label is a whole sentence (a
consent) names itself shortly with a `summary_label` attribute.
"""

from django import template

register = template.Library()


@register.filter
def kept_uploads(bound_field) -> list:
    kept = getattr(bound_field.form, "kept", None) or {}
    return kept.get(bound_field.name, [])


@register.filter
def error_fields(form) -> list:
    if not getattr(form, "errors", None):
        return []
    return [form[name] for name in form.fields if name in form.errors]


@register.filter
def summary_label(bound_field):
    return getattr(bound_field.field, "summary_label", None) or bound_field.label
