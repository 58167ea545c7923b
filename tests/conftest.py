"""Shared fixtures, and the rule that CI never silently skips service tests.

Under CI (`REQUIRE_SERVICE_TESTS=1`, set by .ci/run) a skipped test marked
`postgres`, `redis`, `faces`, `liveness` or `browser` fails the run.
"""

from __future__ import annotations

import contextlib
import copy
import os
import shutil
import uuid
from pathlib import Path

import pytest
from django.db import connection, transaction

pytest_plugins = ["tests.workers"]

SERVICE_MARKERS = ("postgres", "redis", "faces", "liveness", "browser")
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
_skipped_service_tests: list[str] = []

REPO = Path(__file__).resolve().parent.parent


def face_testdata_dir() -> Path | None:
    candidates = [os.environ.get("FACE_TESTDATA"), REPO.parent / "shared" / "testdata" / "faces"]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def liveness_testdata_dir() -> Path | None:
    candidates = [os.environ.get("LIVENESS_TESTDATA"), REPO.parent / "shared" / "testdata" / "liveness"]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def _uses_transactions(item) -> bool:
    marker = item.get_closest_marker("django_db")
    return bool(
        {"transactional_db", "live_server", "django_db_serialized_rollback"} & set(item.fixturenames)
        or (marker is not None and (marker.kwargs.get("transaction") or marker.kwargs.get("serialized_rollback")))
    )


def _build_world_once_per_module(items) -> None:
    """`world` is built once per module (ModuleData) wherever that is safe: in modules with no
    transactional test, unless the module or test is marked `world_per_test`."""
    transactional_modules = {item.module for item in items if _uses_transactions(item)}
    for item in items:
        if (
            "world" in item.fixturenames
            and "module_data" not in item.fixturenames
            and item.module not in transactional_modules
            and item.get_closest_marker("world_per_test") is None
        ):
            # First: the module's transaction must be open before the test's own (pytest-django's `db`).
            item.fixturenames.insert(0, "module_data")


def pytest_collection_modifyitems(config, items):
    _build_world_once_per_module(items)
    # Slow tests first (a stable sort: the order within each part is kept), so that the parallel workers
    # end together on short tests instead of one waiting for the other's long one.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
    is_postgres = connection.vendor == "postgresql"
    redis_url = os.environ.get("REDIS_URL", "")
    faces = face_testdata_dir()
    liveness = liveness_testdata_dir()
    for item in items:
        if "redis" in item.keywords:
            # Tests that use the real broker share its queues: run them on one xdist worker.
            item.add_marker(pytest.mark.xdist_group("broker"))
        if "postgres" in item.keywords and not is_postgres:
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://..."))
        if "redis" in item.keywords and not redis_url:
            item.add_marker(pytest.mark.skip(reason="needs Redis and a Celery worker: set REDIS_URL"))
        if "browser" in item.keywords and not Path(CHROMIUM).exists():
            item.add_marker(
                pytest.mark.skip(reason=f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)")
            )
        if "faces" in item.keywords and faces is None:
            item.add_marker(
                pytest.mark.skip(reason="face photos not found at ../shared/testdata/faces or $FACE_TESTDATA")
            )
        if "liveness" in item.keywords and liveness is None:
            item.add_marker(
                pytest.mark.skip(
                    reason="liveness frames not found at ../shared/testdata/liveness or $LIVENESS_TESTDATA"
                )
            )


def pytest_runtest_logreport(report):
    if report.skipped and any(marker in report.keywords for marker in SERVICE_MARKERS):
        _skipped_service_tests.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("REQUIRE_SERVICE_TESTS") == "1" and _skipped_service_tests:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if os.environ.get("REQUIRE_SERVICE_TESTS") == "1" and _skipped_service_tests:
        terminalreporter.write_line(
            f"FAILED: {len(_skipped_service_tests)} test(s) needing PostgreSQL, Redis, face or liveness data "
            "or chromium were skipped under REQUIRE_SERVICE_TESTS=1:",
            red=True,
        )
        for nodeid in _skipped_service_tests:
            terminalreporter.write_line(f"  {nodeid}", red=True)


FAST_PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def own_cache() -> dict:
    return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex}}


def private_storage_settings(location: Path) -> dict:
    from django.conf import settings

    backend = {
        "BACKEND": "core.storage.EncryptedFileSystemStorage",
        "OPTIONS": {"location": str(location), "base_url": None},
    }
    # "default" too: it shares the private folder, and nothing may reach the real var/private.
    return {"PRIVATE_MEDIA_ROOT": location, "STORAGES": {**settings.STORAGES, "default": backend, "private": backend}}


@contextlib.contextmanager
def _fresh_storages():
    """Storages are cached per alias: drop them on entry and exit so each side gets its own location."""
    from django.core.files.storage import storages

    for alias in ("default", "private"):
        storages._storages.pop(alias, None)
    try:
        yield
    finally:
        for alias in ("default", "private"):
            storages._storages.pop(alias, None)


@pytest.fixture(autouse=True, scope="session")
def _tasks_in_process():
    """Unit tests run Celery tasks in-process even when REDIS_URL is set (as under CI).

    The integration tests in tests/integration switch this off and use a real worker.
    """
    from config.celery import app

    # The app reads Django settings under the CELERY_ namespace, and prefixed keys win there.
    app.conf.CELERY_TASK_ALWAYS_EAGER = True
    app.conf.CELERY_TASK_EAGER_PROPAGATES = True
    yield


@pytest.fixture(autouse=True)
def _english_unless_marked_zh(request, settings):
    """Tests read English messages; the Chinese UI (the product default) is tested under @pytest.mark.zh."""
    from django.utils import translation

    language = "zh-hans" if request.node.get_closest_marker("zh") else "en"
    settings.LANGUAGE_CODE = language
    with translation.override(language):
        yield


@pytest.fixture(autouse=True)
def _own_cache(settings):
    """Each test counts throttles in a cache of its own: user ids repeat across the parallel
    test databases, so a shared Redis cache would mix their counters."""
    settings.CACHES = own_cache()


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = FAST_PASSWORD_HASHERS


@pytest.fixture(autouse=True)
def _private_media(request, tmp_path, settings):
    """Every test writes documents into its own private folder, encrypted as in production. With
    module_data, the folder starts as a copy of the module's, where the files of its rows are."""
    location = tmp_path / "private"
    if "module_data" in request.fixturenames:
        shutil.copytree(request.getfixturevalue("module_data").private_root, location)
    for name, value in private_storage_settings(location).items():
        setattr(settings, name, value)
    with _fresh_storages():
        yield


@pytest.fixture
def faces_dir() -> Path:
    path = face_testdata_dir()
    if path is None:
        pytest.skip("face photos not found")
    return path


def _restore_unit_kinds() -> None:
    """The unit kinds are reference data from a data migration too (E1)."""
    import importlib

    from enterprises.models import UnitKind

    if not UnitKind.objects.exists():
        for code, name, name_en, cannot_hold, order in importlib.import_module(
            "enterprises.migrations.0003_unit_kind_data"
        ).KINDS:
            UnitKind.objects.create(
                code=code, name=name, name_en=name_en, cannot_hold_credential=cannot_hold, sort_order=order
            )


def reference_data() -> dict:
    """The provinces and unit kinds, which data migrations write: transactional tests flush the tables,
    data migrations included, so they are put back where missing. Returns two provinces by name."""
    import importlib

    from accounts.models import Province

    if not Province.objects.exists():
        for code, name, name_en in importlib.import_module("accounts.migrations.0003_provinces").PROVINCES:
            Province.objects.create(code=code, name=name, name_en=name_en)
    _restore_unit_kinds()
    return {"beijing": Province.objects.get(code="11"), "guangdong": Province.objects.get(code="44")}


@pytest.fixture
def provinces(db):
    return reference_data()


def build_world(provinces) -> dict:
    """A user of every role, and an enterprise in each of two provinces."""
    from tests import factories

    bj, gd = provinces["beijing"], provinces["guangdong"]
    manager_bj = factories.user(role="account_manager", province=bj, username="am_bj")
    manager_gd = factories.user(role="account_manager", province=gd, username="am_gd")
    ent_bj = factories.enterprise(actor=manager_bj, name="北京物联科技有限公司")
    ent_bj2 = factories.enterprise(actor=manager_bj, name="北京第二物联有限公司")
    ent_gd = factories.enterprise(actor=manager_gd, name="广东物联网络有限公司")
    users = {
        "anonymous": None,
        "account_manager": manager_bj,
        "account_manager_other_province": manager_gd,
        "enterprise_admin": factories.user(role="enterprise_admin", enterprise=ent_bj, username="ea_bj"),
        "enterprise_admin_other_enterprise": factories.user(
            role="enterprise_admin", enterprise=ent_bj2, username="ea_bj2"
        ),
        "provincial_approver": factories.user(role="provincial_approver", province=bj, username="pa_bj"),
        "provincial_approver_other_province": factories.user(role="provincial_approver", province=gd, username="pa_gd"),
        "group_approver": factories.user(role="group_approver", username="ga"),
        "ops": factories.user(role="ops", username="ops", is_staff=True),
    }
    return {"users": users, "enterprise": ent_bj, "enterprise_same_province": ent_bj2, "enterprise_other": ent_gd}


class ModuleData:
    """Rows built once for a whole test module, like Django's setUpTestData.

    They are written inside a transaction that stays open for the module and is rolled back after it;
    each test runs in a savepoint inside it (pytest-django's `db`), so what a test writes is undone after
    that test and the module's rows are there for the next one. Only for modules whose tests all use the
    plain `db` (a transactional test would commit or flush the shared transaction): conftest gives it to
    every test that asks for `world` there (see _build_world_once_per_module). A module may build more
    rows once in a module-scoped fixture with `module_data.build(...)`. Tests get deep copies of the
    objects (as setUpTestData gives), so one test's changes in memory do not reach the next. A module
    whose tests check that nothing at all was written is marked `world_per_test`.
    """

    def __init__(self, blocker, private_root: Path):
        self._blocker = blocker
        self.private_root = private_root
        self.world: dict = {}

    @contextlib.contextmanager
    def building(self):
        """What every test gets from the autouse fixtures below, for code that runs outside a test."""
        from django.test import override_settings
        from django.utils import translation

        with (
            self._blocker.unblock(),
            override_settings(
                PASSWORD_HASHERS=FAST_PASSWORD_HASHERS,
                CACHES=own_cache(),
                **private_storage_settings(self.private_root),
            ),
            translation.override("en"),
            _fresh_storages(),
        ):
            yield

    def build(self, make, *args, **kwargs):
        with self.building():
            return make(*args, **kwargs)


@pytest.fixture(scope="module")
def module_data(django_db_setup, django_db_blocker, tmp_path_factory, _tasks_in_process):
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
    try:
        data = ModuleData(django_db_blocker, tmp_path_factory.mktemp("module-private"))
        data.world = data.build(lambda: build_world(reference_data()))
        yield data
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


@pytest.fixture
def world(request, db, provinces):
    """A user of every role, and an enterprise in each of two provinces (once per module with module_data)."""
    if "module_data" in request.fixturenames:
        return copy.deepcopy(request.getfixturevalue("module_data").world)
    return build_world(provinces)


# ---------------------------------------------------------------------------
# Face engine test double (verification.engine.ScriptedEngine), for other apps'
# unit tests that must not run the real matcher. The engine's own tests use the
# real engine (tests/verification/test_engine.py).


@pytest.fixture
def scripted_face_engine(settings):
    """Comparisons return what the test chooses: `scripted_face_engine("review", distance=0.55)`.

    Default: "pass" at 0.3. "rejected" carries a no_face reason unless `reasons=` is given.
    No perceptual hash (so no replay flag) unless `phash=` is given.
    """
    from verification.engine import ScriptedEngine

    settings.FACE_ENGINE = "verification.engine.ScriptedEngine"
    ScriptedEngine.calls = 0

    def choose(outcome: str = "pass", *, distance: float | None = 0.3, reasons: list | None = None, phash: str = ""):
        settings.FACE_SCRIPTED_OUTCOME = outcome
        settings.FACE_SCRIPTED_DISTANCE = distance
        settings.FACE_SCRIPTED_REASONS = reasons
        settings.FACE_SCRIPTED_PHASH = phash
        return choose

    choose.engine = ScriptedEngine
    return choose()


@pytest.fixture
def no_engine(monkeypatch):
    """Verifications are created without the real engine; tests record the result themselves."""
    queued: list[int] = []
    monkeypatch.setattr("verification.services.enqueue_verification", queued.append)
    return queued
