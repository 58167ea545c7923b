"""Issue 7 §1.4 (E1): seed the unit kinds and give every existing record a kind and a name index.

The kinds that cannot hold a credential (党政机关、军队、部队) are marked; ops keep the list in admin.
Existing records get the kind their credential type implies; letter units, which until now could be
anyone, become party or government organs (an ops or account-manager check may correct it through a
change request). Letter units registered twice in one province (possible until now) keep the
name index on the oldest record only, and the later ones say so in their notes, so the unique
constraint of 0004 can be built and ops can resolve them.
"""

from django.db import migrations

# code, Chinese name, English name, cannot hold a credential, order
KINDS = [
    ("enterprise", "企业", "Enterprise", False, 10),
    ("public_institution", "事业单位", "Public institution", False, 20),
    ("social_organisation", "社会团体", "Social organisation", False, 30),
    ("party_government", "党政机关", "Party or government organ", True, 40),
    ("military", "军队", "Military", True, 50),
    ("armed_police", "武警部队", "Armed police", True, 60),
    ("other", "其他", "Other", False, 90),
]

KIND_OF_CREDENTIAL = {
    "business_licence": "enterprise",
    "public_institution": "public_institution",
    "social_organisation": "social_organisation",
    "organisation_code": "other",
    "official_letter": "party_government",
}

DUPLICATE_NOTE = "（数据迁移）本单位与同省更早登记的公函单位重名，请运维核实后合并或更正。"


def seed_and_backfill(apps, schema_editor):
    from accounts.pii import unit_name_index

    UnitKind = apps.get_model("enterprises", "UnitKind")
    Enterprise = apps.get_model("enterprises", "Enterprise")
    kinds = {}
    for code, name, name_en, cannot_hold, order in KINDS:
        kinds[code], _created = UnitKind.objects.get_or_create(
            code=code,
            defaults={"name": name, "name_en": name_en, "cannot_hold_credential": cannot_hold, "sort_order": order},
        )
    seen_letter_units: set[tuple[int, str]] = set()
    for enterprise in Enterprise.objects.order_by("created_at", "pk").iterator():
        fields = []
        if enterprise.unit_kind_id is None:
            enterprise.unit_kind = kinds[KIND_OF_CREDENTIAL.get(enterprise.credential_type, "other")]
            fields.append("unit_kind")
        index = unit_name_index(enterprise.name)
        if enterprise.credential_type == "official_letter":
            key = (enterprise.province_id, index)
            if key in seen_letter_units:
                index = ""
                enterprise.notes = f"{enterprise.notes}\n{DUPLICATE_NOTE}".strip()
                fields.append("notes")
            seen_letter_units.add(key)
        if enterprise.name_index != index:
            enterprise.name_index = index
            fields.append("name_index")
        if fields:
            enterprise.save(update_fields=fields)


class Migration(migrations.Migration):
    dependencies = [
        ("enterprises", "0002_unit_kind"),
    ]

    operations = [
        migrations.RunPython(seed_and_backfill, migrations.RunPython.noop),
    ]
