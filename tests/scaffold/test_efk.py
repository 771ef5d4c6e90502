"""scaffold/efk against the events of a real short trial: the schema, the fluentd
config's parse and routing rules, the index template and the Kibana saved objects.

There is no Fluentd, Elasticsearch or Kibana here: the config is read and its rules
are applied in Python, as the plugins it names document them.
"""

import base64
import dataclasses
import hashlib
import json
import re
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest

from cartpole.hparams import HParams
from cartpole.metrics import Recorder
from cartpole.metrics.elasticsearch import document_id, index_name
from cartpole.metrics.log import LogSink
from cartpole.training.loop import TrialSpec, run_trial

EFK = Path(__file__).resolve().parents[2] / "scaffold" / "efk"
SCHEMA = json.loads(files("cartpole.metrics").joinpath("event.schema.json").read_text())
TEMPLATE = json.loads((EFK / "index-template.json").read_text())
MAPPING = TEMPLATE["template"]["mappings"]


# -- a real trial, printed by the log engine as a container's stdout would be -------------
@pytest.fixture(scope="module")
def lines(tmp_path_factory, quick):
    path = tmp_path_factory.mktemp("efk") / "stdout.jsonl"
    hp = quick.hparams()
    sink = LogSink(path=str(path))
    run_trial(TrialSpec(hparams=hp, steps=700), Recorder([sink]), group="efk", trial="t001")
    sink.close()
    return path.read_text().splitlines()


@pytest.fixture(scope="module")
def events(lines):
    return [json.loads(line) for line in lines]


def test_events_of_a_real_trial_validate_against_the_schema(events):
    validator = jsonschema.Draft202012Validator(
        SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    assert {e["event"] for e in events} == {"trial_start", "episode", "eval", "trial_end"}
    for event in events:
        validator.validate(event)


# -- fluent.conf, read as Fluentd reads it --------------------------------------------------
@dataclasses.dataclass
class Section:
    name: str
    arg: str = ""
    params: dict = dataclasses.field(default_factory=dict)
    children: list = dataclasses.field(default_factory=list)

    def child(self, name):
        [found] = [c for c in self.children if c.name == name]
        return found


def parse_conf(text):
    """Fluentd's config syntax: ``<name arg>`` ... ``</name>`` sections, ``key value``
    parameters, ``#`` comment lines, double-quoted values."""
    root = Section("ROOT")
    stack = [root]
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("</"):
            assert stack[-1].name == line[2:-1], f"unbalanced {line}"
            stack.pop()
        elif line.startswith("<"):
            name, _, arg = line[1:-1].partition(" ")
            section = Section(name, arg.strip())
            stack[-1].children.append(section)
            stack.append(section)
        else:
            key, _, value = line.partition(" ")
            value = value.strip()
            if value.startswith('"') and value.endswith('"'):
                value = value[1:-1]
            stack[-1].params[key] = value
    assert stack == [root], "a section is not closed"
    return root


CONF = parse_conf((EFK / "fluent.conf").read_text())


def tag_pattern(pattern):
    """A Fluentd match pattern as a regex: ``*`` one tag part, ``**`` any number of
    parts (``a.**`` matches ``a`` too), ``{x,y}`` alternatives, spaces separate patterns."""
    def convert(p):
        out, i = "", 0
        while i < len(p):
            if p.startswith(".**", i):
                out, i = out + r"(?:\.[^.]+)*", i + 3
            elif p.startswith("**", i):
                out, i = out + r"(?:[^.]+(?:\.[^.]+)*)?", i + 2
            elif p[i] == "*":
                out, i = out + r"[^.]+", i + 1
            elif p[i] == "{":
                end = p.index("}", i)
                out += "(?:" + "|".join(convert(a) for a in p[i + 1:end].split(",")) + ")"
                i = end + 1
            else:
                out, i = out + re.escape(p[i]), i + 1
        return out
    return re.compile("|".join(f"(?:{convert(p)})" for p in pattern.split()) + r"\Z")


def ruby_regexp(text):
    assert text.startswith("/") and text.endswith("/"), text
    return re.compile(text[1:-1])


def genid(record, params):
    """elasticsearch_genid with use_record_as_seed: Base64(digest(values joined))."""
    assert params["use_record_as_seed"] == "true" and params["hash_type"] == "sha1"
    values = [record.get(k) for k in params["record_keys"].split(",")]
    seed = params.get("separator", "_").join("" if v is None else str(v) for v in values)
    return base64.b64encode(hashlib.sha1(seed.encode()).digest()).decode()


def route(tag, record):
    """Run one record through the top-level filters and matches, in config order.
    Returns (match section, record), or (None, None) when a filter drops it."""
    for section in CONF.children:
        if section.name not in ("filter", "match") or not tag_pattern(section.arg).match(tag):
            continue
        if section.name == "match":
            return section, record
        kind = section.params["@type"]
        if kind == "parser":
            record = apply_parser(section, record)
        elif kind == "grep":
            record = apply_grep(section, record)
        elif kind == "elasticsearch_genid":
            record = {**record, section.params["hash_id_key"]: genid(record, section.params)}
        else:
            raise AssertionError(f"this test does not know filter type {kind!r}")
        if record is None:
            return None, None
    return None, record


def apply_parser(section, record):
    params, parse = section.params, section.child("parse")
    assert parse.params["@type"] == "json"
    # without these two, a non-JSON line would go to @ERROR or pass through unparsed
    assert params["reserve_data"] == "false"
    assert params["emit_invalid_record_to_error"] == "false"
    try:
        parsed = json.loads(record[params["key_name"]])
    except (KeyError, ValueError):
        return None
    if not isinstance(parsed, dict):
        return None
    parsed.pop(parse.params.get("time_key", "time"), None)  # the json parser's time key
    return parsed


def apply_grep(section, record):
    for rule in section.children:
        value = record.get(rule.params["key"])
        hit = value is not None and ruby_regexp(rule.params["pattern"]).search(str(value))
        if (rule.name == "regexp" and not hit) or (rule.name == "exclude" and hit):
            return None
    return record


def to_elasticsearch(match, record):
    """What out_elasticsearch indexes: (index, _id, document)."""
    params = match.params
    assert params["logstash_format"] == "true" and params["utc_index"] == "true"
    moment = datetime.fromisoformat(record[params["time_key"]]).astimezone(UTC)
    index = params["logstash_prefix"] + "-" + moment.strftime(params["logstash_dateformat"])
    _id = record[params["id_key"]]
    document = {k: v for k, v in record.items() if k not in params["remove_keys"].split(",")}
    if params.get("time_key_exclude_timestamp") != "true":
        document["@timestamp"] = record[params["time_key"]]
    return index, _id, document


def docker_record(line):
    """A record as Docker's fluentd log driver sends it."""
    return {"container_id": "0123456789ab" * 5 + "cdef", "container_name": "/cartpole-train-1",
            "source": "stdout", "log": line}


DOCKER_TAG = "docker.cartpole-train-1"  # --log-opt tag=docker.{{.Name}}


def test_conf_listens_on_the_forward_port():
    [source] = [s for s in CONF.children if s.name == "source"]
    assert source.params["@type"] == "forward" and source.params["port"] == "24224"
    # Every interface of its container: the compose file publishes it on the host's
    # loopback only (tests/stacks/test_exposure.py).
    assert source.params["bind"] == "0.0.0.0"


def test_conf_writes_to_elasticsearch_as_a_user_from_the_environment():
    [match] = [s for s in CONF.children
               if s.name == "match" and s.params.get("@type") == "elasticsearch"]
    # Ruby string interpolation, evaluated by Fluentd when it reads the config.
    assert match.params["user"] == "#{ENV['ELASTICSEARCH_USERNAME']}"
    assert match.params["password"] == "#{ENV['ELASTICSEARCH_PASSWORD']}"
    assert "api_key" not in match.params
    text = (EFK / "fluent.conf").read_text()
    # Fluentd evaluates #{...} in double-quoted values only.
    assert "password \"#{ENV['ELASTICSEARCH_PASSWORD']}\"" in text
    # The variables the compose file gives it, the same names as the elasticsearch
    # engine reads.
    from cartpole.metrics.elasticsearch import ElasticsearchSink

    names = set(re.findall(r"ENV\['(\w+)'\]", text))
    assert {"ELASTICSEARCH_USERNAME", "ELASTICSEARCH_PASSWORD"} <= names
    assert {"ELASTICSEARCH_USERNAME", "ELASTICSEARCH_PASSWORD"} <= \
        set(ElasticsearchSink.secrets.values())


def test_log_lines_from_docker_become_the_events_in_cartpole_indices(lines, events):
    for line, event in zip(lines, events, strict=True):
        match, record = route(DOCKER_TAG, docker_record(line))
        assert match is not None and match.params["@type"] == "elasticsearch", line
        index, _id, document = to_elasticsearch(match, record)
        assert document == event  # the Docker fields are gone, nothing added
        # the same index and id the elasticsearch engine uses for this event
        assert index == index_name("cartpole", event["ts"])
        assert _id == document_id(event)
        assert re.fullmatch(r"cartpole-\d{4}\.\d{2}\.\d{2}", index)


def test_fluentd_engine_records_take_the_same_route(events):
    for event in events:
        match, record = route(f"cartpole.{event['event']}", dict(event))
        assert match is not None and match.params["@type"] == "elasticsearch"
        assert to_elasticsearch(match, record) == (
            index_name("cartpole", event["ts"]), document_id(event), event)


@pytest.mark.parametrize("line", [
    "episode 12  score 31.0  epsilon 0.84",  # text
    '{"group": "efk", "model": "runs/efk/t001/model.h5", "score": 9.5, "trials": []}',
    "[1, 2, 3]",  # JSON, but not an object
    '{"event": "something_else", "ts": "2026-01-01T00:00:00.000Z"}',
    "",
    '{"event": "episode", "score": ',  # a line cut short
])
def test_other_lines_are_dropped_cleanly(line):
    assert route(DOCKER_TAG, docker_record(line)) == (None, None)


def test_tags_that_are_not_ours_do_not_reach_elasticsearch(events):
    for tag in ("fluent.info", "app.docker.x", "cartpolex.episode"):
        match, _ = route(tag, dict(events[0]))
        assert match is None


def test_tag_patterns_behave_as_fluentd_documents():
    assert tag_pattern("a.**").match("a") and tag_pattern("a.**").match("a.b.c")
    assert not tag_pattern("a.*").match("a") and tag_pattern("a.*").match("a.b")
    assert not tag_pattern("a.*").match("a.b.c")
    assert tag_pattern("{a,b}.**").match("b.x") and not tag_pattern("{a,b}.**").match("c.x")
    assert tag_pattern("x y").match("y")


# -- the index template -------------------------------------------------------------------
def mapped(path):
    node = MAPPING
    for part in path.split("."):
        node = node.get("properties", {}).get(part)
        if node is None:
            return None
    return node


NUMBER_TYPES = {"double", "float", "scaled_float", "half_float"}
INTEGER_TYPES = {"long", "integer"}


def expected_types(spec):
    if spec.get("format") == "date-time":
        return {"date", "date_nanos"}
    if "enum" in spec:
        return {"keyword"}
    kinds = set(spec["type"] if isinstance(spec["type"], list) else [spec["type"]]) - {"null"}
    [kind] = kinds
    return {"string": {"keyword"}, "integer": INTEGER_TYPES, "number": NUMBER_TYPES,
            "boolean": {"boolean"}, "object": {"object"}}[kind]


def test_template_applies_to_cartpole_indices():
    assert TEMPLATE["index_patterns"] == ["cartpole-*"]
    assert MAPPING["dynamic"] is False  # only fields the schema knows are indexed


@pytest.mark.parametrize("name", sorted(SCHEMA["properties"]))
def test_template_maps_every_schema_field(name):
    field = mapped(name)
    assert field is not None, f"{name} is not in the index template"
    assert field.get("type", "object") in expected_types(SCHEMA["properties"][name])


@pytest.mark.parametrize("field", dataclasses.fields(HParams), ids=lambda f: f.name)
def test_template_maps_every_hyperparameter(field):
    mapping = mapped(f"hparams.{field.name}")
    assert mapping is not None, f"hparams.{field.name} is not in the index template"
    default = field.default
    wanted = NUMBER_TYPES if isinstance(default, float) else INTEGER_TYPES
    assert mapping["type"] in wanted  # a tuple of layer sizes is an array of integers


def test_template_maps_nothing_the_schema_lacks():
    names = set(MAPPING["properties"])
    assert names == set(SCHEMA["properties"])
    assert set(mapped("hparams")["properties"]) == {f.name for f in dataclasses.fields(HParams)}


# -- the Kibana saved objects -------------------------------------------------------------
OBJECTS = [json.loads(line) for line in (EFK / "kibana-dashboard.ndjson").read_text().splitlines()
           if line.strip()]
BY_KEY = {(o["type"], o["id"]): o for o in OBJECTS}


def kql_fields(query):
    return set(re.findall(r"([A-Za-z_@][\w.@]*)\s*:", query))


def vis_fields(vis):
    """Every index field a visualization reads, and the index patterns it names."""
    state = json.loads(vis["attributes"]["visState"])
    fields, patterns = set(), set()
    source = json.loads(vis["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
    fields |= kql_fields(source.get("query", {}).get("query", ""))
    for agg in state.get("aggs", []):
        if "field" in agg.get("params", {}):
            fields.add(agg["params"]["field"])
    if state["type"] == "vega":
        spec = json.loads(state["params"]["spec"])
        url = spec["data"]["url"]
        patterns.add(url["index"])
        fields.add(url["%timefield%"])
        fields |= set(_values_of("field", url["body"]))
    return fields, patterns


def _values_of(key, node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key and isinstance(v, str):
                yield v
            else:
                yield from _values_of(key, v)
    elif isinstance(node, list):
        for item in node:
            yield from _values_of(key, item)


def test_saved_objects_are_a_data_view_visualizations_and_a_dashboard():
    kinds = [o["type"] for o in OBJECTS]
    assert kinds.count("index-pattern") == 1 and kinds.count("dashboard") == 1
    assert kinds.count("visualization") >= 3
    [view] = [o for o in OBJECTS if o["type"] == "index-pattern"]
    assert view["attributes"]["title"] == "cartpole-*"
    assert view["attributes"]["timeFieldName"] == "ts"
    assert mapped("ts")["type"] == "date"
    assert len(BY_KEY) == len(OBJECTS), "two objects share a type and id"


def test_every_reference_resolves_within_the_file():
    for obj in OBJECTS:
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in BY_KEY, f"{obj['id']} -> {ref}"


def test_every_dashboard_panel_has_its_reference():
    [dashboard] = [o for o in OBJECTS if o["type"] == "dashboard"]
    names = {r["name"] for r in dashboard["references"]}
    panels = json.loads(dashboard["attributes"]["panelsJSON"])
    assert len(panels) == len(dashboard["references"])
    for panel in panels:
        assert f"{panel['panelIndex']}:{panel['panelRefName']}" in names
    visualizations = {o["id"] for o in OBJECTS if o["type"] == "visualization"}
    assert {r["id"] for r in dashboard["references"]} == visualizations


def test_dashboard_fields_exist_in_the_template():
    for obj in OBJECTS:
        if obj["type"] != "visualization":
            continue
        fields, patterns = vis_fields(obj)
        assert patterns <= {"cartpole-*"}, obj["id"]
        for field in fields:
            mapping = mapped(field)
            assert mapping is not None, f"{obj['id']} reads {field}, which is not mapped"
            assert mapping["type"] != "text", f"{field} cannot be aggregated"


def test_dashboard_shows_what_the_issue_asks_for():
    read = [vis_fields(o)[0] for o in OBJECTS if o["type"] == "visualization"]
    # score per episode per trial; evaluation score; hyperparameters against best score
    assert any({"episode", "score", "trial"} <= f for f in read)
    assert any({"eval_mean", "trial"} <= f for f in read)
    assert any({"best", "hparams.gamma", "hparams.learning_rate"} <= f for f in read)


def test_remote_run_events_take_both_routes():
    from tests.metrics import remote_examples as ex

    for event in (ex.run_start(), ex.run_episode(), ex.run_end(), ex.route()):
        line = json.dumps(event, separators=(",", ":"))
        for tag, record in ((DOCKER_TAG, docker_record(line)),
                            (f"cartpole.{event['event']}", dict(event))):
            match, routed = route(tag, record)
            assert match is not None, event["event"]
            assert to_elasticsearch(match, routed)[2] == event
