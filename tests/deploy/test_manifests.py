"""The chart and knative/ through the real tools and schemas that consume them."""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from hermes.schema import Schema
from hermes.settings import load_settings
from tests.deploy.manifests import (
    CHART,
    ROOT,
    helm_template,
    kinds_and_names,
    kustomize_build,
    run,
    validate,
)

pytestmark = pytest.mark.deploy

PROD = CHART / "ci" / "production-values.yaml"
CONTRACT_NAMES = {
    ("Service", "hermes-search"),
    ("Service", "hermes-delta-load"),
    ("Service", "hermes-full-load"),
    ("PingSource", "hermes-delta"),
    ("PingSource", "hermes-full"),
}


@pytest.fixture(scope="module")
def crds(tools: Path) -> Path:
    return tools.parent / "knative-crds"


@pytest.fixture(scope="module")
def chart_default(tools: Path) -> list[dict[str, Any]]:
    return helm_template(tools)


@pytest.fixture(scope="module")
def chart_prod(tools: Path) -> list[dict[str, Any]]:
    return helm_template(tools, "-f", str(PROD))


@pytest.fixture(scope="module")
def kustomized(tools: Path) -> list[dict[str, Any]]:
    return kustomize_build(tools)


@pytest.mark.parametrize("values", [[], ["-f", str(PROD)]], ids=["default", "production"])
def test_helm_lint_strict(tools: Path, values: list[str]) -> None:
    out = run([str(tools / "helm"), "lint", "--strict", str(CHART), *values])
    assert out.returncode == 0, out.stdout + out.stderr


def test_every_rendered_object_matches_its_official_schema(
    chart_default: list[dict[str, Any]],
    chart_prod: list[dict[str, Any]],
    kustomized: list[dict[str, Any]],
    crds: Path,
) -> None:
    secret = yaml.safe_load((ROOT / "knative" / "secret-template.yaml").read_text())
    objs = [*chart_default, *chart_prod, *kustomized, secret]
    for obj in objs:
        validate(obj, crds)
    assert len(objs) > 20


def test_the_strict_schema_catches_a_typo(kustomized: list[dict[str, Any]], crds: Path) -> None:
    service = next(o for o in kustomized if o["kind"] == "Service")
    service["spec"]["template"]["spec"]["containerConcurency"] = 5
    with pytest.raises(jsonschema.ValidationError, match="containerConcurency"):
        validate(service, crds)


def test_chart_and_kustomize_render_the_same_objects(
    chart_default: list[dict[str, Any]], kustomized: list[dict[str, Any]]
) -> None:
    # Helm hooks (the test pod, the first load after install) have no kustomize counterpart.
    chart = {(k, n) for k, n in kinds_and_names(chart_default) if not n.endswith(("-test-ready", "-first-load"))}
    # kustomize names the generated ConfigMap with a hash of its content (see the next test).
    unhashed = {
        (k, re.sub(r"-[a-z0-9]{10}$", "", n) if k == "ConfigMap" else n) for k, n in kinds_and_names(kustomized)
    }
    assert chart == unhashed
    assert chart >= CONTRACT_NAMES


def test_a_changed_setting_rolls_a_new_revision(tools: Path, kustomized: list[dict[str, Any]], tmp_path: Path) -> None:
    # Knative creates a Revision when the pod template changes: with a hash-named ConfigMap a changed
    # setting changes every Service's template (the chart does it with a checksum annotation).
    def config_names(objs: list[dict[str, Any]]) -> set[str]:
        return {env["configMapRef"]["name"] for c in _containers(objs) for env in c["envFrom"]}

    (name,) = config_names(kustomized)
    assert name in {o["metadata"]["name"] for o in kustomized if o["kind"] == "ConfigMap"}
    copy = tmp_path / "knative"
    shutil.copytree(ROOT / "knative", copy)
    env_file = copy / "config.env"
    env_file.write_text(env_file.read_text().replace("HERMES_LOG_LEVEL=INFO", "HERMES_LOG_LEVEL=DEBUG"))
    out = run([str(tools / "kustomize"), "build", str(copy)])
    assert out.returncode == 0, out.stderr
    changed = config_names(list(yaml.safe_load_all(out.stdout)))
    assert len(changed) == 1
    assert changed != {name}


def test_loaders_are_cluster_local_and_search_is_public(
    chart_default: list[dict[str, Any]], kustomized: list[dict[str, Any]]
) -> None:
    for objs in (chart_default, kustomized):
        services = {o["metadata"]["name"]: o for o in objs if o["kind"] == "Service"}
        visibility = {n: s["metadata"]["labels"].get("networking.knative.dev/visibility") for n, s in services.items()}
        assert visibility == {
            "hermes-search": None,
            "hermes-delta-load": "cluster-local",
            "hermes-full-load": "cluster-local",
        }
        for name, svc in services.items():
            spec = svc["spec"]["template"]["spec"]
            assert "containerConcurrency" in spec
            assert "timeoutSeconds" in spec
            if name != "hermes-search":
                assert spec["containerConcurrency"] == 1
            container = spec["containers"][0]
            assert ":latest" not in container["image"]
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
            assert "initialDelaySeconds" not in container["readinessProbe"]


def test_triggers_filter_on_type_and_source(
    chart_default: list[dict[str, Any]], kustomized: list[dict[str, Any]]
) -> None:
    for objs in (chart_default, kustomized):
        triggers = {
            o["metadata"]["name"]: o["spec"].get("filter", {}).get("attributes") for o in objs if o["kind"] == "Trigger"
        }
        assert triggers["hermes-delta-load"] == {
            "type": "dev.knative.sources.ping",
            "source": "/apis/v1/namespaces/hermes/pingsources/hermes-delta",
        }
        assert triggers["hermes-full-load"] == {"type": "dev.hermes.load.full"}
        assert triggers["hermes-full-load-scheduled"] == {
            "type": "dev.knative.sources.ping",
            "source": "/apis/v1/namespaces/hermes/pingsources/hermes-full",
        }
        undelivered = next(o for o in objs if o["kind"] == "Trigger" and o["metadata"]["name"] == "hermes-undelivered")
        assert undelivered["spec"]["broker"] == "hermes-dead-letter"
        assert undelivered["spec"]["subscriber"]["ref"]["name"] == "hermes-delta-load"
        assert undelivered["spec"]["subscriber"]["uri"] == "/undelivered"  # hermes.load.app's route
        # The function accepts exactly the ticks that Trigger routes to it.
        config = next(o for o in objs if o["kind"] == "ConfigMap")
        assert config["data"]["HERMES_FULL_PING_SOURCE"] == "hermes-full"


def _containers(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        c
        for o in objs
        if o["kind"] == "Service" and o["apiVersion"].startswith("serving.knative.dev")
        for c in o["spec"]["template"]["spec"]["containers"]
    ]


def test_every_non_root_container_names_a_numeric_user(
    chart_default: list[dict[str, Any]], chart_prod: list[dict[str, Any]], kustomized: list[dict[str, Any]]
) -> None:
    # The kubelet's rule (kubernetes pkg/kubelet/kuberuntime/security_context_others.go, verifyRunAsNonRoot):
    # with runAsNonRoot and no numeric runAsUser it reads the image's USER; the google-22 run image says
    # `USER cnb` (GoogleCloudPlatform/buildpacks stacks/google_22/run.Dockerfile), a name, so the container
    # is refused: "image has non-numeric user (cnb), cannot verify user is non-root".
    for objs in (chart_default, chart_prod, kustomized):
        containers = _containers(objs)
        assert len(containers) == 3
        for container in containers:
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True
            assert isinstance(context["runAsUser"], int)
            assert context["runAsUser"] > 0
            assert context["runAsGroup"] == context["runAsUser"] == 1000  # cnb's uid and gid in the run image


def test_gunicorn_runtime_dir_is_writable_and_kustomize_has_every_credential(
    chart_default: list[dict[str, Any]], kustomized: list[dict[str, Any]]
) -> None:
    # gunicorn >= 25.1 puts its control socket under $XDG_RUNTIME_DIR, else $HOME (read-only in the pod).
    for objs in (chart_default, kustomized):
        for container in _containers(objs):
            env = {e["name"]: e for e in container["env"]}
            runtime_dir = env["XDG_RUNTIME_DIR"]["value"]
            assert any(m["mountPath"] == runtime_dir for m in container["volumeMounts"])  # the emptyDir
    for container in _containers(kustomized):  # kustomize carries what the chart does (existingSecret)
        names = {e["name"] for e in container["env"]}
        assert {"ES_API_KEY", "ES_USERNAME", "ES_PASSWORD"} <= names


def test_an_eck_ca_secret_becomes_es_ca_certs(
    chart_prod: list[dict[str, Any]], chart_default: list[dict[str, Any]]
) -> None:
    for obj in (o for o in chart_prod if o["kind"] == "Service" and "template" in o.get("spec", {})):
        spec = obj["spec"]["template"]["spec"]
        container = spec["containers"][0]
        env = {e["name"]: e.get("value") for e in container["env"]}
        mount = next(m for m in container["volumeMounts"] if m["name"] == "es-ca")
        volume = next(v for v in spec["volumes"] if v["name"] == "es-ca")
        assert volume["secret"]["secretName"] == "search-cluster-es-http-certs-public"
        assert mount["readOnly"] is True
        assert env["ES_CA_CERTS"] == f"{mount['mountPath']}/{volume['secret']['items'][0]['path']}"
    assert all("ES_CA_CERTS" not in {e["name"] for e in c["env"]} for c in _containers(chart_default))


def test_install_posts_a_first_full_load(tools: Path, chart_default: list[dict[str, Any]]) -> None:
    def args_of(objs: list[dict[str, Any]]) -> list[str]:
        job = next(o for o in objs if o["kind"] == "Job")
        assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install"
        return list(job["spec"]["template"]["spec"]["containers"][0]["args"])

    with_broker = args_of(chart_default)
    assert "Ce-Type: dev.hermes.load.full" in with_broker  # what the full-load Trigger filters on
    assert with_broker[-1].endswith("/hermes/hermes")  # the Broker's ingress: /<namespace>/<broker>
    # Before it posts, the Job waits for the full-load service (its Trigger's subscriber) and stops at the first
    # transfer's final failure instead of posting anyway.
    wait = with_broker[: with_broker.index("--next")]
    assert wait[-1] == "http://hermes-full-load.hermes.svc.cluster.local/health/live"
    assert "--fail-early" in wait
    direct = args_of(helm_template(tools, "--set", "broker.enabled=false"))
    assert direct[-1] == "http://hermes-full-load.hermes.svc.cluster.local/"
    assert not any(o["kind"] == "Job" for o in helm_template(tools, "--set", "firstLoad.enabled=false"))


def test_schema_and_analysis_values_reach_every_function_as_settings_they_accept(tools: Path) -> None:
    library = json.loads((ROOT / "examples" / "library" / "schema.json").read_text())
    analysis = {"analyzer": {"mine": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "stop"]}}}
    objs = helm_template(
        tools,
        "--set-json",
        f"config.schema={json.dumps(library)}",
        "--set-json",
        f"config.analysis={json.dumps(analysis)}",
    )
    data = next(o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "hermes-config")["data"]
    settings = load_settings(data)  # the functions' own reading of the rendered environment
    assert settings.field_schema == Schema.model_validate(library)
    assert settings.analysis == analysis
    assert "HERMES_SCHEMA" not in next(o for o in helm_template(tools) if o["kind"] == "ConfigMap")["data"]


def _config_of(objs: list[dict[str, Any]]) -> dict[str, str]:
    return dict(next(o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "hermes-config")["data"])


def test_index_shape_values_reach_every_function_as_settings_they_accept(tools: Path) -> None:
    default = _config_of(helm_template(tools))
    assert "HERMES_INDEX_REPLICAS" not in default  # unset: auto_expand_replicas 0-1
    assert (load_settings(default).index_shards, load_settings(default).index_replicas) == (1, None)
    for replicas in (0, 2):
        data = _config_of(
            helm_template(tools, "--set", "config.index.shards=6", "--set", f"config.index.replicas={replicas}")
        )
        settings = load_settings(data)  # the functions' own reading of the rendered environment
        assert (settings.index_shards, settings.index_replicas) == (6, replicas)
    prod = load_settings(_config_of(helm_template(tools, "-f", str(PROD))))
    assert (prod.index_shards, prod.index_replicas) == (3, 1)


def test_values_schema_rejects_bad_values(tools: Path) -> None:
    for args in (
        ["--set", "config.index.shards=0"],
        ["--set", "config.index.replicas=-1"],
        ["--set", "config.index.shards=two"],
        ["--set-string", "config.extra.HERMES_INDEX_SHARDS=3"],
        ["--set-string", "config.extra.HERMES_SCHEMA=x"],
        ["--set-json", 'config.schema={"fields": {"Bad": {}}}'],
        ["--set", "functions.search.image.tag=latest"],
        ["--set", "config.esUrl=elasticsearch:9200"],
        ["--set", "functions.search.containerConcurrency=lots"],
        ["--set", "surprise=1"],
        # Knative's default max-revision-timeout-seconds (config-defaults) is 600.
        ["--set", "functions.fullLoad.timeoutSeconds=900"],
    ):
        out = run([str(tools / "helm"), "template", "hermes", str(CHART), *args])
        assert out.returncode != 0, args
        assert "values don't meet the specifications of the schema" in out.stderr


def test_no_broker_sinks_the_pingsource_into_the_delta_service(tools: Path) -> None:
    objs = helm_template(tools, "--set", "broker.enabled=false")
    assert not any(o["kind"] in ("Broker", "Trigger") for o in objs)
    ping = next(o for o in objs if o["kind"] == "PingSource")
    assert ping["spec"]["sink"]["ref"]["name"] == "hermes-delta-load"


def test_notes_show_search_url_full_load_curl_and_hotfix(tools: Path, tmp_path: Path) -> None:
    # `helm install --dry-run` wants a cluster; render NOTES.txt as an ordinary template of a copy instead.
    chart = tmp_path / "hermes"
    shutil.copytree(CHART, chart)
    (chart / "templates" / "NOTES.txt").rename(chart / "notes.txt")
    (chart / "templates" / "notes.yaml").write_text('notes: |\n{{ tpl (.Files.Get "notes.txt") . | indent 2 }}\n')
    out = run(
        [
            str(tools / "helm"),
            "template",
            "hermes",
            str(chart),
            "--namespace",
            "hermes",
            "--show-only",
            "templates/notes.yaml",
        ]
    )
    assert out.returncode == 0, out.stderr
    notes = yaml.safe_load(out.stdout)["notes"]
    assert "get ksvc hermes-search" in notes
    assert "Ce-Type: dev.hermes.load.full" in notes
    assert "kn service update hermes-search" in notes


def _checkov_view(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """checkov knows core workloads, not Knative Services: show it each pod template as a Deployment."""
    view = []
    for obj in objs:
        if obj["kind"] == "Service" and obj["apiVersion"].startswith("serving.knative.dev"):
            template = obj["spec"]["template"]
            selector = {"matchLabels": template["metadata"]["labels"]}
            view.append(
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {**obj["metadata"], "namespace": "hermes"},
                    "spec": {"selector": selector, "template": template},
                }
            )
        else:
            view.append({**obj, "metadata": {"namespace": "hermes", **obj["metadata"]}})
    return view


def test_checkov_finds_nothing(
    tools: Path, chart_prod: list[dict[str, Any]], kustomized: list[dict[str, Any]], tmp_path: Path
) -> None:
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(yaml.safe_dump_all(_checkov_view([*chart_prod, *kustomized])))
    out = run(
        [str(tools / "checkov"), "--compact", "--framework", "kubernetes", "--output", "json", "--file", str(rendered)]
    )
    result = json.loads(out.stdout)
    summary = result["summary"]
    failed = [(c["check_id"], c["resource"]) for c in result["results"]["failed_checks"]]
    assert failed == [], failed
    assert summary["passed"] > 50
    skipped = result["results"]["skipped_checks"]
    assert skipped, "the inline skips were not read"
    for check in skipped:  # every skip carries its reason inline
        assert len(check["check_result"]["suppress_comment"]) > 20, check["check_id"]


def test_kn_hotfix_command_works_offline(tools: Path, kustomized: list[dict[str, Any]], tmp_path: Path) -> None:
    search = next(o for o in kustomized if o["kind"] == "Service" and o["metadata"]["name"] == "hermes-search")
    target = tmp_path / "hermes" / "ksvc"
    target.mkdir(parents=True)
    (target / "hermes-search.yaml").write_text(yaml.safe_dump(search))
    image = "registry.example.com/hermes/search@sha256:" + "a" * 64
    out = run(
        [
            str(tools / "kn"),
            "service",
            "update",
            "hermes-search",
            "--namespace",
            "hermes",
            "--image",
            image,
            "--target",
            str(tmp_path),
        ]
    )
    assert out.returncode == 0, out.stdout + out.stderr
    updated = yaml.safe_load((target / "hermes-search.yaml").read_text())
    assert updated["spec"]["template"]["spec"]["containers"][0]["image"] == image


def test_project_toml_follows_the_descriptor_spec() -> None:
    project = tomllib.loads((ROOT / "project.toml").read_text())
    assert project["_"]["schema-version"] == "0.2"
    assert set(project["_"]) <= {
        "schema-version",
        "id",
        "name",
        "version",
        "authors",
        "licenses",
        "documentation-url",
        "source-url",
        "metadata",
    }
    assert set(project) <= {"_", "io"}
    buildpacks = project["io"]["buildpacks"]
    assert set(buildpacks) <= {"builder", "include", "exclude", "group", "pre", "post", "build"}
    assert not ("include" in buildpacks and "exclude" in buildpacks)
    env = {e["name"]: e["value"] for e in buildpacks["build"]["env"]}
    assert env["GOOGLE_FUNCTION_SIGNATURE_TYPE"] == "http"
    assert "hermes" not in buildpacks["exclude"]
    # Each function's image gets its target and source at build time (make images).
    makefile = (ROOT / "Makefile").read_text()
    assert "GOOGLE_FUNCTION_TARGET=$$src" in makefile
    assert "GOOGLE_FUNCTION_SOURCE=functions/$$src/main.py" in makefile
