"""Packing workflow source: reproducible bytes, ignore rules, links and the size limit."""

from __future__ import annotations

import io
import re
import tarfile
from pathlib import Path

import pytest

from runyard_client import BundleError
from runyard_client._bundles import modules_of, pack


def _tree(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "flows.py").write_text("x = 1\n")
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "more.py").write_text("y = 2\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_flows.py").write_text("")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref")
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "flows.cpython-311.pyc").write_bytes(b"\0")
    (root / ".venv" / "lib").mkdir(parents=True)
    (root / ".venv" / "lib" / "big.py").write_text("z = 3\n")
    (root / "data").mkdir()
    (root / "data" / "cache.bin").write_bytes(b"\1" * 10)
    (root / ".runyardignore").write_text("data/\n*.log\n")
    (root / "run.log").write_text("noise")
    return root


def _names(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return sorted(tar.getnames())


def test_a_folder_is_packed_without_what_is_ignored(tmp_path):
    bundle = pack(_tree(tmp_path / "code"))
    assert _names(bundle.data) == [
        "flows.py",
        "pkg/__init__.py",
        "pkg/more.py",
        "tests/test_flows.py",
    ]
    assert modules_of(bundle, tmp_path / "code") == ["flows", "pkg", "pkg.more"]


def test_the_same_source_gives_the_same_bytes(tmp_path):
    first = pack(_tree(tmp_path / "a"))
    second = pack(_tree(tmp_path / "b"))
    assert first.sha256 == second.sha256 and first.data == second.data
    (tmp_path / "b" / "flows.py").write_text("x = 2\n")
    assert pack(tmp_path / "b").sha256 != first.sha256


def test_one_file_is_a_bundle_of_itself(tmp_path):
    _tree(tmp_path / "code")
    bundle = pack(tmp_path / "code" / "flows.py")
    assert _names(bundle.data) == ["flows.py"]
    assert modules_of(bundle, tmp_path / "code" / "flows.py") == ["flows"]


def test_links_out_of_the_folder_are_refused(tmp_path):
    root = _tree(tmp_path / "code")
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    (root / "leak.txt").symlink_to(outside)
    with pytest.raises(BundleError, match="leak.txt is a link to .*outside"):
        pack(root)
    (root / "leak.txt").unlink()
    (root / "inside.py").symlink_to(root / "flows.py")
    assert "inside.py" in _names(pack(root).data)


def test_the_size_limit_is_enforced(tmp_path):
    root = _tree(tmp_path / "code")
    (root / "weights.bin").write_bytes(b"\2" * 5000)
    with pytest.raises(BundleError, match="more than 1000 bytes"):
        pack(root, max_bytes=1000)


def test_nothing_to_deploy_is_said(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "README").write_text("hi")
    with pytest.raises(BundleError, match="no .py file"):
        pack(tmp_path / "empty")
    with pytest.raises(BundleError, match="does not exist"):
        pack(tmp_path / "missing")


def test_requirements_txt_goes_with_each_version(tmp_path: Path) -> None:
    from runyard_client._deploy import definition_for, read_requirements

    (tmp_path / "flows.py").write_text("x = 1\n")
    item = {"module": "flows", "function": "run", "definition": {"workflow_slug": "run"}}
    _, plain = definition_for(item, pack(tmp_path), "bundles/k")
    assert "requirements" not in plain["workflow_json"]  # none: unchanged definitions
    (tmp_path / "requirements.txt").write_text(
        "# pinned\npillow>=10  # images\n\nnumpy==2.1; python_version >= '3.10'\n"
    )
    assert read_requirements(tmp_path) == ["pillow>=10", "numpy==2.1; python_version >= '3.10'"]
    _, definition = definition_for(item, pack(tmp_path), "bundles/k")
    assert definition["workflow_json"]["requirements"] == read_requirements(tmp_path)
    for bad, said in (("-r other.txt\n", "pip options (-r)"), ("pillow>=\n", "not a requirement")):
        (tmp_path / "requirements.txt").write_text(bad)
        with pytest.raises(BundleError, match=re.escape(said)):
            read_requirements(tmp_path)


def test_a_requirements_file_given_at_deploy_wins(tmp_path: Path) -> None:
    from runyard_client._deploy import definition_for

    code = tmp_path / "code"
    code.mkdir()
    (code / "flows.py").write_text("x = 1\n")
    (code / "requirements.txt").write_text("pillow\n")
    (tmp_path / "gpu.txt").write_text("torch==2.13.0\n")
    item = {"module": "flows", "function": "run", "definition": {"workflow_slug": "run"}}
    _, definition = definition_for(item, pack(code), "bundles/k", tmp_path / "gpu.txt")
    assert definition["workflow_json"]["requirements"] == ["torch==2.13.0"]
    with pytest.raises(BundleError, match="no requirements file"):
        definition_for(item, pack(code), "bundles/k", tmp_path / "missing.txt")
