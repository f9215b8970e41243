"""Who may import whom in the bridge (ARCHITECTURE.md): each room depends only on the rooms below it,
and the core imports neither Celery nor Redis, so Odoo and the workers can both import it."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]
ROOMS = ("core", "broker", "worker", "odoo_db", "integrations", "services", "tasks")
# room -> rooms (of the bridge) it may import
ALLOWED = {
    "core": {"core"},
    "broker": {"core", "broker"},
    "odoo_db": {"core", "odoo_db"},
    "integrations": {"core", "integrations"},
    "worker": {"core", "broker", "worker"},
    "services": {"core", "worker", "services"},
    "tasks": {"core", "broker", "worker", "odoo_db", "integrations", "tasks"},
}
# third-party packages a room may not import
FORBIDDEN = {
    "core": {"celery", "kombu", "redis", "psycopg2", "requests", "paho"},
    "odoo_db": {"celery", "kombu", "redis"},
    "integrations": {"celery", "kombu", "redis"},
}


def imports_of(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module
            for alias in node.names:
                yield f"{node.module}.{alias.name}"


def room_of(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "celery_bridge" and parts[1] in ROOMS else None


def test_rooms_import_only_the_rooms_below_them():
    breaches = []
    for room in ROOMS:
        for path in sorted((PACKAGE / room).rglob("*.py")):
            for module in imports_of(path):
                target = room_of(module)
                if target and target not in ALLOWED[room]:
                    breaches.append(f"{path.relative_to(PACKAGE)} imports {module} ({room} → {target})")
                top = module.split(".")[0]
                if top in FORBIDDEN.get(room, ()):
                    breaches.append(f"{path.relative_to(PACKAGE)} imports {module} ({room} must not use {top})")
    assert breaches == [], "\n".join(sorted(set(breaches)))


def test_no_module_is_left_outside_the_rooms():
    loose = sorted(path.name for path in PACKAGE.glob("*.py") if path.name not in ("__init__.py", "celery.py"))
    assert loose == [], "every module belongs to a room (ARCHITECTURE.md)"


def test_relative_imports_are_not_used_across_rooms():
    """Absolute imports keep each dependency visible to the rule above."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level > 1:
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == []
