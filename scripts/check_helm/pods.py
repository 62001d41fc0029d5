"""The rendered StatefulSet's pods, emulated as processes: each pod's init container, then
its warden and membership containers, run with the commands, variables and mounts the pod
spec gives them. Container paths live under a root per container whose mount points are
symbolic links to the pod's volumes (emptyDirs, the data volume and its subPaths, the
Secrets and ConfigMaps); each node listens on 127.0.0.<ordinal + 1> instead of 0.0.0.0.
Not emulated: Kubernetes itself (scheduling, probes acting, users and modes of mounted
files, fsGroup)."""
import os
import re
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml


@dataclass
class Emulation:
    """What every emulated pod shares."""

    fullname: str  # the StatefulSet's name
    work: Path  # where pods keep their volumes and logs, unless given another base
    secrets: Path  # the Secrets' files, a directory per Secret
    environ: dict  # the containers' variables before the pod spec's
    processes: list  # every process started, for the final cleanup


def manifests(path):
    docs = [d for d in yaml.safe_load_all(Path(path).read_text()) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def configmaps(docs):
    return {name: d["data"] for (kind, name), d in docs.items() if kind == "ConfigMap"}


def ip(ordinal):
    return f"127.0.0.{ordinal + 1}"


# Absolute container paths under the chart's mount points, wherever they stand (a
# variable's value, a script's default `${X:-/etc/warden/src}`).
ROOTS = re.compile(r"(?<![\w./])/(?:etc/warden|var/lib/warden-membership|var/lib/warden|mnt/data|opt/warden|tmp)(?![\w.-])")


class Pod:
    def __init__(self, ordinal, docs, emulation, base=None, tls_secrets=None):
        self.ordinal = ordinal
        self.emulation = emulation
        self.name = f"{emulation.fullname}-{ordinal}"
        self.dir = (emulation.work if base is None else base) / self.name
        # cert-manager's Secrets by name (for a projected tls volume), else the one Secret.
        self.tls_secrets = tls_secrets
        self.data = self.dir / "volumes" / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        self.update(docs)
        self.running = []

    def update(self, docs):
        self.configmaps = configmaps(docs)
        ((_, sts),) = [(k, d) for k, d in docs.items() if k[0] == "StatefulSet"]
        self.spec = sts["spec"]["template"]["spec"]

    def volume(self, name):
        """The host directory behind a pod volume."""
        if name == "data":  # the volumeClaimTemplate's
            return self.data
        source = next(v for v in self.spec["volumes"] if v["name"] == name)
        path = self.dir / "volumes" / name
        if "emptyDir" in source:
            path.mkdir(parents=True, exist_ok=True)
        elif "configMap" in source:
            path.mkdir(parents=True, exist_ok=True)
            for key, value in self.configmaps[source["configMap"]["name"]].items():
                (path / key).write_text(value)
        elif "secret" in source:
            secret = {"tls": "tls", "master-key": "master-key", "bootstrap-token": "bootstrap"}[name]
            return self.emulation.secrets / secret
        elif "projected" in source and self.tls_secrets:
            path.mkdir(parents=True, exist_ok=True)
            for projected in source["projected"]["sources"]:
                secret = self.tls_secrets / projected["secret"]["name"]
                for item in projected["secret"]["items"]:
                    (path / item["path"]).write_bytes((secret / item["key"]).read_bytes())
                    (path / item["path"]).chmod(0o440)
        else:
            raise SystemExit(f"no emulation of volume {name}: {source}")
        return path

    def start(self, container, init=False):
        root = self.dir / "roots" / container["name"]
        for mount in container.get("volumeMounts", []):
            source = self.volume(mount["name"])
            if "subPath" in mount:
                source = source / mount["subPath"]
                source.mkdir(exist_ok=True)
            link = root / mount["mountPath"].lstrip("/")
            link.parent.mkdir(parents=True, exist_ok=True)
            if link.is_symlink():
                link.unlink()
            link.symlink_to(source)

        def localize(text):
            text = ROOTS.sub(lambda m: str(root) + m.group(0), text)
            return text.replace("0.0.0.0:", f"{ip(self.ordinal)}:")

        env = dict(self.emulation.environ)
        for source in container.get("envFrom", []):
            for key, value in self.configmaps[source["configMapRef"]["name"]].items():
                env[key] = localize(value)
        for variable in container.get("env", []):
            if "value" in variable:
                env[variable["name"]] = localize(variable["value"])
            elif variable["valueFrom"].get("fieldRef", {}).get("fieldPath") == "metadata.name":
                env[variable["name"]] = self.name
            else:
                raise SystemExit(f"no emulation of {variable}")
        # The scripts are read through the container's root, with its paths.
        scripts = root / "opt" / "warden" / "scripts"
        localized = self.dir / "scripts" / container["name"]
        localized.mkdir(parents=True, exist_ok=True)
        for script in scripts.iterdir():
            (localized / script.name).write_text(localize(script.read_text()))
        command = [localize(part) for part in container["command"]]
        command = [str(localized / Path(part).name) if part.startswith(str(scripts)) else part for part in command]
        output = open(self.dir / f"{container['name']}.log", "a")
        # A process group per container: stopping it ends whatever the container left behind.
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        if init:
            if process.wait(timeout=60) != 0:
                raise SystemExit(f"{self.name}: init container {container['name']} failed:\n"
                                 + (self.dir / f"{container['name']}.log").read_text())
            return
        self.running.append(process)
        self.emulation.processes.append(process)

    def up(self):
        for container in self.spec.get("initContainers", []):
            self.start(container, init=True)
        for container in self.spec["containers"]:
            self.start(container)

    def down(self):
        """SIGTERM to each container's first process, as the kubelet sends; then the rest."""
        for process in self.running:
            process.send_signal(signal.SIGTERM)
        for process in self.running:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                raise SystemExit(f"{self.name}: a container did not stop within 20 s of SIGTERM")
            kill_group(process)
        self.running = []

    def log(self, container):
        path = self.dir / f"{container}.log"
        return path.read_text() if path.exists() else ""


def kill_group(process):
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()
