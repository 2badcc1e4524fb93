#!/usr/bin/env python3
"""Proves that `portc diff` reports exactly the connections that network-config-analyzer's semantic
diff finds between the NetworkPolicies built from the two sides.

Reads both sides' `json` flow graphs (for the cluster: both must bind the same pods and addresses),
both sides' NetworkPolicies, and `portc diff --build --format json` between them. Makes the cluster
of tests/kubernetes/connectivity.py (a pod per role bound to pods, strangers, probe addresses in and
around every bound prefix), runs `nca --semantic_diff NEW --base_np_list OLD`, and compares, for
every pair of endpoints and every probe address, the connections nca reports added and removed with
those of the differences portc reports added and removed, projected onto what the policies police
(ingress of the pods of roles bound to pods, and their egress with --egress).

The sites must keep each pod role selected by a policy on both sides, and no endpoint may fall under
two roles or externals, so that a difference of one flow is a difference of the connection.
Prints every mismatch and exits 1 if there is one.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import connectivity as c  # noqa: E402  (the cluster, the connection sets and nca's output format)


def run_semantic_diff(nca, old, new, pods, namespaces):
    cmd = [nca, "--semantic_diff", str(new), "--base_np_list", str(old), "--pod_list", str(pods),
           "--ns_list", str(namespaces), "--output_format", "txt_no_fw_rules", "--print_ipv6"]
    run = subprocess.run(cmd, capture_output=True, text=True)
    output = run.stdout + run.stderr
    if run.returncode not in (0, 1) or "rror" in output:
        sys.exit(f"nca failed ({run.returncode}):\n{' '.join(cmd)}\n{output}")
    found = {"added": ({}, {}), "removed": ({}, {})}
    section = None
    for line in output.splitlines():
        if line.startswith("Added connections"):
            section = "added"
        elif line.startswith("Removed connections"):
            section = "removed"
        elif line.startswith(("New connections", "Lost connections")):
            sys.exit(f"the two sides' clusters differ; the test needs one cluster:\n{output}")
        if section is None or " => " not in line or " : " not in line:
            continue
        pairs, ranges = found[section]
        ends, conns = line.split(" : ", 1)
        src, dst = (c.parse_endpoint(e) for e in ends.split(" => "))
        conns = c.parse_connections(conns)
        if isinstance(src, tuple):
            ranges.setdefault(("in", dst), []).append((src, conns))
        elif isinstance(dst, tuple):
            ranges.setdefault(("out", src), []).append((dst, conns))
        else:
            pairs[(src, dst)] = c.union(pairs.get((src, dst), {}), conns)
    return found, output


def policed(doc, egress):
    """Whether the policies police a connection from src to dst at all."""
    subjects = [n for n in doc["nodes"] if n["kind"] == "role" and n.get("selector")
                and n["selector"]["kind"] == "pods"]

    def roles_of(endpoint):
        return [n for n in subjects if c.selects(n, endpoint)]

    def check(src, dst):
        into = isinstance(dst, c.Endpoint) and bool(roles_of(dst))
        out = egress and isinstance(src, c.Endpoint) and bool(roles_of(src))
        return into or out

    return check


def reported(doc, diff, change, egress):
    """The connections of portc's differences of one kind between two endpoints."""
    entries = [d for d in diff["differences"] if d["change"] == change]
    if any(d["change"] == "changed" for d in diff["differences"]):
        sys.exit("a build's diff has no conditions; compare with --build")
    flows = [{"from": d["from"], "to": d["to"], "protocol": d["protocol"], "ports": d["ports"],
              "local": d["local"], "condition": None} for d in entries]
    allowed = c.expectation(dict(doc, flows=flows), "networkpolicy", egress)
    is_policed = policed(doc, egress)
    return lambda src, dst: c.normalise(allowed(src, dst)) if is_policed(src, dst) else {}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old-flows", required=True)
    parser.add_argument("--new-flows", required=True)
    parser.add_argument("--old-policies", required=True)
    parser.add_argument("--new-policies", required=True)
    parser.add_argument("--diff", required=True, help="portc diff --build --format json of the two sides")
    parser.add_argument("--egress", action="store_true", help="the policies were built with --egress")
    parser.add_argument("--nca", default="nca")
    args = parser.parse_args()

    old, new = (json.loads(Path(p).read_text()) for p in (args.old_flows, args.new_flows))
    diff = json.loads(Path(args.diff).read_text())
    if diff["format"] != "portc.diff/v1" or diff["configurations"] != "build":
        sys.exit("--diff must be `portc diff --build --format json`")
    bindings = lambda doc: sorted((n["name"], n["addresses"], n.get("selector")) for n in doc["nodes"]
                                  if n["addresses"] or n.get("selector"))
    if bindings(old) != bindings(new):
        sys.exit("the two sides bind different pods or addresses; the test needs one cluster")
    # Nodes by name from both sides, so that a difference may name a node only one side declares.
    nodes = {n["name"]: n for n in old["nodes"] + new["nodes"]}
    new = dict(new, nodes=sorted(nodes.values(), key=lambda n: n["name"]))
    endpoints, namespaces = c.cluster(new, "networkpolicy")
    with tempfile.TemporaryDirectory() as tmp:
        pods, ns = c.resources(endpoints, namespaces, Path(tmp))
        found, output = run_semantic_diff(args.nca, args.old_policies, args.new_policies, pods, ns)

    differences, compared = [], 0
    for change in ("added", "removed"):
        want = reported(new, diff, change, args.egress)
        pairs, ranges = found[change]

        def compare(src_name, dst_name, expected, got):
            nonlocal compared
            compared += 1
            if expected != got:
                differences.append(f"{change} {src_name} => {dst_name}: portc reports {c.describe(expected)}, "
                                   f"nca {c.describe(got)}")

        for src in endpoints:
            for dst in endpoints:
                if src is not dst:
                    compare(src.key, dst.key, want(src, dst), c.normalise(pairs.get((src.key, dst.key), {})))
        for ip in c.probes(new):
            for e in endpoints:
                for direction, src, dst in (("in", ip, e), ("out", e, ip)):
                    got = {}
                    for (lo, hi), conns in ranges.get((direction, e.key), []):
                        if lo.version == ip.version and int(lo) <= int(ip) <= int(hi):
                            got = c.union(got, conns)
                    compare(str(src) if src is ip else src.key, str(dst) if dst is ip else dst.key,
                            want(src, dst), c.normalise(got))

    counts = {k: len([d for d in diff["differences"] if d["change"] == k]) for k in ("added", "removed")}
    if differences:
        print(f"{len(differences)} of {compared} comparisons differ:")
        for line in differences:
            print("  " + line)
        print(output)
        sys.exit(1)
    print(f"{compared} comparisons between {len(endpoints)} endpoints and {len(c.probes(new))} addresses agree "
          f"with nca's semantic diff ({counts['added']} added and {counts['removed']} removed in portc's diff)")


if __name__ == "__main__":
    main()
