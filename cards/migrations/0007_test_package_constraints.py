"""U4 (issue 7 §1.3): a test package has a test period of 1 to 180 days and fixes its services.

After 0006 filled these for the test packages that existed, so the constraints hold on old data.
Apart from 0005 and 0006: PostgreSQL refuses to alter a table with row changes pending in the
same transaction.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("cards", "0006_fill_test_package_trial_facts"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="package",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("is_test_package", False), ("test_period_days__isnull", True)),
                    models.Q(
                        ("is_test_package", True),
                        ("test_period_days__gte", 1),
                        ("test_period_days__isnull", False),
                        ("test_period_days__lte", 180),
                    ),
                    _connector="OR",
                ),
                name="package_test_period_bounded",
                violation_error_message="An IoT test-card package has a test period of 1 to 180 days; other packages have none.",
            ),
        ),
        migrations.AddConstraint(
            model_name="package",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("data_service", ""), ("is_test_package", False), ("sms_service", ""), ("voice_service", "")
                    ),
                    models.Q(
                        ("data_service__in", ["none", "directed", "non_directed"]),
                        ("is_test_package", True),
                        ("sms_service__in", ["none", "directed", "non_directed"]),
                        ("voice_service__in", ["none", "directed", "non_directed"]),
                    ),
                    _connector="OR",
                ),
                name="package_test_services_fixed",
                violation_error_message="An IoT test-card package defines its data, voice and SMS services; other packages do not.",
            ),
        ),
    ]
