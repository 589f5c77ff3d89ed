#!/usr/bin/python3
"""Independent oracle for grammar-constrained samples (tests/grammar/sampling_test.cpp).

Each input line is {"kind": "schema"|"regex"|"choice", "spec": ..., "text": "..."}. A schema
sample must parse as JSON and validate against its schema (python3-jsonschema, Draft 2020-12,
formats checked); a regex sample must re.fullmatch; a choice sample must be one of the choices.
Prints one line per failure and exits 1 if there is any.
"""
import json
import re
import sys

import jsonschema

def main(path):
    failures = 0
    total = 0
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    validators = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            total += 1
            kind, spec, text = rec["kind"], rec["spec"], rec["text"]
            try:
                if kind == "schema":
                    key = json.dumps(spec, sort_keys=True)
                    if key not in validators:
                        validators[key] = jsonschema.Draft202012Validator(spec, format_checker=checker)
                    validators[key].validate(json.loads(text))
                elif kind == "regex":
                    if re.fullmatch(spec, text) is None:
                        raise ValueError("no full match")
                elif kind == "choice":
                    if text not in spec:
                        raise ValueError("not a choice")
                else:
                    raise ValueError("unknown kind " + kind)
            except Exception as e:  # noqa: BLE001 - every failure is reported
                failures += 1
                if failures <= 20:
                    print(f"FAIL {kind} {json.dumps(spec)[:120]}: {text[:200]!r}: {str(e)[:200]}")
    print(f"{total - failures}/{total} samples valid")
    return 1 if failures else 0

if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
