"""The wheel carries what a checkout has: every package and the curated schema, found by
`schema_paths` once installed (a plain `pip install .`, not editable)."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCHEMA = "pipelines/schemas/np6.schema.yaml"


def _packages() -> list[str]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]


def test_every_package_folder_is_listed_in_pyproject():
    folders = {str(p.parent.relative_to(REPO)).replace(os.sep, ".")
               for top in ("sources", "pipelines") for p in (REPO / top).rglob("*.py")
               if "__pycache__" not in p.parts}
    assert folders <= set(_packages())


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(out), str(REPO)], check=True, capture_output=True, timeout=300)
    return next(out.glob("np6_connector-*.whl"))


def test_the_wheel_ships_the_curated_schema(wheel):
    with zipfile.ZipFile(wheel) as whl:
        names = whl.namelist()
        assert SCHEMA in names
        assert whl.read(SCHEMA) == (REPO / "schemas" / "import" / "np6.schema.yaml").read_bytes()
    assert not [n for n in names if n.startswith(("schemas/", "tests/", "pipelines/schemas/erd"))]


def test_an_installed_copy_loads_the_curated_schema(wheel, tmp_path):
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as whl:
        whl.extractall(site)
    probe = ("import pipelines, sys; from sources.np6.schema import curated_schema, schema_file; "
             "print(pipelines.__file__); print(schema_file()); print(list(curated_schema().tables)[:2])")
    env = {**os.environ, "PYTHONPATH": str(site)}
    proc = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    where, found, tables = proc.stdout.splitlines()
    assert where.startswith(str(site))  # the installed copy, not the checkout
    assert found == str(site / "pipelines" / "schemas" / "np6.schema.yaml")
    assert tables == repr(["actions", "hits"])  # the curated order


def test_the_airflow_dag_compiles_and_imports_without_airflow():
    path = REPO / "pipelines" / "orchestrators" / "airflow_np6.py"
    compile(path.read_text(), str(path), "exec")
    proc = subprocess.run([sys.executable, "-c", "import pipelines.orchestrators.airflow_np6 as m; print(m.DAG)"],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "None", proc.stderr
