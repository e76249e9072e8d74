"""The deployment files keep the rules that matter, and stay in step with the code.

Reads every YAML document under deploy/k8s and deploy/compose with PyYAML (no kubectl,
kustomize or docker needed); the topic catalog, the service names and the settings come
from the code itself (contracts.topics, chassis.settings, each service's settings).
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from chassis.settings import ServiceSettings
from contracts.topics import SERVICES, TOPICS

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
COMPOSE = ROOT / "deploy" / "compose"
DOCKER = ROOT / "deploy" / "docker"
COMPOSE_FILES = ("compose.yaml", "compose.services.yaml", "compose.observability.yaml")

UID = 10001
PLATFORM_CONFIG = "platform-config"
KUSTOMIZE_KINDS = {"Kustomization", "Component"}
WORKLOAD_KINDS = {"Deployment", "Job"}
# Names of settings, env vars and config keys whose value is a credential.
SECRET_NAME = re.compile(
    r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL|DATABASE_URL|DSN",
    re.IGNORECASE,
)
# scheme://user:password@host; the password may be a ${...} interpolation.
URL_WITH_PASSWORD = re.compile(r"://[^/\s:@]+:(?P<password>(?:\$\{[^}]*\}|[^@\s/$])+)@")
INTERPOLATION = re.compile(
    r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
)
TOPIC_LINE = re.compile(r"^topic\s+(\S+)\s+(\d+)\s+(\S+)\s+(\S+)\s*(?:#.*)?$")


def _settings_class(service: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"{service}.settings")
    for value in vars(module).values():
        if (
            isinstance(value, type)
            and issubclass(value, ServiceSettings)
            and value is not ServiceSettings
            and value.service_name == service
        ):
            return value
    raise AssertionError(f"{service}.settings defines no ServiceSettings subclass")


SETTINGS = {service: _settings_class(service) for service in SERVICES}
PORTS = {service: int(cls.model_fields["http_port"].default) for service, cls in SETTINGS.items()}
PREFIXES = {service: f"{service.upper()}_" for service in SERVICES}
SETTING_KEYS = {name.upper() for name in ServiceSettings.model_fields}
DEFAULT_SHUTDOWN_S = float(ServiceSettings.model_fields["shutdown_timeout_s"].default)


# --- loading ---------------------------------------------------------------------------


def _yaml_files(root: Path) -> list[Path]:
    return sorted([*root.rglob("*.yaml"), *root.rglob("*.yml")])


def _load(path: Path) -> list[Any]:
    with path.open(encoding="utf-8") as stream:
        return [doc for doc in yaml.safe_load_all(stream) if doc is not None]


def _kustomizations() -> dict[Path, dict[str, Any]]:
    found = {}
    for path in sorted(K8S.rglob("kustomization.yaml")):
        (doc,) = _load(path)
        found[path.parent] = doc
    return found


def _patch_files() -> set[Path]:
    """Files that kustomize merges into resources: partial objects, not resources."""
    patches = set()
    for folder, kustomization in _kustomizations().items():
        for patch in kustomization.get("patches") or []:
            if "path" in patch:
                patches.add((folder / patch["path"]).resolve())
        for path in kustomization.get("patchesStrategicMerge") or []:
            patches.add((folder / path).resolve())
    return patches


def _k8s_objects() -> list[tuple[Path, dict[str, Any]]]:
    patches = _patch_files()
    objects = []
    for path in _yaml_files(K8S):
        if path.resolve() in patches:
            continue
        for doc in _load(path):
            if not isinstance(doc, dict) or doc.get("kind") in KUSTOMIZE_KINDS:
                continue
            assert {"apiVersion", "kind", "metadata"} <= set(doc), f"{path}: not an object"
            objects.append((path, doc))
    return objects


K8S_OBJECTS = _k8s_objects()


def _objects(kind: str, root: Path = K8S) -> list[dict[str, Any]]:
    return [doc for path, doc in K8S_OBJECTS if doc["kind"] == kind and root in path.parents]


def _named(kind: str, name: str, root: Path = K8S / "base") -> dict[str, Any]:
    matches = [doc for doc in _objects(kind, root) if doc["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name} under {root}, found {len(matches)}"
    return matches[0]


def _workloads() -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{doc['kind']}/{doc['metadata']['name']}", doc)
        for _, doc in K8S_OBJECTS
        if doc["kind"] in WORKLOAD_KINDS
    ]


WORKLOADS = _workloads()
WORKLOAD_IDS = [name for name, _ in WORKLOADS]


def _containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    pod = workload["spec"]["template"]["spec"]
    return [*pod.get("initContainers", []), *pod["containers"]]


def _dotenv(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"{path.name}: not KEY=VALUE: {line!r}"
            values[key.strip()] = value.strip()
    return values


ENV_EXAMPLE = _dotenv(COMPOSE / ".env.example")


def _interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} against the .env values."""

    def replace(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        value = env.get(name)
        if op in (":-", "-"):
            return value if value else (arg or "")
        assert value, f"${{{name}}} is not set in deploy/compose/.env.example"
        return value

    return INTERPOLATION.sub(replace, text)


def _compose() -> dict[str, dict[str, Any]]:
    """Every compose file, as loaded (merge keys resolved by PyYAML)."""
    return {name: _load(COMPOSE / name)[0] for name in COMPOSE_FILES}


def _compose_services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = {}
    for name, doc in _compose().items():
        for service, spec in (doc.get("services") or {}).items():
            assert service not in services, f"{service} is defined twice (again in {name})"
            services[service] = spec
    return services


COMPOSE_SERVICES = _compose_services()


def _compose_env(spec: dict[str, Any]) -> dict[str, str]:
    env = spec.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(key): str(value) for key, value in env.items()}


def _image_is_pinned(image: str) -> bool:
    if "@sha256:" in image:
        return True
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and tag not in ("", "latest")


def _topic_lines(script: Path) -> list[tuple[str, int, str, int | None]]:
    rows = []
    for line in script.read_text(encoding="utf-8").splitlines():
        if not line.startswith("topic "):
            continue
        match = TOPIC_LINE.match(line)
        assert match, f"{script}: cannot read topic line {line!r}"
        name, partitions, cleanup, retention = match.groups()
        rows.append((name, int(partitions), cleanup, None if retention == "-" else int(retention)))
    return rows


CATALOG = sorted((t.name, t.partitions, t.cleanup_policy, t.retention_ms) for t in TOPICS)


# --- every file parses, nothing is orphaned ---------------------------------------------


def test_every_yaml_document_parses() -> None:
    files = [*_yaml_files(K8S), *_yaml_files(COMPOSE)]
    assert len(files) > 10
    for path in files:
        assert _load(path), f"{path} holds no YAML document"


def test_kustomizations_reference_only_files_that_exist() -> None:
    kustomizations = _kustomizations()
    assert {K8S / "base", K8S / "overlays" / "dev", K8S / "overlays" / "prod"} <= set(
        kustomizations
    )
    for folder, doc in kustomizations.items():
        assert doc.get("kind", "Kustomization") in KUSTOMIZE_KINDS, folder
        for entry in doc.get("resources") or []:
            target = (folder / entry).resolve()
            assert target.exists(), f"{folder}: resource {entry} does not exist"
            if target.is_dir():
                assert (target / "kustomization.yaml").is_file(), f"{target} is no kustomization"
        for entry in doc.get("components") or []:
            target = (folder / entry).resolve()
            assert target in kustomizations, f"{folder}: component {entry} does not exist"
            assert kustomizations[target].get("kind") == "Component", f"{entry} is no Component"
        for patch in doc.get("patches") or []:
            if "path" in patch:
                assert (folder / patch["path"]).is_file(), f"{folder}: patch {patch['path']}"
        for generator in (doc.get("configMapGenerator") or []) + (doc.get("secretGenerator") or []):
            for entry in (generator.get("files") or []) + (generator.get("envs") or []):
                file = entry.split("=", 1)[-1]
                assert (folder / file).is_file(), f"{folder}: generator file {file} does not exist"


def test_every_file_under_k8s_is_used_by_a_kustomization() -> None:
    used: set[Path] = set()
    for folder, doc in _kustomizations().items():
        used.add(folder / "kustomization.yaml")
        used.update((folder / entry).resolve() for entry in doc.get("resources") or [])
        used.update((folder / p["path"]).resolve() for p in doc.get("patches") or [] if "path" in p)
        for generator in doc.get("configMapGenerator") or []:
            files = generator.get("files") or []
            used.update((folder / e.split("=", 1)[-1]).resolve() for e in files)
    files = {p for p in K8S.rglob("*") if p.is_file() and p.name != "README.md"}
    orphans = sorted(str(p.relative_to(K8S)) for p in files if p not in used)
    assert not orphans, f"files no kustomization uses: {orphans}"


# --- Kubernetes: every service is there, shaped the same way ----------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_service_has_deployment_service_and_migration_job(service: str) -> None:
    account = _named("ServiceAccount", service)
    assert account.get("automountServiceAccountToken") is False

    deployment = _named("Deployment", service)
    assert deployment["metadata"]["labels"]["app"] == service
    assert deployment["spec"]["selector"]["matchLabels"] == {"app": service}
    pod = deployment["spec"]["template"]
    assert pod["metadata"]["labels"]["app"] == service
    assert pod["spec"]["serviceAccountName"] == service
    (container,) = pod["spec"]["containers"]
    assert container.get("args", ["serve"]) == ["serve"]
    assert [p["containerPort"] for p in container["ports"]] == [PORTS[service]]
    assert container["ports"][0]["name"] == "http"

    svc = _named("Service", service)
    assert svc["metadata"]["labels"]["app"] == service
    assert svc["spec"]["selector"] == {"app": service}
    assert [(p["name"], p["port"], p["targetPort"]) for p in svc["spec"]["ports"]] == [
        ("http", PORTS[service], "http")
    ]

    job = _named("Job", f"{service}-migrate")
    job_pod = job["spec"]["template"]
    # Not app=<service>: the Service must never send traffic to a migration pod.
    assert job_pod["metadata"]["labels"]["app"] == f"{service}-migrate"
    assert job_pod["spec"]["restartPolicy"] in ("Never", "OnFailure")
    (migrate,) = job_pod["spec"]["containers"]
    assert migrate["image"] == container["image"], "the Job must run the service's image"
    assert migrate["args"] == ["migrate"]
    assert "command" not in migrate, "the image's entrypoint is python -m <service>"


@pytest.mark.parametrize("service", SERVICES)
def test_service_reads_its_prefix_and_its_secret(service: str) -> None:
    prefix = PREFIXES[service]
    for kind, name in (("Deployment", service), ("Job", f"{service}-migrate")):
        (container,) = _named(kind, name)["spec"]["template"]["spec"]["containers"]
        assert container["envFrom"] == [
            {"prefix": prefix, "configMapRef": {"name": PLATFORM_CONFIG}}
        ], f"{kind}/{name}: shared settings come from {PLATFORM_CONFIG} with prefix {prefix}"
        env = {item["name"]: item for item in container.get("env", [])}
        for key in env:
            assert key.startswith(prefix), f"{kind}/{name}: {key} is not a {prefix} setting"
            assert key.removeprefix(prefix) in _setting_keys(service), key
        assert env[f"{prefix}HTTP_PORT"]["value"] == str(PORTS[service])
        assert env[f"{prefix}DATABASE_URL"]["valueFrom"] == {
            "secretKeyRef": {"name": f"{service}-secrets", "key": "DATABASE_URL"}
        }


def _setting_keys(service: str) -> set[str]:
    return {name.upper() for name in SETTINGS[service].model_fields}


@pytest.mark.parametrize("service", SERVICES)
def test_deployment_probes_and_shutdown(service: str) -> None:
    deployment = _named("Deployment", service)
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    expected = {
        "startupProbe": "/healthz",
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
    }
    for probe, path in expected.items():
        assert probe in container, f"{service}: no {probe}"
        get = container[probe]["httpGet"]
        assert get["path"] == path, f"{service}: {probe} must GET {path}"
        assert get["port"] in ("http", PORTS[service])
    shutdown = float(_platform_config(K8S / "base").get("SHUTDOWN_TIMEOUT_S", DEFAULT_SHUTDOWN_S))
    # The HTTP drain and then the outbox flush may each take the shutdown timeout.
    assert pod["spec"]["terminationGracePeriodSeconds"] > 2 * shutdown
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(PORTS[service])
    assert annotations["prometheus.io/path"] == "/metrics"


def test_kubernetes_workloads_are_all_known() -> None:
    names = {name for name, _ in WORKLOADS}
    expected = {f"Deployment/{s}" for s in SERVICES} | {f"Job/{s}-migrate" for s in SERVICES}
    assert expected <= names
    assert names - expected == {"Job/kafka-topics"}


@pytest.mark.parametrize(("name", "workload"), WORKLOADS, ids=WORKLOAD_IDS)
def test_workload_is_hardened(name: str, workload: dict[str, Any]) -> None:
    _assert_hardened(name, workload)


def _assert_hardened(name: str, workload: dict[str, Any]) -> None:
    pod = workload["spec"]["template"]["spec"]
    assert pod.get("automountServiceAccountToken") is False, name
    pod_security = pod.get("securityContext") or {}
    assert pod_security.get("runAsNonRoot") is True, name
    assert pod_security.get("runAsUser") == UID, name
    assert pod_security.get("runAsGroup") == UID, name
    assert pod_security.get("fsGroup") == UID, name
    assert pod_security.get("seccompProfile") == {"type": "RuntimeDefault"}, name
    tmp_volumes = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}
    for container in _containers(workload):
        where = f"{name}/{container['name']}"
        security = container.get("securityContext") or {}
        assert security.get("allowPrivilegeEscalation") is False, where
        assert security.get("readOnlyRootFilesystem") is True, where
        assert security.get("capabilities", {}).get("drop") == ["ALL"], where
        assert "add" not in security.get("capabilities", {}), where
        assert security.get("privileged", False) is False, where
        assert security.get("runAsUser", UID) == UID, where
        assert security.get("runAsNonRoot", True) is True, where
        mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
        assert mounts.get("/tmp") in tmp_volumes, f"{where}: /tmp must be an emptyDir"


@pytest.mark.parametrize(("name", "workload"), WORKLOADS, ids=WORKLOAD_IDS)
def test_workload_has_resources(name: str, workload: dict[str, Any]) -> None:
    for container in _containers(workload):
        resources = container.get("resources") or {}
        requests, limits = resources.get("requests", {}), resources.get("limits", {})
        assert {"cpu", "memory"} <= set(requests), f"{name}: requests cpu and memory"
        assert "memory" in limits, f"{name}: a memory limit"
        assert _mebibytes(requests["memory"]) <= _mebibytes(limits["memory"]) <= 1024, name


def _mebibytes(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}
    for unit, factor in units.items():
        if quantity.endswith(unit):
            return float(quantity.removesuffix(unit)) * factor
    raise AssertionError(f"memory quantity {quantity!r}: use Ki, Mi or Gi")


def test_kubernetes_images_are_pinned() -> None:
    for name, workload in WORKLOADS:
        for container in _containers(workload):
            assert _image_is_pinned(container["image"]), f"{name}: {container['image']}"
    for folder, doc in _kustomizations().items():
        for image in doc.get("images") or []:
            tag = image.get("newTag") or ""
            assert image.get("digest") or (tag and tag != "latest"), f"{folder}: {image}"


# --- secrets ------------------------------------------------------------------------------


def _all_yaml_docs() -> Iterator[tuple[Path, Any]]:
    for path in [*_yaml_files(K8S), *_yaml_files(COMPOSE)]:
        for doc in _load(path):
            yield path, doc


def _walk(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{path}[{index}]")


def test_no_secret_resource_anywhere() -> None:
    for path, doc in _all_yaml_docs():
        if isinstance(doc, dict):
            assert doc.get("kind") != "Secret", f"{path} defines a Secret"
            assert "secretGenerator" not in doc, f"{path} generates a Secret"


def test_no_password_written_into_a_url() -> None:
    for path, doc in _all_yaml_docs():
        for where, value in _walk(doc):
            if isinstance(value, str):
                for match in URL_WITH_PASSWORD.finditer(value):
                    interpolated = INTERPOLATION.fullmatch(match["password"])
                    assert interpolated, f"{path}{where}: a password written into {value}"


@pytest.mark.parametrize(("name", "workload"), WORKLOADS, ids=WORKLOAD_IDS)
def test_secrets_only_by_secret_key_ref(name: str, workload: dict[str, Any]) -> None:
    pod = workload["spec"]["template"]["spec"]
    owner = workload["metadata"]["labels"].get("app.kubernetes.io/name")
    assert not [v for v in pod.get("volumes", []) if "secret" in v], f"{name}: secret volume"
    for container in _containers(workload):
        for source in container.get("envFrom", []):
            assert "secretRef" not in source, f"{name}: envFrom a Secret"
        for item in container.get("env", []):
            ref = (item.get("valueFrom") or {}).get("secretKeyRef")
            if ref is not None:
                assert ref["name"] == f"{owner}-secrets", f"{name} reads {ref['name']}"
            if SECRET_NAME.search(item["name"]):
                assert ref is not None, f"{name}: {item['name']} must come from a secretKeyRef"
                assert "value" not in item, f"{name}: {item['name']} has an inline value"


def _config_literals(doc: dict[str, Any]) -> dict[str, str]:
    literals = {}
    for generator in doc.get("configMapGenerator") or []:
        if generator["name"] == PLATFORM_CONFIG:
            for literal in generator.get("literals") or []:
                key, _, value = literal.partition("=")
                literals[key] = value
    return literals


def _platform_config(folder: Path) -> dict[str, str]:
    return _config_literals(_kustomizations()[folder])


def test_platform_config_holds_settings_and_no_secret() -> None:
    seen = 0
    for folder, doc in _kustomizations().items():
        for key, value in _config_literals(doc).items():
            seen += 1
            assert key in SETTING_KEYS, f"{folder}: {key} is not a ServiceSettings field"
            assert not SECRET_NAME.search(key), f"{folder}: {key} belongs in <service>-secrets"
            assert not URL_WITH_PASSWORD.search(value), f"{folder}: {key}"
    for config_map in _objects("ConfigMap"):
        for key in config_map.get("data") or {}:
            assert not SECRET_NAME.search(key), f"ConfigMap {config_map['metadata']['name']}"
    assert seen
    base = _platform_config(K8S / "base")
    # Jobs migrate in Kubernetes; containers listen on every interface.
    assert base["MIGRATE_ON_START"] == "false"
    assert base["HTTP_HOST"] == "0.0.0.0"


# --- overlays and components --------------------------------------------------------------


def test_prod_overlay() -> None:
    prod = _kustomizations()[K8S / "overlays" / "prod"]
    assert _config_literals(prod)["ENVIRONMENT"] == "production"
    assert "../../components/network-policies" in prod["components"]
    assert "../../components/kafka-topics" in prod["components"]
    replicas = {r["name"]: r["count"] for r in prod.get("replicas") or []}
    assert replicas == {"gateway": 2, "bot": 2, "notifier": 2}
    budgets = {
        pdb["spec"]["selector"]["matchLabels"]["app"]
        for pdb in _objects("PodDisruptionBudget", K8S / "overlays" / "prod")
    }
    assert budgets == set(replicas)


def test_dev_overlay() -> None:
    dev = _kustomizations()[K8S / "overlays" / "dev"]
    assert _config_literals(dev)["ENVIRONMENT"] == "development"
    assert "../../base" in dev["resources"]


def _policies() -> dict[str, dict[str, Any]]:
    return {
        doc["metadata"]["name"]: doc
        for doc in _objects("NetworkPolicy", K8S / "components" / "network-policies")
    }


def _egress_ports(policy: dict[str, Any]) -> set[int]:
    return {port["port"] for rule in policy["spec"].get("egress", []) for port in rule["ports"]}


def test_network_policies_deny_by_default() -> None:
    deny = _policies()["default-deny-all"]["spec"]
    assert deny["podSelector"] == {}
    assert sorted(deny["policyTypes"]) == ["Egress", "Ingress"]
    assert "ingress" not in deny
    assert "egress" not in deny


@pytest.mark.parametrize("service", SERVICES)
def test_network_policy_of_service(service: str) -> None:
    policy = _policies()[service]
    spec = policy["spec"]
    assert spec["podSelector"] == {"matchLabels": {"app": service}}
    # Only the gateway takes traffic from outside the cluster (a rule with no "from").
    open_rules = [rule for rule in spec.get("ingress", []) if not rule.get("from")]
    if service == "gateway":
        assert open_rules, "the gateway must accept traffic from outside"
    else:
        assert not open_rules, f"{service} must not accept traffic from outside"
    for rule in spec.get("ingress", []):
        assert {p["port"] for p in rule["ports"]} == {PORTS[service]}
    # DNS, Kafka, its PostgreSQL, HTTPS out.
    assert {53, 9092, 5432, 443} <= _egress_ports(policy)
    databases = [
        peer["podSelector"]["matchLabels"]
        for rule in spec["egress"]
        for peer in rule.get("to", [])
        if any(port["port"] == 5432 for port in rule["ports"])
    ]
    assert databases
    assert all(db.get("app.kubernetes.io/instance") == f"{service}-postgres" for db in databases)

    migrate = _policies()[f"{service}-migrate"]
    assert migrate["spec"]["podSelector"] == {"matchLabels": {"app": f"{service}-migrate"}}
    assert _egress_ports(migrate) == {53, 5432}


def test_observability_component() -> None:
    folder = K8S / "components" / "observability"
    assert _platform_config(folder)["OTLP_ENDPOINT"].startswith("http")
    (monitor,) = _objects("ServiceMonitor", folder)
    assert monitor["spec"]["endpoints"][0]["port"] == "http"
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"


INGRESS_COMPONENT = K8S / "components" / "ingress"
NGINX = "nginx.ingress.kubernetes.io/"
# Controller-wide ConfigMap keys of ingress-nginx: as annotations they are silently ignored.
NGINX_CONFIGMAP_ONLY = {
    "client-header-timeout",
    "client-body-timeout",
    "keep-alive",
    "large-client-header-buffers",
    "use-forwarded-headers",
    "compute-full-forwarded-for",
    "forwarded-for-header",
    "proxy-real-ip-cidr",
    "limit-req-status-code",
    "limit-conn-status-code",
    "upstream-keepalive-timeout",
}
# setWebhook's default max_connections: parallel deliveries Telegram may open at once.
TELEGRAM_MAX_CONNECTIONS = 40


def _nginx_bytes(size: str) -> int:
    match = re.fullmatch(r"(\d+)([kKmM]?)", size)
    assert match, f"not an nginx size: {size!r}"
    return int(match[1]) * {"": 1, "k": 1024, "m": 1024 * 1024}[match[2].lower()]


def _ingresses() -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in _objects("Ingress", INGRESS_COMPONENT)}


def test_ingress_component_exposes_only_the_public_paths_of_the_gateway() -> None:
    (port,) = _named("Service", "gateway")["spec"]["ports"]
    paths = []
    for name, ingress in _ingresses().items():
        spec = ingress["spec"]
        assert spec["ingressClassName"] == "nginx", name
        hosts = {rule["host"] for rule in spec["rules"]}
        assert hosts == {host for tls in spec["tls"] for host in tls["hosts"]}, f"{name}: TLS"
        assert all(tls.get("secretName") for tls in spec["tls"]), name
        for rule in spec["rules"]:
            for path in rule["http"]["paths"]:
                assert path["pathType"] == "Prefix", name
                assert path["backend"]["service"] == {
                    "name": "gateway",
                    "port": {"name": port["name"]},
                }, name
                paths.append(path["path"])
    # Not /healthz, /readyz or /metrics: those stay inside the cluster.
    assert sorted(paths) == ["/sub/", "/webhooks/"]


def test_ingress_limits_fit_the_gateway() -> None:
    gateway = SETTINGS["gateway"].model_fields
    max_body = int(gateway["http_max_body_bytes"].default)
    for name, ingress in _ingresses().items():
        annotations = ingress["metadata"]["annotations"]
        assert all(isinstance(value, str) for value in annotations.values()), name
        keys = {key.removeprefix(NGINX) for key in annotations if key.startswith(NGINX)}
        assert not keys & NGINX_CONFIGMAP_ONLY, f"{name}: ConfigMap keys as annotations"
        assert not any("snippet" in key for key in keys), f"{name}: snippets are often disabled"
        # The gateway's 413 (counted, logged) is what a client sees up to a little above it.
        body = _nginx_bytes(annotations[f"{NGINX}proxy-body-size"])
        assert max_body <= body <= max_body * 5 // 4, f"{name}: proxy-body-size"
        # The controller reads the whole body: a slow client holds its connection, not ours.
        assert annotations[f"{NGINX}proxy-request-buffering"] == "on", name
        for key in ("limit-connections", "limit-rps", "limit-burst-multiplier"):
            assert int(annotations[f"{NGINX}{key}"]) > 0, f"{name}: {key}"
        for key in ("proxy-connect-timeout", "proxy-send-timeout", "proxy-read-timeout"):
            assert 0 < int(annotations[f"{NGINX}{key}"]) <= 60, f"{name}: {key}"
    webhooks = _ingresses()["gateway-webhooks"]["metadata"]["annotations"]
    assert int(webhooks[f"{NGINX}limit-connections"]) > TELEGRAM_MAX_CONNECTIONS


# --- Kafka topics -------------------------------------------------------------------------


def _k8s_topic_script() -> Path:
    folder = K8S / "components" / "kafka-topics"
    (job,) = _objects("Job", folder)
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    for mount in container["volumeMounts"]:
        config_map = volumes[mount["name"]].get("configMap")
        if config_map is None:
            continue
        (generator,) = [
            g
            for g in _kustomizations()[folder]["configMapGenerator"]
            if g["name"] == config_map["name"]
        ]
        (file,) = generator["files"]
        assert f"{mount['mountPath']}/{Path(file).name}" in container["command"]
        return folder / file
    raise AssertionError("the kafka-topics Job mounts no script")


def _compose_topic_script() -> Path:
    service = COMPOSE_SERVICES["kafka-topics"]
    for volume in service["volumes"]:
        source, target, *_ = volume.split(":")
        if target.endswith(".sh"):
            assert target in service["entrypoint"]
            return (COMPOSE / source).resolve()
    raise AssertionError("the compose kafka-topics service mounts no script")


@pytest.mark.parametrize("where", ["compose", "k8s"])
def test_topic_script_matches_the_catalog(where: str) -> None:
    script = _compose_topic_script() if where == "compose" else _k8s_topic_script()
    rows = _topic_lines(script)
    names = [row[0] for row in rows]
    assert len(names) == len(set(names)), f"{script}: a topic is listed twice"
    assert sorted(rows) == CATALOG


def test_topic_scripts_are_one_file() -> None:
    compose, k8s = _compose_topic_script(), _k8s_topic_script()
    assert compose.read_bytes() == k8s.read_bytes(), f"{compose} and {k8s} differ"


def test_topic_jobs_use_the_same_kafka_image() -> None:
    (job,) = _objects("Job", K8S / "components" / "kafka-topics")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    compose_image = _interpolate(COMPOSE_SERVICES["kafka-topics"]["image"], ENV_EXAMPLE)
    assert container["image"] == compose_image == ENV_EXAMPLE["KAFKA_IMAGE"]


# --- compose ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(COMPOSE_SERVICES))
def test_compose_service_has_a_memory_limit_and_a_pinned_image(name: str) -> None:
    spec = COMPOSE_SERVICES[name]
    limit = spec.get("mem_limit") or spec.get("deploy", {}).get("resources", {}).get(
        "limits", {}
    ).get("memory")
    assert limit, f"{name}: no memory limit"
    assert "image" in spec, f"{name}: name its image (built ones get a pinned tag too)"
    image = _interpolate(spec["image"], ENV_EXAMPLE)
    assert _image_is_pinned(image), f"{name}: {image} is not pinned"


@pytest.mark.parametrize("service", SERVICES)
def test_compose_service_migrates_first(service: str) -> None:
    prefix = PREFIXES[service]
    migrate, serve = COMPOSE_SERVICES[f"{service}-migrate"], COMPOSE_SERVICES[service]
    for spec in (migrate, serve):
        build = spec["build"]
        assert build["dockerfile"] == "deploy/docker/Dockerfile"
        assert (COMPOSE / build["context"]).resolve() == ROOT
        assert build["args"]["SERVICE"] == service
        assert str(build["args"]["HTTP_PORT"]) == str(PORTS[service])
        assert spec["read_only"] is True
        assert spec["cap_drop"] == ["ALL"]
    assert migrate["image"] == serve["image"]
    assert migrate["command"] == ["migrate"]
    assert migrate["restart"] == "no"
    assert serve["depends_on"][f"{service}-migrate"] == {
        "condition": "service_completed_successfully"
    }
    assert serve["depends_on"]["kafka-topics"] == {"condition": "service_completed_successfully"}
    for infra in ("kafka", "postgres"):
        assert serve["depends_on"][infra] == {"condition": "service_healthy"}
    assert migrate["depends_on"]["postgres"] == {"condition": "service_healthy"}
    env = _compose_env(serve)
    assert env == _compose_env(migrate)
    assert env[f"{prefix}MIGRATE_ON_START"] == "false"
    assert env[f"{prefix}HTTP_HOST"] == "0.0.0.0"
    assert env[f"{prefix}HTTP_PORT"] == str(PORTS[service])
    assert env[f"{prefix}KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert env[f"{prefix}DATABASE_URL"].endswith(f"@postgres:5432/{service}")
    for key in env:
        assert key.startswith(prefix)
        assert key.removeprefix(prefix) in _setting_keys(service), key
    assert f":{PORTS[service]}/readyz" in " ".join(serve["healthcheck"]["test"])


def test_compose_infrastructure_has_healthchecks() -> None:
    for name in ("kafka", "postgres"):
        assert COMPOSE_SERVICES[name]["healthcheck"]["test"], name
    assert COMPOSE_SERVICES["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_compose_secrets_come_from_the_env_file() -> None:
    for name, spec in COMPOSE_SERVICES.items():
        for key, value in _compose_env(spec).items():
            secret_refs = [
                m for m in INTERPOLATION.finditer(value) if SECRET_NAME.search(m["name"])
            ]
            for ref in secret_refs:
                assert ref["op"] in (None, ":?"), f"{name}: {key} has a default secret value"
            if SECRET_NAME.search(key):
                assert secret_refs, f"{name}: {key} must take its secret from .env"
            # Every variable the compose files require is in .env.example.
            _interpolate(value, ENV_EXAMPLE)


def test_env_example_holds_only_placeholder_secrets() -> None:
    secrets = {k: v for k, v in ENV_EXAMPLE.items() if SECRET_NAME.search(k)}
    assert secrets
    for key, value in secrets.items():
        assert value.startswith("change-me"), f".env.example: {key} must be a fake placeholder"
    assert (COMPOSE / ".gitignore").read_text(encoding="utf-8").count(".env") >= 1
    layers = ENV_EXAMPLE["COMPOSE_FILE"].split(":")
    assert layers == list(COMPOSE_FILES)


# --- image --------------------------------------------------------------------------------


def _dockerfile_arg(name: str) -> str:
    match = re.search(rf"^ARG {name}=(\S+)$", (DOCKER / "Dockerfile").read_text(), re.MULTILINE)
    assert match, f"Dockerfile: no default for ARG {name}"
    return match[1]


def test_dockerfile_copies_every_workspace_manifest_before_the_sources() -> None:
    text = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    workspace = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    members = sorted(
        str(manifest.parent.relative_to(ROOT))
        for pattern in workspace["tool"]["uv"]["workspace"]["members"]
        for manifest in ROOT.glob(f"{pattern}/pyproject.toml")
    )
    assert {f"services/{service}" for service in SERVICES} <= set(members)
    first_source_copy = text.index("COPY libs/ libs/")
    for member in members:
        line = f"COPY {member}/pyproject.toml {member}/"
        assert line in text, f"Dockerfile: missing {line!r}"
        assert text.index(line) < first_source_copy
    assert "uv sync --frozen --no-dev --no-editable" in text
    assert "--mount=type=cache,target=/root/.cache/uv" in text
    assert "USER 10001:10001" in text
    runtime = text[text.index("AS runtime") :]
    assert [line for line in runtime.splitlines() if line.startswith("COPY")] == [
        "COPY --from=builder /app/.venv /app/.venv"
    ]


def test_dockerfile_base_images_are_pinned_and_match_compose() -> None:
    for arg in ("PYTHON_IMAGE", "UV_IMAGE"):
        assert _image_is_pinned(_dockerfile_arg(arg))
        assert ENV_EXAMPLE[arg] == _dockerfile_arg(arg)


def test_dockerignore_keeps_the_dev_runtime_out() -> None:
    lines = (DOCKER / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line for line in lines if line.strip() and not line.startswith("#")]
    assert patterns[0] == "*", "an allow-list: ignore everything, then name what is sent"
    assert "libs/devstack/*" in lines
    assert "libs/sandbox/*" in lines


# --- rendering (only where kustomize or kubectl is installed) -----------------------------


def _kustomize_command() -> list[str] | None:
    if kustomize := shutil.which("kustomize"):
        return [kustomize, "build"]
    if kubectl := shutil.which("kubectl"):
        return [kubectl, "kustomize"]
    return None


@pytest.mark.skipif(_kustomize_command() is None, reason="neither kustomize nor kubectl installed")
@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_overlay_renders(overlay: str) -> None:
    command = _kustomize_command()
    assert command is not None
    rendered = subprocess.run(
        [*command, str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert rendered.returncode == 0, rendered.stderr
    docs = [doc for doc in yaml.safe_load_all(rendered.stdout) if doc]
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], []).append(doc)
    config_maps = {cm["metadata"]["name"]: cm for cm in by_kind["ConfigMap"]}
    (config,) = [cm for name, cm in config_maps.items() if name.startswith(PLATFORM_CONFIG)]
    environment = {"dev": "development", "prod": "production"}[overlay]
    assert config["data"]["ENVIRONMENT"] == environment
    replicas = {d["metadata"]["name"]: d["spec"]["replicas"] for d in by_kind["Deployment"]}
    assert set(replicas) == set(SERVICES)
    if overlay == "prod":
        assert replicas == {"gateway": 2, "bot": 2, "notifier": 2, "billing": 1, "provisioning": 1}
        assert "NetworkPolicy" in by_kind
    for workload in by_kind["Deployment"] + by_kind["Job"]:
        name = f"{workload['kind']}/{workload['metadata']['name']}"
        _assert_hardened(name, workload)
        for container in _containers(workload):
            # Generated ConfigMap names carry a hash: every reference must have been rewritten.
            refs = [s["configMapRef"]["name"] for s in container.get("envFrom", [])]
            refs += [
                e["valueFrom"]["configMapKeyRef"]["name"]
                for e in container.get("env", [])
                if "configMapKeyRef" in e.get("valueFrom", {})
            ]
            assert all(ref in config_maps for ref in refs), f"{name}: {refs}"


@pytest.mark.skipif(_kustomize_command() is None, reason="neither kustomize nor kubectl installed")
@pytest.mark.parametrize("under", ["base", "overlays/prod"])
def test_ingress_component_renders(under: str, tmp_path: Path) -> None:
    """No overlay enables it (it needs ingress-nginx): render it the way an overlay would."""
    command = _kustomize_command()
    assert command is not None
    root = Path(os.path.relpath(K8S, tmp_path))  # kustomize refuses absolute paths
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": "vpn",
        "resources": [str(root / under)],
        "components": [str(root / "components" / "ingress")],
    }
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(kustomization), encoding="utf-8")
    rendered = subprocess.run(
        [*command, str(tmp_path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert rendered.returncode == 0, rendered.stderr
    docs = [doc for doc in yaml.safe_load_all(rendered.stdout) if doc]
    services = {
        doc["metadata"]["name"]: {port["name"] for port in doc["spec"]["ports"]}
        for doc in docs
        if doc["kind"] == "Service"
    }
    ingresses = [doc for doc in docs if doc["kind"] == "Ingress"]
    assert {doc["metadata"]["name"] for doc in ingresses} == set(_ingresses())
    for ingress in ingresses:
        assert ingress["metadata"]["namespace"] == "vpn"
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                assert backend["port"]["name"] in services[backend["name"]], backend
