"""The deployment files: they parse, validate against the Compose spec, and agree with the project.

No Docker engine runs here, so these are static checks: what a build or `docker compose
config` would trip over first.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from urllib.parse import urlparse

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML is needed to read the compose files")

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILES = ["docker-compose.yml", "docker-compose.cluster.yml"]
_VAR = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def _load(name: str) -> dict:
    return yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))


def _expand(value: str) -> str:
    """Compose interpolation with every variable unset: ${X:-default} -> default."""
    return _VAR.sub(lambda m: m.group(2) or "", str(value))


def _env(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: _expand(v) for k, v in env.items()}


def _container_ports(service: dict) -> set[int]:
    ports = {int(str(p).split("/")[0]) for p in service.get("expose") or []}
    for p in service.get("ports") or []:
        target = p.get("target") if isinstance(p, dict) else str(p).rsplit(":", 1)[-1].split("/")[0]
        ports.add(int(target))
    return ports


def _setup_pins() -> tuple[str, str]:
    text = (ROOT / "scripts" / "setup.sh").read_text()
    torch = re.search(r"pip install[^\n]*\b(torch==[\w.]+)", text)
    constraints = re.search(r"pip install[^\n]*-c (\S+)", text)
    assert torch and constraints, "scripts/setup.sh no longer pins torch and a constraints file"
    return torch.group(1), constraints.group(1)


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_compose_parses(name):
    data = _load(name)
    assert set(data["services"]) >= {"app"}
    for svc_name, svc in data["services"].items():
        assert "image" in svc or "build" in svc, svc_name
        if "image" in svc and "build" not in svc:
            assert ":" in svc["image"] and not svc["image"].endswith(":latest"), f"{svc_name}: pin the image"
        assert "healthcheck" in svc, f"{svc_name} has no health check"
    for vol in (v.split(":", 1)[0] for svc in data["services"].values() for v in svc.get("volumes") or []):
        if not vol.startswith((".", "/")):
            assert vol in (data.get("volumes") or {}), f"named volume {vol} is not declared"


def test_compose_validates_against_spec():
    exe = shutil.which("check-jsonschema") or str(Path(sys.executable).with_name("check-jsonschema"))
    if not Path(exe).exists():
        pytest.skip("check-jsonschema is not installed (pip install check-jsonschema==0.39.0)")
    result = subprocess.run([exe, "--builtin-schema", "vendor.compose-spec", *COMPOSE_FILES], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_app_points_at_existing_services(name):
    data = _load(name)
    services = data["services"]
    app = services["app"]
    env = _env(app)
    # The public URL is where people open the app: the port compose publishes, not a service's.
    public = urlparse(env.pop("NEWSROOM_PUBLIC_URL"))
    assert any(str(p).startswith(f"{public.hostname}:{public.port}:") for p in app.get("ports") or [])
    urls = [v for v in env.values() if v.startswith(("http://", "https://"))]
    assert any(urlparse(u).hostname and "qdrant" in urlparse(u).hostname for u in urls)
    for url in urls:
        parsed = urlparse(url)
        assert parsed.hostname in services, f"{url}: no service '{parsed.hostname}'"
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        assert port in _container_ports(services[parsed.hostname]), f"{url}: '{parsed.hostname}' has no port {port}"
    # The app waits for a healthy Qdrant.
    depends = app.get("depends_on") or {}
    qdrants = [s for s in services if s.startswith("qdrant")]
    assert qdrants and all(depends.get(q, {}).get("condition") == "service_healthy" for q in qdrants)
    assert any(str(p).endswith("7860") for p in app.get("ports") or [])
    assert "healthz" in " ".join(app["healthcheck"]["test"])


def test_optional_profiles():
    services = _load("docker-compose.yml")["services"]
    profiles = {p for svc in services.values() for p in svc.get("profiles") or []}
    assert {"llm", "embeddings"} <= profiles
    assert "profiles" not in services["app"] and "profiles" not in services["qdrant"]
    # The URLs the header comment tells people to set reach those services.
    header = (ROOT / "docker-compose.yml").read_text()
    for url in re.findall(r"_BASE_URL=(http://\S+)", header):
        parsed = urlparse(url)
        assert parsed.port in _container_ports(services[parsed.hostname]), url


def test_cluster_settings_are_real_settings():
    from dataclasses import fields

    from assistant.settings import Settings, load_settings

    data = _load("docker-compose.cluster.yml")
    nodes = {k: v for k, v in data["services"].items() if k.startswith("qdrant")}
    assert len(nodes) == 3
    for name, svc in nodes.items():
        assert _env(svc)["QDRANT__CLUSTER__ENABLED"] == "true"
        command = " ".join(svc["command"])
        assert f"--uri http://{name}:6335" in command
        if name != "qdrant-0":
            assert "--bootstrap http://qdrant-0:6335" in command
    env = _env(data["services"]["app"])
    names = {f.name for f in fields(Settings)}
    for key in env:
        assert key.startswith("NEWSROOM_") and key[len("NEWSROOM_"):].lower() in names, f"{key} is not a setting"
    s = load_settings(env=env)
    assert (s.shard_number, s.replication_factor) == (6, 2) and s.replication_factor <= len(nodes)
    s = load_settings(env=_env(_load("docker-compose.yml")["services"]["app"]))
    assert s.qdrant_url == "http://qdrant:6333" and not s.embedded


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_the_container_may_serve_with_its_compose_settings(name):
    """The image serves on 0.0.0.0: its compose settings must pass the same check `serve` makes."""
    from assistant.api.server import check_serving
    from assistant.auth import load_users
    from assistant.settings import load_settings

    s = load_settings(env=_env(_load(name)["services"]["app"]), host="0.0.0.0")
    check_serving(s, load_users(s))  # raises ConfigError when the container would refuse to start
    assert "--host" in (ROOT / "Dockerfile").read_text() and "0.0.0.0" in (ROOT / "Dockerfile").read_text()


def test_dockerfile_matches_setup():
    text = (ROOT / "Dockerfile").read_text()
    torch, constraints = _setup_pins()
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.M)
    torch_line = next(line for line in text.splitlines() if torch in line)
    assert "download.pytorch.org/whl/cpu" in torch_line
    assert re.search(rf"pip install -c {re.escape(constraints)} \.", text)
    assert text.index(torch) < text.index(f"-c {constraints}"), "torch must be installed before the project"
    assert re.search(r"^USER (?!root)\w+", text, re.M)
    assert "HEALTHCHECK" in text and "/healthz" in text
    assert 'CMD ["newsroom", "serve", "--host", "0.0.0.0"]' in text
    # Every COPY source exists (README.md is required by pyproject's readme field).
    for src in re.findall(r"^COPY (.+) \S+$", text, re.M):
        for path in src.split():
            if path == "README.md" and not (ROOT / path).exists():
                continue  # checked below
            assert (ROOT / path).exists(), f"COPY {path}: no such file"
    # The pinned torch is the constraints file's too, so the two steps cannot disagree.
    pinned = (ROOT / constraints).read_text()
    assert re.search(rf"^{re.escape(torch)}(\+cpu)?$", pinned, re.M), f"{constraints} does not pin {torch}"


def test_the_readme_the_package_names_is_in_the_image_build():
    """`pip install .` in the image reads pyproject's readme field: the file must exist and be copied."""
    readme = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["readme"]
    assert (ROOT / readme).is_file(), readme
    assert not any(line.strip() == readme for line in (ROOT / ".dockerignore").read_text().splitlines()), readme
