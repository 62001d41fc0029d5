"""Validates the rendered manifests offline: the Kubernetes kinds against Kubernetes' own
JSON schemas (kubernetes-validate, strict: unknown fields fail), and the chart's promises
(Parallel pods, probes, read-only root filesystem, one certificate per node naming
node-<id>.warden, ...). The cert-manager and Prometheus Operator resources, which have no
schema there, go to a JSON file for validate_custom_resources.mjs.

Arguments: the directory of <scenario>@<Kubernetes version>.yaml renders, the JSON file
to write, and docs/configuration.md (the keys the node reads). Exits 1 after printing
every problem."""
import json
import re
import sys
from pathlib import Path

import kubernetes_validate
import yaml

rendered, custom_out, configuration = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
problems = []
custom = []
# Every key docs/configuration.md documents, as the WARDEN_* variable the node reads.
documented = {
    "WARDEN_" + key.upper().replace(".", "_")
    for key in re.findall(r"^\| `([a-z_.]+)` \|", configuration.read_text(), re.M)
}
assert len(documented) > 30, f"found only {len(documented)} keys in {configuration}"
documented |= {"WARDEN_LOG", "WARDEN_LOG_FORMAT"}


def check(scenario, condition, message):
    if not condition:
        problems.append(f"{scenario}: {message}")


def chart_promises(scenario, docs):
    by_kind = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], []).append(doc)
    (sts,) = by_kind["StatefulSet"]
    spec, pod = sts["spec"], sts["spec"]["template"]["spec"]
    replicas = spec["replicas"]
    check(scenario, spec["podManagementPolicy"] == "Parallel", "podManagementPolicy is not Parallel")
    services = {s["metadata"]["name"]: s for s in by_kind["Service"]}
    headless = services.get(spec["serviceName"])
    check(scenario, headless is not None, "the StatefulSet's serviceName names no Service")
    if headless:
        check(scenario, headless["spec"].get("clusterIP") == "None", "the peer Service is not headless")
        check(scenario, headless["spec"].get("publishNotReadyAddresses") is True,
              "the headless Service does not publish pods before they are ready (new nodes could not be added)")
    clients = [s for n, s in services.items() if n != spec["serviceName"]]
    check(scenario, len(clients) == 1 and [p["name"] for p in clients[0]["spec"]["ports"]] == ["grpc"],
          "there is not exactly one client Service, with the gRPC port")
    (pdb,) = by_kind["PodDisruptionBudget"]
    check(scenario, pdb["spec"]["maxUnavailable"] == 1, "the PodDisruptionBudget's maxUnavailable is not 1")
    check(scenario, [t["metadata"]["name"] for t in spec["volumeClaimTemplates"]] == ["data"],
          "the data volume is not a volumeClaimTemplate")
    check(scenario, pod["securityContext"].get("runAsNonRoot") is True and pod["securityContext"]["runAsUser"] > 0,
          "the pod may run as root")
    volumes = {v["name"]: v for v in pod["volumes"]}
    containers = {c["name"]: c for c in pod["containers"] + pod["initContainers"]}
    for name, container in containers.items():
        context = container.get("securityContext", {})
        check(scenario, context.get("readOnlyRootFilesystem") is True, f"{name}: the root filesystem is writable")
        check(scenario, context.get("allowPrivilegeEscalation") is False, f"{name}: may escalate privileges")
        check(scenario, context.get("capabilities", {}).get("drop") == ["ALL"], f"{name}: keeps capabilities")
        check(scenario, "resources" in container, f"{name}: has no resources")
    warden = containers["warden"]
    # Writable: the data volume, the scratch emptyDir, and nothing else.
    writable = sorted(
        m["mountPath"] for m in warden["volumeMounts"]
        if not m.get("readOnly") and "configMap" not in volumes.get(m["name"], {})
    )
    check(scenario, writable == ["/tmp", "/var/lib/warden"], f"warden: writable mounts are {writable}")
    probes = {p: warden[p]["httpGet"]["path"] for p in ("readinessProbe", "livenessProbe", "startupProbe")}
    check(scenario, probes == {"readinessProbe": "/readyz", "livenessProbe": "/healthz", "startupProbe": "/healthz"},
          f"warden: probes are {probes}")
    check(scenario, all(warden[p]["httpGet"]["port"] == "http" for p in probes), "warden: a probe is not on the http port")
    env_maps = [d for d in by_kind["ConfigMap"] if d["metadata"]["name"].endswith("-env")]
    check(scenario, len(env_maps) == 1, "no single -env ConfigMap")
    for name in env_maps[0]["data"]:
        check(scenario, name in documented, f"{name} is not a key docs/configuration.md documents")
    membership = [d for d in by_kind["ConfigMap"] if d["metadata"]["name"].endswith("-membership")]
    if "membership" in containers:
        check(scenario, membership and membership[0]["data"]["replicas"] == str(replicas),
              "the membership ConfigMap's replicas differ from the StatefulSet's")
    certificates = [d for d in by_kind.get("Certificate", []) if not d["spec"].get("isCA")]
    if certificates:
        check(scenario, len(certificates) == replicas, f"{len(certificates)} node certificates for {replicas} nodes")
        for index, certificate in enumerate(certificates):
            names = certificate["spec"]["dnsNames"]
            identities = [n for n in names if re.fullmatch(r"node-[1-9][0-9]*\.warden", n)]
            check(scenario, identities == [f"node-{index + 1}.warden"],
                  f"certificate {index + 1} names the node identities {identities}")
            check(scenario, {"server auth", "client auth"} <= set(certificate["spec"]["usages"]),
                  f"certificate {index + 1} is not for both ends of a connection")
        sources = volumes["tls"]["projected"]["sources"]
        check(scenario, [s["secret"]["name"] for s in sources] == [c["spec"]["secretName"] for c in certificates],
              "the pods do not mount each node certificate's Secret")
    else:
        check(scenario, "secret" in volumes["tls"], "the TLS files do not come from a Secret")
    check(scenario, ("ServiceMonitor" in by_kind) == (scenario.split("@")[0] in ("servicemonitor", "everything")),
          "a ServiceMonitor is rendered exactly when enabled")
    for monitor in by_kind.get("ServiceMonitor", []):
        wanted = monitor["spec"]["selector"]["matchLabels"].items()
        selected = [s for s in by_kind["Service"] if wanted <= s["metadata"]["labels"].items()]
        check(scenario, [s["metadata"]["name"] for s in selected] == [spec["serviceName"]]
              and "http" in [p["name"] for p in selected[0]["spec"]["ports"]]
              and [e["port"] for e in monitor["spec"]["endpoints"]] == ["http"],
              "the ServiceMonitor does not scrape the http port of every pod through the headless Service")


for path in sorted(rendered.glob("*.yaml")):
    scenario, version = path.stem.split("@")
    docs = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    for doc in docs:
        what = f"{path.stem}: {doc.get('kind')} {doc.get('metadata', {}).get('name')}"
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            if doc["apiVersion"] in ("cert-manager.io/v1", "monitoring.coreos.com/v1"):
                custom.append({"what": what, "doc": doc})
            else:
                problems.append(f"{what}: no schema for {doc['apiVersion']} {doc['kind']}")
        except kubernetes_validate.ValidationError as error:
            location = "/".join(str(p) for p in error.path)
            problems.append(f"{what}: {location}: {error.message}")
    chart_promises(path.stem, docs)
    print(f"check-helm: {path.stem}: {len(docs)} manifests", file=sys.stderr)

custom_out.write_text(json.dumps(custom))
for problem in problems:
    print(f"check-helm: {problem}", file=sys.stderr)
sys.exit(1 if problems else 0)
