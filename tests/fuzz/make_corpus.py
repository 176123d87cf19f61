#!/usr/bin/env python3
"""Regenerates the seed corpora of tests/fuzz/corpus/ from the fixtures.

Each fuzz target's seeds are the fixtures of the parser it fuzzes, reduced
to what the target reads (tests/fuzz/fuzz_TARGET.c says what its input
is), plus a few hand-written inputs for shapes no fixture has. Files are
named after the fixture they come from; the folders are replaced as a
whole. The corpus is committed, so run this only when the fixtures or an
input format change, and check the result in with them.

Usage: tests/fuzz/make_corpus.py
"""
import base64
import glob
import json
import os
import re
import shutil

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = os.path.join(ROOT, "fixtures")
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")
MAX_SEED = 16384  # bytes; bigger fixtures test limits, not parsing


def name_of(path):
    return os.path.splitext(os.path.basename(path))[0]


def load(path):
    with open(path, "rb") as f:
        return f.read()


def compact(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# Forged but well-formed requestState values, standing in for the sealed
# ones the transcripts load ("$load:NAME"): the fuzzer cannot seal, but it
# can reach every check before the MAC and the MAC comparison itself.
FORGED_STATE = b64(compact({"v": 1, "b": "0" * 64, "e": 4102444800, "n": "0" * 32, "s": None})) \
    + "." + b64(bytes(32))


LOAD = re.compile(r"\$load:[A-Za-z0-9]+")


def transcript_lines(path):
    """The client side of a transcript, one line per message sent."""
    out = []
    for raw in open(path, encoding="utf-8"):
        step = json.loads(raw)
        if "send" in step:
            text = compact(step["send"]).decode()
            out.append(LOAD.sub(FORGED_STATE, text).encode())
        elif "send_raw" in step:
            out.append(step["send_raw"].encode())
        elif "send_bytes_hex" in step:
            out.append(bytes.fromhex(step["send_bytes_hex"]))
        elif "send_repeat" in step:
            unit, count, suffix = step["send_repeat"]
            out.append((unit * min(count, 64) + suffix).encode())
    return out


MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}, "sampling": {}},
    "io.modelcontextprotocol/clientInfo": {"name": "fuzz", "version": "1"},
}


def request_state_seeds():
    """tools/call, prompts/get and resources/read retries with requestState
    values of every shape open_state() sorts out."""
    states = [FORGED_STATE, "", ".", "abc", "abc.def", "!!!." + b64(bytes(32)),
              b64(b"{}") + "." + b64(bytes(31)), b64(b"not json") + "." + b64(bytes(32)),
              FORGED_STATE + "=", 7, None, {"s": 1}]
    calls = [("tools/call", {"name": "check_availability",
                             "arguments": {"id": "1", "quantity": 10}}),
             ("prompts/get", {"name": "compare", "arguments": {}}),
             ("resources/read", {"uri": "catalog://products/1"})]
    seeds = {}
    for i, state in enumerate(states):
        method, params = calls[i % len(calls)]
        p = dict(params, _meta=MODERN_META, requestState=state,
                 inputResponses={"smaller_quantity": {"action": "accept",
                                                       "content": {"quantity": 2}}})
        msg = {"jsonrpc": "2.0", "id": i, "method": method, "params": p}
        seeds["request-state-%02d" % i] = compact(msg) + b"\n"
    return seeds


def mcp():
    seeds = {}
    for path in sorted(glob.glob(os.path.join(FIX, "transcripts", "*.jsonl"))):
        lines = transcript_lines(path)
        seeds[name_of(path)] = b"\n".join(lines) + b"\n"
    # Framing: CRLF, blank and whitespace-only lines, no final newline.
    lines = transcript_lines(os.path.join(FIX, "transcripts", "tools.jsonl"))
    seeds["framing-crlf"] = b"\r\n".join(lines)
    seeds["framing-blank-lines"] = b"\n \t\n\n".join(lines[:4]) + b"\n   "
    seeds.update(request_state_seeds())
    return seeds


def fixture_members(pattern, keys):
    seeds = {}
    for path in sorted(glob.glob(os.path.join(FIX, pattern))):
        doc = json.loads(load(path))
        picked = {k: doc[k] for k in keys if k in doc}
        if picked:
            seeds[name_of(path)] = picked
    return seeds


def chat_request():
    seeds = {}
    for name, doc in fixture_members("converse/request/*.json", ["openai"]).items():
        req = doc["openai"]
        seeds["bedrock-" + name] = compact(req)
        if isinstance(req, dict):
            seeds["openai-" + name] = compact(dict(req, model="openai/gpt-4o-mini"))
    return seeds


def converse_request():
    return {n: compact(d["openai"])
            for n, d in fixture_members("converse/request/*.json", ["openai"]).items()}


def converse_response():
    seeds = {}
    for kind, keys in (("response", ["converse"]), ("stream", ["events", "include_usage"]),
                       ("exception", ["type", "status", "body"])):
        for n, d in fixture_members("converse/%s/*.json" % kind, keys).items():
            seeds[kind + "-" + n] = compact(d)
    return seeds


def files(pattern, name=None):
    seeds = {}
    for path in sorted(glob.glob(os.path.join(FIX, pattern))):
        data = load(path)
        if len(data) <= MAX_SEED:
            seeds[name(path) if name else name_of(path)] = data
    return seeds


def dir_name(path):
    return os.path.basename(os.path.dirname(path))


def openai_sse():
    seeds = files("bridge/openai-sse/*.sse")
    for n, d in fixture_members("converse/response/*.json", ["openai"]).items():
        seeds["completion-" + n] = compact(d["openai"])
    return seeds


def sigv4():
    seeds = files("sigv4/*/request.txt", dir_name)
    seeds.update(files("sigv4-extra/*/request.txt", dir_name))
    return seeds


def catalog_import():
    seeds = {}
    for path in sorted(glob.glob(os.path.join(FIX, "catalog", "import", "*", "*"))):
        if not path.endswith(".expected"):
            seeds[dir_name(path) + "-" + os.path.basename(path).replace(".", "-")] = load(path)
    return seeds


def uritemplate():
    pairs = [("catalog://products/{id}", "catalog://products/12"),
             ("catalog://products/{id}", "catalog://products/a%2Fb"),
             ("catalog://categories/{name}", "catalog://categories/smart%20phones"),
             ("catalog://categories/{name}", "catalog://categories/%00"),
             ("file:///{dir}/{name}.{ext}", "file:///docs/readme.md"),
             ("x://{a}{b}", "x://ab"),
             ("catalog://products/{id", "catalog://products/1")]
    return {"pair-%d" % i: ("%s\n%s" % p).encode() for i, p in enumerate(pairs)}


def cursor():
    raw = ["tools:0", "tools:50", "prompts:1", "resourceTemplates:2",
           "resources:0|catalog://products/1", "resources:1|", "tools:", "tools:-1",
           "tools:99999999999", "kind-without-colon"]
    seeds = {"mcp-%d" % i: b64(r.encode()).encode() for i, r in enumerate(raw)}
    seeds["catalog-shaped"] = b64(bytes([1]) + bytes(8) + bytes(12)).encode()
    seeds["catalog-bad-version"] = b64(bytes([2]) + bytes(20)).encode()
    seeds["not-base64"] = b"!!!!"
    return seeds


def jsonschema():
    seeds = {}
    for kind in ("valid", "invalid", "badschema"):
        for case in sorted(glob.glob(os.path.join(FIX, "jsonschema", kind, "*"))):
            data = load(os.path.join(case, "schema.json"))
            inst = os.path.join(case, "instance.json")
            if os.path.exists(inst):
                data += b"\n" + load(inst)
            if len(data) <= MAX_SEED:
                seeds[kind + "-" + os.path.basename(case)] = data
    return seeds


def patterns(node, out):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "pattern" and isinstance(v, str):
                out.add(v)
            patterns(v, out)
    elif isinstance(node, list):
        for v in node:
            patterns(v, out)


def ecmare():
    found = set()
    paths = glob.glob(os.path.join(FIX, "jsonschema", "*", "*", "schema.json"))
    paths += glob.glob(os.path.join(FIX, "mcp-schema", "*", "schema.json"))
    paths.append(os.path.join(ROOT, "schema", "config.schema.json"))
    for path in paths:
        try:
            patterns(json.loads(load(path)), found)
        except ValueError:
            pass
    found |= {"^(?:a|b)*?c$", "[\\d\\W\\s-]{2,}", "\\u00e9\\x41\\cJ", "a{,3}b{2}", "[^]a]",
              "(a)|\\(b\\)", "^\\/\\.\\*$", "[\\b]", "\\0"}
    subjects = ["abc", "ABC-1234", "user+x@example.com", "", "aaaaaaaaaaaaaaaaaaaaaa!"]
    seeds = {}
    for i, p in enumerate(sorted(found)):
        if "\n" not in p:
            seeds["pattern-%02d" % i] = ("%s\n%s" % (p, subjects[i % len(subjects)])).encode()
    return seeds


TARGETS = {
    "mcp": mcp,
    "chat_request": chat_request,
    "converse_request": converse_request,
    "converse_response": converse_response,
    "eventstream": lambda: files("eventstream/*/stream.bin", dir_name),
    "openai_sse": openai_sse,
    "sigv4": sigv4,
    "catalog_import": catalog_import,
    "uritemplate": uritemplate,
    "cursor": cursor,
    "jsonschema": jsonschema,
    "ecmare": ecmare,
}


def main():
    total = 0
    for target, make in TARGETS.items():
        folder = os.path.join(OUT, target)
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        seeds = make()
        for name, data in seeds.items():
            with open(os.path.join(folder, name), "wb") as f:
                f.write(data)
            total += len(data)
        print("%-18s %4d seeds" % (target, len(seeds)))
    print("total %d bytes" % total)


if __name__ == "__main__":
    main()
