"""An independent check of the FHIR the server answers: every resource given (files of
JSON, each a resource or a list of them) is parsed by PyPI's fhir.resources 6.1, whose
models are FHIR R4 (4.0.1), and so checked for its fields, their types, cardinalities and
required elements; a Bundle's entries are each checked again as the resource they are.
Prints one line per resource; exits 1 on the first that does not validate."""

import json
import sys

import fhir.resources
from fhir.resources import construct_fhir_element

assert fhir.resources.__fhir_version__ == "4.0.1", fhir.resources.__fhir_version__


def check(resource, where):
    kind = resource.get("resourceType")
    try:
        construct_fhir_element(kind, resource)
    except Exception as e:  # the validator's own error, said whole
        print(f"INVALID {where} {kind}: {e}")
        sys.exit(1)
    print(f"ok {where} {kind}/{resource.get('id', '')}")
    for i, entry in enumerate(resource.get("entry", []) if kind == "Bundle" else []):
        if "resource" in entry:
            check(entry["resource"], f"{where}#entry{i}")


for path in sys.argv[1:]:
    with open(path) as f:
        doc = json.load(f)
    for n, resource in enumerate(doc if isinstance(doc, list) else [doc]):
        check(resource, f"{path}[{n}]")
