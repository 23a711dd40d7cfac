"""The oracle of the `python` module tests: Python's str()/repr() and ansible-core's filters.

Reads one JSON request per line on stdin, {"value": V, "calls": [[NAME, KWARGS], ...]}, and
writes one JSON line per request, {"out": [RESULT, ...]}, each RESULT {"ok": TEXT} or
{"error": MESSAGE}. V is read with json.loads, as the Rust side's serde_json value is meant to
be. NAME is:

- "str", "repr": Python's str(V) / repr(V);
- "template": what "{{ v }}" writes inside a template (rendered by ansible-core's Templar);
- "to_json", "to_nice_json", "to_yaml", "to_nice_yaml": "{{ v | NAME(**kwargs) }}" rendered
  by ansible-core's Templar, i.e. the real filters on Ansible's lazy containers;
- "yaml.dump": yaml.dump(V, Dumper=AnsibleDumper, **KWARGS) (options the filters fix, such as
  allow_unicode);
- "json.dumps": json.dumps(V, cls=<the to_json filter's encoder>, **KWARGS).

The first line written is {"ansible": VERSION, "yaml": PYYAML_VERSION, "libyaml": BOOL}.
"""

import json
import sys

import ansible
import yaml
from ansible._internal._datatag._tags import TrustedAsTemplate
from ansible.module_utils._internal._json._profiles import _tagless
from ansible.parsing.dataloader import DataLoader
from ansible.parsing.yaml.dumper import AnsibleDumper
from ansible.template import Templar

TEMPLAR = Templar(loader=DataLoader(), variables={})
FILTERS = {"to_json", "to_nice_json", "to_yaml", "to_nice_yaml"}


def render(template, **variables):
    templar = TEMPLAR.copy_with_new_env(available_variables=variables)
    return templar.template(TrustedAsTemplate().tag(template), escape_backslashes=False)


def call(name, kwargs, value):
    if name == "str":
        return str(value)
    if name == "repr":
        return repr(value)
    if name == "template":
        out = render("<{{ v }}", v=value)
        assert out.startswith("<"), out
        return out[1:]
    if name in FILTERS:
        out = render("{{ v | %s(**kw) }}" % name, v=value, kw=kwargs)
        assert isinstance(out, str), type(out)
        return out
    if name == "yaml.dump":
        return yaml.dump(value, Dumper=AnsibleDumper, **kwargs)
    if name == "json.dumps":
        return json.dumps(value, cls=_tagless.Encoder, **kwargs)
    raise ValueError(f"unknown call {name!r}")


def main():
    print(json.dumps({"ansible": ansible.__version__, "yaml": yaml.__version__,
                      "libyaml": yaml.__with_libyaml__}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        out = []
        for name, kwargs in req["calls"]:
            try:
                out.append({"ok": call(name, kwargs, req["value"])})
            except Exception as e:  # reported to the test, which fails
                out.append({"error": f"{type(e).__name__}: {e}"})
        sys.stdout.write(json.dumps({"out": out}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
