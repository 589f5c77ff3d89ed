#!/usr/bin/python3
"""Reference renderer for chat templates: jinja2 set up as Hugging Face transformers does.

Reads a JSON list of requests on stdin, writes a JSON list of results on stdout.
Request: {"template": path, "messages": [...], "tools": [...] | null, "add_generation_prompt": bool,
          "bos_token": str, "eos_token": str, "extra_context": {...}, "now": unix_seconds}
Result:  {"ok": true, "output": str} or {"ok": false, "error": str}

The environment mirrors transformers.utils.chat_template_utils._compile_jinja_template:
ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
extensions=[AssistantTracker, loopcontrols]), a json.dumps-based `tojson` filter, and the
`raise_exception` and `strftime_now` globals. strftime_now formats the fixed instant `now` (UTC)
so that renders are reproducible.
"""
import datetime
import json
import sys

import jinja2
import jinja2.ext
import jinja2.nodes
from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment


class GenerationTracker(jinja2.ext.Extension):
    """transformers' AssistantTracker without mask tracking: {% generation %} renders its body."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        call = self.call_method("_generation_support")
        return jinja2.nodes.CallBlock(call, [], [], body).set_lineno(lineno)

    def _generation_support(self, caller):
        return caller()


def raise_exception(message):
    raise TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


def make_env(now):
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True,
        extensions=[GenerationTracker, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    instant = datetime.datetime.fromtimestamp(now, tz=datetime.timezone.utc)
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: instant.strftime(fmt)
    return env


def render(req, cache):
    path = req["template"]
    now = req.get("now", 0)
    key = (path, now)
    if key not in cache:
        with open(path, encoding="utf-8") as f:
            source = f.read()
        try:
            cache[key] = make_env(now).from_string(source)
        except Exception as e:  # noqa: BLE001 - any failure is the oracle's verdict
            cache[key] = e
    compiled = cache[key]
    if isinstance(compiled, Exception):
        return {"ok": False, "error": "parse: %s: %s" % (type(compiled).__name__, compiled)}
    kwargs = dict(req.get("extra_context") or {})
    kwargs["bos_token"] = req.get("bos_token", "")
    kwargs["eos_token"] = req.get("eos_token", "")
    try:
        out = compiled.render(messages=req["messages"], tools=req.get("tools"), documents=None,
                              add_generation_prompt=req.get("add_generation_prompt", False),
                              **kwargs)
        return {"ok": True, "output": out}
    except Exception as e:  # noqa: BLE001
        return {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}


def main():
    requests = json.load(sys.stdin)
    cache = {}
    results = [render(r, cache) for r in requests]
    json.dump(results, sys.stdout, ensure_ascii=True)


if __name__ == "__main__":
    main()
