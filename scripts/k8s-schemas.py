#!/usr/bin/env python3
"""Kubernetes JSON schemas for kubeconform, made from the API's own OpenAPI document.

Reads Kubernetes' `api/openapi-spec/swagger.json` (from the k8s.io/kubernetes Go module) and writes one
standalone schema per kind as `<kind>-<group>-<version>.json` (`<kind>-<version>.json` for the core group),
the file names kubeconform's `{{ .ResourceKind }}{{ .KindSuffix }}` asks for. "Strict": every object that
lists its properties refuses others, as kubeconform's `-strict` expects of its schemas. The conversions
are the ones the API server itself applies: IntOrString takes a string or an integer, Quantity a
string or a number, and any field may be null (omitted).

usage: k8s-schemas.py swagger.json out-dir
"""
import json
import os
import sys

SPECIAL = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
    "io.k8s.apimachinery.pkg.api.resource.Quantity": {"oneOf": [{"type": "string"}, {"type": "number"}]},
}


def convert(node, used):
    """A swagger schema node as JSON Schema; `used` collects the definitions it refers to."""
    if isinstance(node, list):
        return [convert(n, used) for n in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for k, v in node.items():
        if k == "$ref":
            name = v.rsplit("/", 1)[-1]
            if name in SPECIAL:
                return dict(SPECIAL[name])
            used.add(name)
            out["$ref"] = "#/definitions/" + name
        elif k.startswith("x-kubernetes-") or k == "format" and v == "int-or-string":
            if v == "int-or-string" or (k == "x-kubernetes-int-or-string" and v):
                return {"oneOf": [{"type": "string"}, {"type": "integer"}]}
        elif k in ("properties", "patternProperties", "definitions"):
            out[k] = {p: convert(s, used) for p, s in v.items()}
        else:
            out[k] = convert(v, used)
    if "type" in out and isinstance(out["type"], str):
        out["type"] = [out["type"], "null"]
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def main():
    spec_path, out_dir = sys.argv[1], sys.argv[2]
    with open(spec_path) as f:
        defs = json.load(f)["definitions"]
    os.makedirs(out_dir, exist_ok=True)
    made = 0
    for name, d in defs.items():
        for gvk in d.get("x-kubernetes-group-version-kind", []):
            group, version, kind = gvk.get("group", ""), gvk["version"], gvk["kind"]
            used = set()
            schema = convert(d, used)
            # The kind's own apiVersion and kind, as the API server insists.
            api_version = f"{group}/{version}" if group else version
            props = schema.setdefault("properties", {})
            props["apiVersion"] = {"type": "string", "enum": [api_version]}
            props["kind"] = {"type": "string", "enum": [kind]}
            definitions, todo = {}, list(used)
            while todo:
                n = todo.pop()
                if n in definitions:
                    continue
                more = set()
                definitions[n] = convert(defs[n], more)
                todo.extend(m for m in more if m not in definitions)
            schema["definitions"] = definitions
            schema["$schema"] = "http://json-schema.org/schema#"
            suffix = f"-{group.split('.')[0]}-{version}" if group else f"-{version}"
            with open(os.path.join(out_dir, f"{kind.lower()}{suffix}.json"), "w") as f:
                json.dump(schema, f)
            made += 1
    print(f"{made} schemas in {out_dir}")


if __name__ == "__main__":
    main()
