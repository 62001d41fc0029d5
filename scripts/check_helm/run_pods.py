"""Runs the rendered pods (see pods.py) in a private network and mount namespace (the
caller's `unshare`), and checks what they do: three nodes form a cluster by themselves, a
restart repeats nothing, a scale to five adds two voters, pod 0 with a lost volume starts
no second cluster, a node accepts every setting ci/everything-values.yaml passes, and
certificates made as the rendered cert-manager Certificates ask work. The pods' stable
names resolve, through a private /etc/hosts, to 127.0.0.<ordinal + 1>.

Arguments: the renders with 3 and 5 replicas and with cert-manager, the NOTES.txt of 5
replicas, the render of ci/everything-values.yaml, the directory of the warden and
wardenctl binaries, and a directory to create for the pods."""
import json
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from pod_secrets import issue_as_cert_manager, make_notes_secrets
from pods import Emulation, Pod, configmaps, ip, kill_group, manifests

three, five, with_cert_manager, notes, everything = sys.argv[1:6]
bin_dir, work = Path(sys.argv[6]), Path(sys.argv[7])
work.mkdir(parents=True)
environ = {"PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
processes = []


def log(message):
    print(f"check-helm: {message}", file=sys.stderr, flush=True)


def run(*command, **kwargs):
    return subprocess.run(command, check=True, capture_output=True, text=True, env=environ, **kwargs)


subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
rendered = manifests(three)
(sts,) = [d for (kind, _), d in rendered.items() if kind == "StatefulSet"]
fullname = sts["metadata"]["name"]
pod_spec = sts["spec"]["template"]["spec"]
peer_domain = next(e["value"] for e in pod_spec["containers"][0]["env"] if e["name"] == "WARDEN_PEER_DOMAIN")
grpc_port = next(p["containerPort"] for p in pod_spec["containers"][0]["ports"] if p["name"] == "grpc")
http_port = next(p["containerPort"] for p in pod_spec["containers"][0]["ports"] if p["name"] == "http")
client_name = f"{fullname}.warden.svc.cluster.local"


def host(ordinal):
    return f"{fullname}-{ordinal}.{peer_domain}"


hosts = work / "hosts"
hosts.write_text("127.0.0.1 localhost\n" + "".join(f"{ip(o)} {host(o)}\n" for o in range(5))
                 + f"127.0.0.1 {client_name}\n")
subprocess.run(["mount", "--bind", str(hosts), "/etc/hosts"], check=True)

secrets = work / "secrets"
make_notes_secrets(notes, work, secrets, run)
emulation = Emulation(fullname, work, secrets, environ, processes)


def ready(ordinal):
    try:
        with urllib.request.urlopen(f"http://{ip(ordinal)}:{http_port}/readyz", timeout=2) as answer:
            return json.load(answer).get("ready") is True
    except Exception:
        return False


def wait_ready(pods, seconds=90):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if all(ready(p.ordinal) for p in pods):
            return
        time.sleep(0.5)
    for pod in pods:
        for container in ("prepare", "warden", "membership"):
            print(f"--- {pod.name} {container}\n{pod.log(container)[-3000:]}", file=sys.stderr)
    raise SystemExit(f"not every node was ready within {seconds} s")


def wardenctl(*args):
    """wardenctl through the client Service's name, as the sidecar's admin."""
    token = pods[0].data / "membership" / "admin.token"
    return run("wardenctl", "--endpoints", f"{client_name}:{grpc_port}", "--ca", str(ca_file),
               "--token-file", str(token), *args).stdout


def status():
    answer = wardenctl("--output", "json", "cluster", "status")
    return {m["node_id"]: (m["role"], m["address"]) for m in json.loads(answer)["members"]}


def membership_records():
    """The audit chain's records of membership requests, accepted or refused."""
    records = [json.loads(line) for line in wardenctl("audit", "export").splitlines() if line.strip()]
    return [f"{r['index']} {r['principal']} {r['outcome']}: {r['detail']}"
            for r in records if r["action"] == "cluster.membership"]


def expect_voters(count, seconds=60):
    """Waits until the members are nodes 1..count, all voters: a learner the sidecar has
    added is ready (/readyz) before the sidecar promotes it."""
    wanted = {node: ("voter", f"{host(node - 1)}:{grpc_port}") for node in range(1, count + 1)}
    deadline = time.time() + seconds
    while True:
        members = status()
        if members == wanted:
            return
        if time.time() > deadline:
            raise SystemExit(f"members {members}, wanted {wanted}")
        time.sleep(0.5)


def membership_lines(pattern):
    return len(re.findall(pattern, pods[0].log("membership")))


def wait_for(what, condition, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.5)
    print(pods[0].log("membership"), file=sys.stderr)
    raise SystemExit(f"timed out waiting for {what}")


try:
    started = time.time()
    ca_file = secrets / "tls" / "ca.pem"
    pods = [Pod(o, rendered, emulation) for o in range(3)]
    for pod in pods:
        pod.up()
    wait_ready(pods)
    expect_voters(3)
    wait_for("the sidecar to see every node a voter", lambda: membership_lines("every node is a voter") == 1)
    records = membership_records()
    if len(records) != 4 or any(" service/warden-membership accepted: " not in r for r in records):
        raise SystemExit("the audit chain's membership records are not 2 adds and 2 promotions by "
                         "service/warden-membership:\n" + "\n".join(records))
    log(f"3 pods formed a cluster of 3 voters by themselves in {time.time() - started:.1f} s")

    # A restart of every pod (containers and init containers; volumes kept) repeats nothing.
    started = time.time()
    for pod in pods:
        pod.down()
    for pod in pods:
        pod.up()
    wait_ready(pods)
    wait_for("the restarted sidecar to see every node a voter",
             lambda: membership_lines("every node is a voter") == 2)
    expect_voters(3)
    if membership_lines("started the cluster") != 1 or membership_lines("added node") != 2 \
            or membership_lines(r"cluster init failed|adding node \d+ failed|promoting node \d+ failed") != 0:
        raise SystemExit("the restarted sidecar changed the cluster again:\n" + pods[0].log("membership"))
    if membership_records() != records:
        raise SystemExit("the restart added membership records to the audit chain:\n"
                         + "\n".join(membership_records()))
    wardenctl("audit", "verify")
    log(f"after a restart of every pod, the same 3 voters and nothing repeated ({time.time() - started:.1f} s)")

    # helm upgrade --set replicas=5: the membership ConfigMap changes (not the pod template)
    # and two more pods start.
    started = time.time()
    scaled = manifests(five)
    if scaled[("StatefulSet", fullname)]["spec"]["template"] != rendered[("StatefulSet", fullname)]["spec"]["template"]:
        raise SystemExit("a change of replicas changes the pod template (it would restart every pod)")
    for pod in pods:
        pod.update(scaled)
        (pod.dir / "volumes" / "membership-config" / "replicas").write_text(
            configmaps(scaled)[f"{fullname}-membership"]["replicas"])
    pods += [Pod(o, scaled, emulation) for o in (3, 4)]
    for pod in pods[3:]:
        pod.up()
    wait_ready(pods)
    wait_for("nodes 4 and 5 to be voters", lambda: len([m for m in status().values() if m[0] == "voter"]) == 5)
    expect_voters(5)
    log(f"scaled to 5: nodes 4 and 5 were added and promoted ({time.time() - started:.1f} s)")

    # Pod 0 loses its volume: node 1 comes back empty, with the bootstrap token, and its
    # sidecar without the admin token. It must not start a second cluster.
    started = time.time()
    token = work / "admin.token"
    token.write_bytes((pods[0].data / "membership" / "admin.token").read_bytes())
    pods[0].down()
    subprocess.run(["rm", "-rf", str(pods[0].data)], check=True)
    pods[0].data.mkdir()
    pods[0].up()
    wait_for("node 1's sidecar to refuse a second cluster",
             lambda: membership_lines("not starting another cluster on node 1") >= 1)
    others = run("wardenctl", "--endpoints", f"{host(1)}:{grpc_port}", "--ca", str(ca_file), "--token-file",
                 str(token), "--output", "json", "cluster", "status").stdout
    if len(json.loads(others)["members"]) != 5 or "started the cluster" in pods[0].log("membership").split("stopping")[-1]:
        raise SystemExit("node 1 with a lost volume started another cluster:\n" + pods[0].log("membership"))
    log(f"pod 0 with a lost volume did not start a second cluster ({time.time() - started:.1f} s)")
    for pod in pods:
        pod.down()

    # Every setting config.* can pass (ci/everything-values.yaml), as its ConfigMap writes
    # it: a node started with those variables accepts them (only the files are the test's).
    node = work / "everything"
    node.mkdir()
    run("warden", "audit", "keygen", "--out", str(node / "audit.key"))
    for name, source in (("node.key", secrets / "tls" / "node-1.key"), ("master-key", secrets / "master-key" / "master-key")):
        (node / name).write_bytes(source.read_bytes())
        (node / name).chmod(0o600)  # as files/prepare.sh leaves them
    variables = dict(environ)
    variables.update(next(d["data"] for (kind, name), d in manifests(everything).items()
                          if kind == "ConfigMap" and name.endswith("-env")))
    process = subprocess.Popen(
        ["warden", "serve", "--node-id", "1", "--listen", "127.0.0.9:0", "--metrics-listen", "127.0.0.9:0",
         "--data-dir", str(node / "data"), "--ready-file", str(node / "ready"),
         "--set", f"tls.ca_file={secrets / 'tls' / 'ca.pem'}", "--set", f"tls.cert_file={secrets / 'tls' / 'node-1.pem'}",
         "--set", f"tls.key_file={node / 'node.key'}", "--set", f"audit.signing_key_file={node / 'audit.key'}",
         "--set", f"secrets.master_key_file={node / 'master-key'}", "--set", f"mcp.scratch_dir={node}"],
        env=variables, stdout=open(node / "log", "w"), stderr=subprocess.STDOUT, start_new_session=True)
    processes.append(process)
    deadline = time.time() + 30
    while not (node / "ready").exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    if not (node / "ready").exists():
        raise SystemExit("a node refused the settings of ci/everything-values.yaml:\n" + (node / "log").read_text())
    process.terminate()
    process.wait(timeout=20)
    log("a node accepts every setting of ci/everything-values.yaml as the chart passes it")

    # A new cluster with tls.certManager.enabled: each node's Secret as cert-manager would
    # issue it from the rendered Certificate, mounted through the projected volume.
    started = time.time()
    rendered = manifests(with_cert_manager)
    issued = work / "cert-manager-secrets"
    ca_file = issue_as_cert_manager(rendered, issued, run)
    pods = [Pod(o, rendered, emulation, base=work / "cert-manager", tls_secrets=issued) for o in range(3)]
    for pod in pods:
        pod.up()
    wait_ready(pods)
    expect_voters(3)
    log(f"with cert-manager's certificates, 3 pods formed a cluster of 3 voters in {time.time() - started:.1f} s")
finally:
    for process in processes:
        kill_group(process)
