#!/usr/bin/env python3
"""Proves that generated Kubernetes policies allow exactly the declared flows.

Reads the `json` target's flow graph of a site, makes a cluster from its bindings (one pod per
role bound to pods, one host endpoint per role bound to nodes, a stranger pod in every namespace
and a stranger host that no role selects, and probe addresses in and around every bound prefix),
asks IBM's network-config-analyzer (`nca --connectivity`) what the generated policies allow
between all of them, and compares that, both ways, with what the flows declare:

  - networkpolicy: a pod that a policy selects receives only its declared flows (and, with
    --egress, sends only its declared flows); other pods are unrestricted, as in Kubernetes.
  - calico: a host endpoint receives only its declared flows (and, with --egress, sends only its
    declared flows); a host endpoint no policy selects receives and sends nothing; pods are
    unrestricted, including "impostor" pods that carry a node role's labels.

nca does not model `preDNAT` policies (it would read them as normal ones), so they are left out
of the analysis; the main policies alone must allow exactly the declared flows.

Flows that stay on a node, and protocols NetworkPolicy cannot carry, are outside what the
policies express and are not expected. Prints every difference and exits 1 if there is one.
"""

import argparse
import ipaddress
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

PORTED = {"tcp": 6, "udp": 17, "sctp": 132}
NUMBERS = {"tcp": 6, "udp": 17, "sctp": 132, "icmp": 1, "icmpv6": 58, "ipip": 4, "gre": 47, "esp": 50, "ah": 51,
           "vrrp": 112}
PORT_DOMAIN = (1, 65535)
PROTOCOL_DOMAIN = range(0, 256)
PROBE_LABEL = "portc.probe/endpoint"
# The label portc's Calico policies require on the host endpoints they select.
HOST_ENDPOINT_LABEL = "portc/host-endpoint"


# ------------------------------------------------------------------ connection sets
# A connection set is a dict: protocol number -> sorted disjoint port intervals; protocols
# without ports map to [PORT_DOMAIN] when present.

def normalise(conns):
    out = {}
    for proto, intervals in conns.items():
        merged = []
        for lo, hi in sorted(intervals):
            if merged and lo <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
            else:
                merged.append((lo, hi))
        if merged:
            out[proto] = merged
    return out


def union(a, b):
    out = {p: list(v) for p, v in a.items()}
    for p, v in b.items():
        out.setdefault(p, []).extend(v)
    return normalise(out)


def everything():
    return {p: [PORT_DOMAIN] for p in PROTOCOL_DOMAIN}


def intersect(a, b):
    out = {}
    for p in set(a) & set(b):
        ranges = []
        for lo1, hi1 in a[p]:
            for lo2, hi2 in b[p]:
                lo, hi = max(lo1, lo2), min(hi1, hi2)
                if lo <= hi:
                    ranges.append((lo, hi))
        out[p] = ranges
    return normalise(out)


def complement(a):
    out = {}
    for p in PROTOCOL_DOMAIN:
        ranges, start = [], PORT_DOMAIN[0]
        for lo, hi in a.get(p, []):
            if lo > start:
                ranges.append((start, lo - 1))
            start = max(start, hi + 1)
        if start <= PORT_DOMAIN[1]:
            ranges.append((start, PORT_DOMAIN[1]))
        out[p] = ranges
    return normalise(out)


def describe(conns):
    conns = normalise(conns)
    if conns == normalise(everything()):
        return "everything"
    if len(conns) > len(PROTOCOL_DOMAIN) // 2:
        return "everything except " + describe(complement(conns))
    names = {v: k for k, v in NUMBERS.items()}
    parts = []
    for p, ranges in sorted(conns.items()):
        name = names.get(p, f"protocol {p}")
        if ranges == [PORT_DOMAIN]:
            parts.append(name if p not in PORTED.values() else f"{name} any port")
        else:
            parts.append(f"{name} " + ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in ranges))
    return "; ".join(parts) or "nothing"


# ------------------------------------------------------------------ nca output

KEYS = re.compile(r"(protocols|src_ports|dst_ports|icmp_type|icmp_code|methods|paths|hosts):")


def parse_cube(text):
    """`{protocols:TCP, UDP,dst_ports:53,80-90}` -> connection set."""
    text = text.strip()
    assert text.startswith("{") and text.endswith("}"), text
    body = text[1:-1]
    marks = [(m.start(), m.end(), m.group(1)) for m in KEYS.finditer(body)]
    fields = {}
    for i, (start, end, key) in enumerate(marks):
        stop = marks[i + 1][0] if i + 1 < len(marks) else len(body)
        fields[key] = body[end:stop].rstrip(",").strip()
    unknown = set(fields) - {"protocols", "dst_ports"}
    if unknown:
        raise ValueError(f"unexpected dimensions {unknown} in {text}")
    protocols = parse_protocols(fields.get("protocols", "*"))
    ports = parse_ports(fields["dst_ports"]) if "dst_ports" in fields else [PORT_DOMAIN]
    return normalise({p: list(ports) for p in protocols})


def parse_protocols(text):
    from nca.CoreDS.ProtocolNameResolver import ProtocolNameResolver
    if text == "*":
        return set(PROTOCOL_DOMAIN)
    negate = text.startswith("all but ")
    names = [n.strip() for n in text.removeprefix("all but ").split(",") if n.strip()]
    numbers = set()
    for name in names:
        if "-" in name and name.replace("-", "").isdigit():
            lo, hi = name.split("-")
            numbers.update(range(int(lo), int(hi) + 1))
        elif name.isdigit():
            numbers.add(int(name))
        else:
            numbers.add(ProtocolNameResolver.get_protocol_number(name))
    return set(PROTOCOL_DOMAIN) - numbers if negate else numbers


def parse_ports(text):
    out = []
    for part in text.split(","):
        part = part.strip()
        if "-" in part:
            lo, hi = part.split("-")
            out.append((int(lo), int(hi)))
        else:
            out.append((int(part), int(part)))
    return out


def parse_connections(text):
    text = text.strip()
    if text == "All connections":
        return everything()
    if text == "No connections":
        return {}
    if text.startswith("All but "):
        return complement(parse_connections(text.removeprefix("All but ")))
    cubes = re.findall(r"\{[^{}]*\}", text)
    if not cubes:
        raise ValueError(f"cannot read connections `{text}`")
    result = {}
    for cube in cubes:
        result = union(result, parse_cube(cube))
    return result


def parse_endpoint(text):
    """`ns/name[Pod]` -> `ns/name`; `name[HostEP]` -> `name`; `a-b` (addresses) -> (a, b)."""
    text = re.sub(r"\[[^\]]*\]$", "", text.strip())
    if "/" not in text or re.match(r"^[0-9a-fA-F:.]+/\d+$", text):
        try:
            if "-" in text and not text.count("/"):
                lo, hi = text.split("-")
                return (ipaddress.ip_address(lo), ipaddress.ip_address(hi))
            net = ipaddress.ip_network(text, strict=False)
            return (net[0], net[-1])
        except ValueError:
            pass
    return text


def without_pre_dnat(policies, directory):
    """The policies, less the documents nca cannot model (preDNAT), in one file."""
    path = Path(policies)
    texts = [p.read_text() for p in sorted(path.glob("*.yaml"))] if path.is_dir() else [path.read_text()]
    kept = [d for t in texts for d in yaml.safe_load_all(t) if d and not d.get("spec", {}).get("preDNAT")]
    out = directory / "policies.yaml"
    out.write_text(yaml.safe_dump_all(kept, sort_keys=True))
    return out


def run_nca(nca, policies, resources, namespaces):
    cmd = [nca, "--connectivity", str(policies), "--pod_list", str(resources), "--output_format", "txt_no_fw_rules",
           "--print_ipv6"]
    if namespaces:
        cmd += ["--ns_list", str(namespaces)]
    run = subprocess.run(cmd, capture_output=True, text=True)
    output = run.stdout + run.stderr
    if run.returncode not in (0, 1) or "rror" in output:
        sys.exit(f"nca failed ({run.returncode}):\n{' '.join(cmd)}\n{output}")
    pairs, ranges = {}, {}
    for line in output.splitlines():
        if " => " not in line or " : " not in line:
            continue
        ends, conns = line.split(" : ", 1)
        src, dst = (parse_endpoint(e) for e in ends.split(" => "))
        conns = parse_connections(conns)
        if isinstance(src, tuple):
            ranges.setdefault(("in", dst), []).append((src, conns))
        elif isinstance(dst, tuple):
            ranges.setdefault(("out", src), []).append((dst, conns))
        else:
            pairs[(src, dst)] = union(pairs.get((src, dst), {}), conns)
    return pairs, ranges, output


# ------------------------------------------------------------------ the cluster

class Endpoint:
    def __init__(self, key, kind, labels, namespace=None):
        self.key, self.kind, self.labels, self.namespace = key, kind, labels, namespace


def selects(node, endpoint):
    selector = node.get("selector")
    if not selector or selector["kind"] != endpoint.kind:
        return False
    if endpoint.kind == "pods" and (selector["namespace"] or "default") != endpoint.namespace:
        return False
    return all(endpoint.labels.get(k) == v for k, v in selector["labels"].items())


def contains(node, ip, by_selector):
    if node.get("selector") and by_selector(node["selector"]["kind"]):
        return False
    return any(ip in ipaddress.ip_network(a, strict=False) for a in node["addresses"])


def dns_name(text):
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-") or "x"


def cluster(doc, target):
    endpoints, namespaces = [], set()
    for node in doc["nodes"]:
        selector = node.get("selector")
        if not selector:
            continue
        name = dns_name(node["name"])
        labels = dict(selector["labels"])
        if selector["kind"] == "pods":
            namespace = selector["namespace"] or "default"
            namespaces.add(namespace)
            labels[PROBE_LABEL] = name
            endpoints.append(Endpoint(f"{namespace}/{name}-0", "pods", labels, namespace))
        elif target == "calico":
            host_labels = dict(labels, **{PROBE_LABEL: name, HOST_ENDPOINT_LABEL: ""})
            endpoints.append(Endpoint(f"{name}-host", "nodes", host_labels))
            # A pod that carries the node role's labels must stay outside the host policy.
            impostor = dict(labels, **{PROBE_LABEL: f"impostor-{name}"})
            endpoints.append(Endpoint(f"portc-probe/impostor-{name}", "pods", impostor, "portc-probe"))
    namespaces.add("portc-probe")
    for namespace in sorted(namespaces):
        labels = {PROBE_LABEL: f"stranger-{namespace}"}
        endpoints.append(Endpoint(f"{namespace}/stranger-0", "pods", labels, namespace))
    if target == "calico":
        endpoints.append(Endpoint("stranger-host", "nodes", {PROBE_LABEL: "stranger-host", HOST_ENDPOINT_LABEL: ""}))
    return endpoints, sorted(namespaces)


def resources(endpoints, namespaces, directory):
    items = []
    for e in endpoints:
        name = e.key.split("/")[-1]
        if e.kind == "pods":
            items.append({"apiVersion": "v1", "kind": "Pod",
                          "metadata": {"name": name, "namespace": e.namespace, "labels": e.labels},
                          "spec": {"containers": [{"name": "app", "image": "probe"}]}})
        else:
            items.append({"apiVersion": "projectcalico.org/v3", "kind": "HostEndpoint",
                          "metadata": {"name": name, "labels": e.labels},
                          "spec": {"node": name, "interfaceName": "*"}})
    pods = directory / "endpoints.yaml"
    pods.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}, sort_keys=True))
    ns = directory / "namespaces.yaml"
    ns.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "NamespaceList", "items": [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n, "labels": {"kubernetes.io/metadata.name": n}}}
        for n in namespaces]}, sort_keys=True))
    return pods, ns


def probes(doc):
    """An address inside every bound prefix (first, last), one beside it, and strangers."""
    out = {ipaddress.ip_address("192.0.2.77"), ipaddress.ip_address("2001:db8:ffff::77")}
    for node in doc["nodes"]:
        for a in node["addresses"]:
            net = ipaddress.ip_network(a, strict=False)
            out.update({net[0], net[-1]})
            for outside in (int(net[0]) - 1, int(net[-1]) + 1):
                if 0 <= outside < 2 ** net.max_prefixlen:
                    out.add(ipaddress.IPv4Address(outside) if net.version == 4 else ipaddress.IPv6Address(outside))
    return sorted(out, key=lambda ip: (ip.version, int(ip)))


# ------------------------------------------------------------------ the expectation

def declared(doc, target):
    """The flows the policies must express: (from, to, protocol number, ports)."""
    out = []
    for flow in doc["flows"]:
        if flow["local"] or flow["condition"] is not None:
            continue
        if target == "networkpolicy" and flow["protocol"] not in PORTED:
            continue
        ports = flow["ports"]
        out.append((flow["from"], flow["to"], NUMBERS[flow["protocol"]],
                    (ports["start"], ports["end"]) if ports else PORT_DOMAIN))
    return out


def expectation(doc, target, egress):
    nodes = {n["name"]: n for n in doc["nodes"]}
    flows = declared(doc, target)
    np = target == "networkpolicy"
    by_selector = (lambda kind: kind == "pods") if np else (lambda kind: True)
    subjects = [n for n in doc["nodes"] if n["kind"] == "role" and n.get("selector")
                and n["selector"]["kind"] == ("pods" if np else "nodes")]

    def roles_of(endpoint):
        return {n["name"] for n in subjects if selects(n, endpoint)}

    def matches(name, side):
        node = nodes[name]
        if isinstance(side, Endpoint):
            return selects(node, side)
        return contains(node, side, by_selector)

    def allowed(src, dst):
        def policed_in(e):
            return isinstance(e, Endpoint) and (e.kind == "nodes" or roles_of(e))

        def policed_out(e):
            if not isinstance(e, Endpoint):
                return False
            if e.kind == "nodes":
                # Without --egress a role's policy allows every egress; a host endpoint that no
                # policy selects sends nothing.
                return egress or not roles_of(e)
            return egress and bool(roles_of(e))

        result = everything()
        if policed_in(dst):
            roles = roles_of(dst)
            conns = {}
            for f, t, p, ports in flows:
                if t in roles and matches(f, src):
                    conns = union(conns, {p: [ports]})
            result = intersect(result, conns)
        if policed_out(src):
            roles = roles_of(src)
            conns = {}
            for f, t, p, ports in flows:
                if f in roles and matches(t, dst):
                    conns = union(conns, {p: [ports]})
            result = intersect(result, conns)
        return result

    return allowed


# ------------------------------------------------------------------ main

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flows", required=True, help="the json target's output")
    parser.add_argument("--policies", required=True, help="a file or directory of generated policies")
    parser.add_argument("--target", required=True, choices=["networkpolicy", "calico"])
    parser.add_argument("--egress", action="store_true", help="the policies were built with --egress")
    parser.add_argument("--nca", default="nca")
    args = parser.parse_args()

    doc = json.loads(Path(args.flows).read_text())
    endpoints, namespaces = cluster(doc, args.target)
    allowed = expectation(doc, args.target, args.egress)
    with tempfile.TemporaryDirectory() as tmp:
        pods, ns = resources(endpoints, namespaces, Path(tmp))
        policies = without_pre_dnat(args.policies, Path(tmp))
        pairs, ranges, output = run_nca(args.nca, policies, pods, ns)

    seen = {e.key for e in endpoints}
    reported = {k for pair in pairs for k in pair} | {k for _, k in ranges}
    if not reported <= seen:
        sys.exit(f"nca reports endpoints the test did not make: {sorted(reported - seen)}\n{output}")

    differences, compared = [], 0

    def compare(src_name, dst_name, want, got):
        nonlocal compared
        compared += 1
        if want != got:
            missing = describe(intersect(want, complement(got))) if got else describe(want)
            extra = describe(intersect(got, complement(want))) if want else describe(got)
            line = f"{src_name} => {dst_name}:"
            if missing != "nothing":
                line += f" declared but not allowed: {missing};"
            if extra != "nothing":
                line += f" allowed but not declared: {extra};"
            differences.append(line)

    for src in endpoints:
        for dst in endpoints:
            if src is dst:
                continue
            compare(src.key, dst.key, normalise(allowed(src, dst)), normalise(pairs.get((src.key, dst.key), {})))
    for ip in probes(doc):
        for e in endpoints:
            for direction, src, dst in (("in", ip, e), ("out", e, ip)):
                got = {}
                for (lo, hi), conns in ranges.get((direction, e.key), []):
                    if lo.version == ip.version and int(lo) <= int(ip) <= int(hi):
                        got = union(got, conns)
                compare(str(src) if src is ip else src.key, str(dst) if dst is ip else dst.key,
                        normalise(allowed(src, dst)), normalise(got))

    name = Path(args.flows).name
    if differences:
        print(f"{name}: {len(differences)} of {compared} connections differ from the declared flows:")
        for line in differences:
            print("  " + line)
        sys.exit(1)
    print(f"{name}: {compared} connections between {len(endpoints)} endpoints and {len(probes(doc))} "
          f"addresses match the declared flows exactly")


if __name__ == "__main__":
    main()
