"""The README is the user's map: it must name every resource the source can load."""

from __future__ import annotations

from pathlib import Path

from sources.np6.registry import REGISTRY as RESOURCES

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_readme_lists_every_resource_with_its_endpoint() -> None:
    missing = [r.name for r in RESOURCES if f"| `{r.name}` | `{r.endpoint}` |" not in README]
    assert not missing, f"README resource table misses {missing}"


def test_readme_describes_every_model_column() -> None:
    from sources.np6.models import models

    section = README[README.index("## Models"):README.index("## Report")]
    missing = [f"{m.name}.{c}" for m in models() for c in m.columns if f"| `{c}` |" not in section]
    assert not missing and all(f"### `{m.name}`" in section for m in models()), missing
