"""The pods' Secrets, made as their makers would make them: a user running the commands
NOTES.txt prints, and cert-manager issuing the rendered Certificates (played with openssl).
`run` runs a command with the binaries under test on its PATH."""
import shlex
from pathlib import Path


def make_notes_secrets(notes, work, secrets, run):
    """The Secrets, made with the commands NOTES.txt prints (the TLS Secret's files are those
    its `kubectl create secret` line names), into a directory per Secret under secrets."""
    for directory in ("tls", "master-key", "bootstrap"):
        (secrets / directory).mkdir(parents=True)
    commands = [shlex.split(line) for line in Path(notes).read_text().splitlines()
                if line.strip().startswith(("warden cert ", "kubectl -n warden create secret generic warden-tls "))]
    if len(commands) != 7:
        raise SystemExit(f"NOTES.txt does not show the 7 commands making the TLS Secret of 5 nodes: {commands}")
    for command in commands[:-1]:
        run(*command, cwd=work)
    for argument in commands[-1]:
        if argument.startswith("--from-file="):
            file = work / argument.removeprefix("--from-file=")
            (secrets / "tls" / file.name).write_bytes(file.read_bytes())
    run("warden", "keygen", "--out", str(secrets / "master-key" / "master-key"))
    run("warden", "bootstrap-token", str(secrets / "bootstrap" / "bootstrap-token"))
    for file in secrets.rglob("*"):
        if file.is_file():
            file.chmod(0o440)  # as the Secret volumes are mounted with the pod's fsGroup


def issue_as_cert_manager(docs, directory, run):
    """Plays cert-manager with openssl: the chart's self-signed CA, then each node Certificate
    as its spec asks (names, addresses, usages, key), into Secrets (ca.crt, tls.crt, tls.key)."""
    certificates = [d["spec"] for (kind, _), d in docs.items() if kind == "Certificate"]
    (ca,) = [c for c in certificates if c.get("isCA")]
    ca_dir = directory / ca["secretName"]
    ca_dir.mkdir(parents=True)
    run("openssl", "req", "-x509", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-keyout", str(ca_dir / "tls.key"), "-out", str(ca_dir / "tls.crt"), "-days", "2",
        "-subj", f"/CN={ca['commonName']}", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature")
    usages = {"digital signature": "digitalSignature", "key encipherment": "keyEncipherment",
              "server auth": "serverAuth", "client auth": "clientAuth"}
    for spec in certificates:
        if spec.get("isCA"):
            continue
        if spec["privateKey"] != {"algorithm": "ECDSA", "size": 256, "encoding": "PKCS8", "rotationPolicy": "Always"}:
            raise SystemExit(f"cannot play the private key {spec['privateKey']}")
        secret = directory / spec["secretName"]
        secret.mkdir()
        run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(secret / "tls.key"))
        run("openssl", "req", "-new", "-key", str(secret / "tls.key"), "-subj", "/", "-out", str(secret / "csr"))
        names = [f"DNS:{n}" for n in spec["dnsNames"]] + [f"IP:{a}" for a in spec["ipAddresses"]]
        key_usages = [usages[u] for u in spec["usages"] if "auth" not in u]
        extended = [usages[u] for u in spec["usages"] if "auth" in u]
        (secret / "extensions").write_text(
            f"subjectAltName=critical,{','.join(names)}\nkeyUsage=critical,{','.join(key_usages)}\n"
            f"extendedKeyUsage={','.join(extended)}\nbasicConstraints=critical,CA:FALSE\n")
        run("openssl", "x509", "-req", "-in", str(secret / "csr"), "-CA", str(ca_dir / "tls.crt"),
            "-CAkey", str(ca_dir / "tls.key"), "-CAcreateserial", "-days", "2",
            "-extfile", str(secret / "extensions"), "-out", str(secret / "tls.crt"))
        (secret / "ca.crt").write_bytes((ca_dir / "tls.crt").read_bytes())
    return ca_dir / "tls.crt"
