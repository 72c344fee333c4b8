"""Print the TABLE of liqo_core/sandbox/apiserver/protobuf_table.py.

    python scripts/gen_protobuf_table.py K8S_API_CHECKOUT APIMACHINERY_CHECKOUT > table.txt

Reads, from checkouts of k8s.io/api and k8s.io/apimachinery, each package's
generated.proto (field numbers and types) and Go types (JSON names; pointer, omitempty and
inline fields), keeps the messages reachable from the emulator's served built-in kinds,
and prints them in the table's format. Paste the output between TABLE's quotes.
"""

import re
import sys
from pathlib import Path


def git_show(repo, path):
    return (Path(repo) / path).read_text()


def ls(repo, d):
    return sorted(f"{d}/{p.name}" for p in (Path(repo) / d).iterdir())


API, AM = sys.argv[1], sys.argv[2]
PKGS = {
    # proto package -> (checkout, dir, alias)
    "k8s.io.apimachinery.pkg.apis.meta.v1": ("AM", "pkg/apis/meta/v1", "meta.v1"),
    "k8s.io.apimachinery.pkg.runtime": ("AM", "pkg/runtime", "runtime"),
    "k8s.io.apimachinery.pkg.runtime.schema": ("AM", "pkg/runtime/schema", "schema"),
    "k8s.io.apimachinery.pkg.util.intstr": ("AM", "pkg/util/intstr", "intstr"),
    "k8s.io.apimachinery.pkg.api.resource": ("AM", "pkg/api/resource", "resource"),
}
GROUP_DIRS = [
    "core/v1",
    "apps/v1",
    "batch/v1",
    "coordination/v1",
    "discovery/v1",
    "events/v1",
    "rbac/v1",
    "certificates/v1",
    "admissionregistration/v1",
    "node/v1",
    "networking/v1",
    "policy/v1",
    "scheduling/v1",
    "storage/v1",
    "authorization/v1",
    "authentication/v1",
    "autoscaling/v1",
    "autoscaling/v2",
]
for d in GROUP_DIRS:
    PKGS["k8s.io.api." + d.replace("/", ".")] = ("API", d, d.replace("/", "."))

SPECIAL = {
    "meta.v1.Time": "time",
    "meta.v1.MicroTime": "microtime",
    "meta.v1.Duration": "duration",
    "meta.v1.FieldsV1": "rawjson",
    "runtime.RawExtension": "rawjson",
    "intstr.IntOrString": "intorstring",
    "resource.Quantity": "quantity",
}
SCALARS = {
    "string": "string",
    "bytes": "bytes",
    "int32": "int",
    "int64": "int",
    "bool": "bool",
    "double": "double",
    "float": "float",
    "uint32": "int",
    "uint64": "int",
}

msgs = {}  # qualified alias name -> list of (num, protoname, type, label)
gofields = {}  # alias name -> {protoname: (jsonname, pointer, omitempty)}

FIELD = re.compile(
    r"^\s*(optional|repeated)?\s*(map<\s*(\S+)\s*,\s*(\S+)\s*>|\S+)\s+(\w+)\s*=\s*(\d+)\s*;"
)

for checkout, d, alias in PKGS.values():
    repo = {"API": API, "AM": AM}[checkout]
    text = git_show(repo, f"{d}/generated.proto")
    text = re.sub(r"//[^\n]*", "", text)
    cur = None
    depth = 0
    for line in text.splitlines():
        m = re.match(r"^\s*message\s+(\w+)\s*\{", line)
        if m and depth == 0:
            cur = f"{alias}.{m.group(1)}"
            msgs[cur] = []
            depth = 1
            continue
        if cur is None:
            continue
        depth += line.count("{") - line.count("}")
        if depth <= 0:
            cur = None
            depth = 0
            continue
        f = FIELD.match(line)
        if f:
            label, typ, kt, vt, name, num = f.groups()
            msgs[cur].append((int(num), name, typ, label or "optional", kt, vt))
    # go types
    for path in ls(repo, d):
        if not path.endswith(".go") or path.endswith("_test.go") or "generated" in path:
            continue
        src = git_show(repo, path)
        for sm in re.finditer(r"type (\w+) struct \{(.*?)\n\}", src, re.S):
            sname = f"{alias}.{sm.group(1)}"
            fields = gofields.setdefault(sname, {})
            for fl in sm.group(2).splitlines():
                fm = re.match(r"^\s*(\S+)(?:\s+(\S+))?\s+`(.*)`", fl)
                if not fm:
                    continue
                gotype, tag = fm.group(2) or "", fm.group(3)
                pm = re.search(r'protobuf:"([^"]*)"', tag)
                jm = re.search(r'json:"([^"]*)"', tag)
                if not pm or not jm:
                    continue
                pname = dict(kv.split("=", 1) for kv in pm.group(1).split(",") if "=" in kv).get(
                    "name"
                )
                jparts = jm.group(1).split(",")
                fields[pname] = (
                    jparts[0],
                    gotype.startswith("*"),
                    "omitempty" in jparts[1:],
                    "inline" in jparts[1:] or not jparts[0],
                )


def resolve(typ, alias):
    if typ in SCALARS:
        return SCALARS[typ]
    t = typ.lstrip(".")
    if t.startswith("k8s.io."):
        pkg, _, name = t.rpartition(".")
        if pkg not in PKGS:
            print("skip", t, file=sys.stderr)
            return "skip"
        a = PKGS[pkg][2]
        q = f"{a}.{name}"
    else:
        q = f"{alias}.{typ}"
    return SPECIAL.get(q, q)


def roots():
    from liqo_core.sandbox.apiserver.builtins import BUILTIN_TYPES, VIRTUAL_TYPES

    out = []
    for rt in BUILTIN_TYPES + VIRTUAL_TYPES:
        group = rt.group.split(".")[0] or "core"
        if group not in ("apiextensions", "apiregistration"):  # not in k8s.io/api
            out.append(f"{group}.{rt.version}.{rt.kind}")
    extra = ["authentication.v1.TokenRequest", "meta.v1.DeleteOptions", "policy.v1.Eviction"]
    return sorted(set(out + extra + ["autoscaling.v1.Scale", "core.v1.Binding"]))


ROOTS = roots()
keep = {}
todo = list(ROOTS)
while todo:
    name = todo.pop()
    if name in keep or name in SPECIAL.values():
        continue
    if name not in msgs:
        print("missing", name, file=sys.stderr)
        continue
    alias = name.rsplit(".", 1)[0]
    rows = []
    gf = gofields.get(name, {})
    for num, pname, typ, label, _kt, vt in msgs[name]:
        json_name, pointer, omitempty, inline = gf.get(pname, (pname, False, True, False))
        flags = ""
        if inline:
            flags += "i"
            json_name = pname
        elif json_name in ("", "-"):
            json_name = pname
        if typ.startswith("map<"):
            val = resolve(vt, alias)
            t = "map:" + val
            if val not in SCALARS.values() and val not in SPECIAL.values() and val != "skip":
                todo.append(val)
        else:
            t = resolve(typ, alias)
            if t not in SCALARS.values() and t not in SPECIAL.values() and t != "skip":
                todo.append(t)
            if label == "repeated":
                flags += "r"
        if pointer:
            flags += "p"
        elif not omitempty:
            flags += "k"
        rows.append((num, json_name, t, flags or "-"))
    keep[name] = rows

out = []
for name in sorted(keep):
    out.append(f"@{name}")
    for num, j, t, fl in keep[name]:
        out.append(f"{num} {j} {t} {fl}")
print("\n".join(out))
