"""/v1/responses on the default real model (SmolLM2-135M-Instruct): the answer equals the chat
completion's under greedy decoding, streamed or not (raw requests and the openai SDK), stored
responses come back from GET, previous_response_id continues the conversation, background
responses can be cancelled, and errors have the nested envelope SGLang gives this path."""
from __future__ import annotations

import json
import time

import openai
import pytest
import requests

from conftest import ROOT

MODEL = ROOT / "models" / "SmolLM2-135M-Instruct" / "SmolLM2-135M-Instruct.Q4_1.gguf"
QUESTION = "Name the capital of France."


@pytest.fixture(scope="module")
def real(launch):
    if not MODEL.is_file():
        pytest.fail(f"{MODEL} is missing: run scripts/setup.sh (scripts/fetch_model.sh)")
    return launch(str(MODEL))


@pytest.fixture(scope="module")
def client(real):
    return openai.OpenAI(base_url=real.url + "/v1", api_key="none", timeout=300)


def chat(server, messages, max_tokens):
    r = server.post("/v1/chat/completions", json={"messages": messages, "temperature": 0,
                                                  "max_tokens": max_tokens}, timeout=300)
    assert r.status_code == 200, r.text
    return r.json()["choices"][0]["message"]["content"]


def respond(server, **body):
    r = server.post("/v1/responses", json={"temperature": 0, **body}, timeout=300)
    assert r.status_code == 200, r.text
    return r.json()


def output_text(body) -> str:
    return "".join(part["text"] for item in body["output"] if item["type"] == "message"
                   for part in item["content"])


def events(response) -> list:
    """(event name, data) of a Responses SSE stream."""
    raw = b"".join(response.iter_content(chunk_size=None)).decode("utf-8")
    out = []
    for block in raw.split("\n\n"):
        if not block:
            continue
        name, data = block.split("\n", 1)
        assert name.startswith("event: ") and data.startswith("data: "), block[:80]
        out.append((name[len("event: "):], json.loads(data[len("data: "):])))
    return out


def test_answer_equals_the_chat_completion(real):
    # SGLang gives max_output_tokens - 2 new tokens ("avoid exceeding the context length").
    body = respond(real, input=QUESTION, max_output_tokens=34)
    assert body["object"] == "response" and body["status"] == "completed"
    assert body["id"].startswith("resp_")
    text = output_text(body)
    assert text == chat(real, [{"role": "user", "content": QUESTION}], 32)
    assert "Paris" in text
    [item] = body["output"]
    assert item["type"] == "message" and item["role"] == "assistant"
    assert item["status"] == "completed" and item["id"].startswith("msg_")
    assert item["content"][0]["type"] == "output_text"
    assert item["content"][0]["annotations"] == []
    usage = body["usage"]
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert usage["output_tokens_details"] == {"reasoning_tokens": 0}
    assert "cached_tokens" in usage["input_tokens_details"]
    assert body["text"] == {"format": {"type": "text"}}
    assert body["max_output_tokens"] == 34 and body["temperature"] == 0
    assert body["store"] is True and body["metadata"] == {}
    assert body["reasoning"] == {"effort": None, "summary": None}


def test_instructions_are_the_system_message(real):
    instructions = "You are a pirate. Answer like one."
    body = respond(real, input=QUESTION, instructions=instructions, max_output_tokens=26)
    assert body["instructions"] == instructions
    assert output_text(body) == chat(real, [{"role": "system", "content": instructions},
                                            {"role": "user", "content": QUESTION}], 24)


def test_input_items_are_chat_messages(real):
    items = [{"type": "message", "role": "developer", "content": "Be brief."},
             {"role": "user", "content": [{"type": "input_text", "text": QUESTION}]}]
    body = respond(real, input=items, max_output_tokens=22)
    assert output_text(body) == chat(real, [{"role": "system", "content": "Be brief."},
                                            {"role": "user", "content": QUESTION}], 20)


def test_stream_deltas_join_to_the_answer(real):
    with real.post("/v1/responses", json={"input": QUESTION, "temperature": 0,
                                          "max_output_tokens": 34, "stream": True},
                   stream=True, timeout=300) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        evs = events(r)
    names = [n for n, _ in evs]
    assert names[:4] == ["response.created", "response.in_progress",
                         "response.output_item.added", "response.content_part.added"]
    assert names[-4:] == ["response.output_text.done", "response.content_part.done",
                          "response.output_item.done", "response.completed"]
    assert [d["sequence_number"] for _, d in evs] == list(range(len(evs)))
    assert all(d["type"] == n for n, d in evs)
    deltas = [d["delta"] for n, d in evs if n == "response.output_text.delta"]
    assert len(deltas) > 1
    text = "".join(deltas)
    assert text == chat(real, [{"role": "user", "content": QUESTION}], 32)
    item_id = evs[2][1]["item"]["id"]
    assert all(d["item_id"] == item_id for n, d in evs if n == "response.output_text.delta")
    assert evs[0][1]["response"]["status"] == "in_progress"
    assert evs[0][1]["response"]["output"] == []
    final = evs[-1][1]["response"]
    assert final["status"] == "completed" and output_text(final) == text
    assert final["output"][0]["id"] == item_id
    assert final["usage"]["output_tokens"] > 0
    # Stored: GET gives the completed response.
    got = real.get(f"/v1/responses/{final['id']}").json()
    assert got == final


def test_get_returns_the_stored_response(real):
    body = respond(real, input=QUESTION, max_output_tokens=10)
    r = real.get(f"/v1/responses/{body['id']}")
    assert r.status_code == 200
    assert r.json() == body


def test_store_false_is_not_kept(real):
    body = respond(real, input=QUESTION, max_output_tokens=6, store=False)
    r = real.get(f"/v1/responses/{body['id']}")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == 404


def test_previous_response_id_continues_the_conversation(real):
    first = respond(real, input="My name is Tom.", max_output_tokens=22)
    second = respond(real, input="What is my name?", max_output_tokens=22,
                     previous_response_id=first["id"])
    assert second["previous_response_id"] == first["id"]
    expected = chat(real, [{"role": "user", "content": "My name is Tom."},
                           {"role": "assistant", "content": output_text(first)},
                           {"role": "user", "content": "What is my name?"}], 20)
    assert output_text(second) == expected
    # Its own conversation is stored in turn: a third turn sees both.
    third = respond(real, input="Thanks.", max_output_tokens=12, previous_response_id=second["id"])
    expected = chat(real, [{"role": "user", "content": "My name is Tom."},
                           {"role": "assistant", "content": output_text(first)},
                           {"role": "user", "content": "What is my name?"},
                           {"role": "assistant", "content": output_text(second)},
                           {"role": "user", "content": "Thanks."}], 10)
    assert output_text(third) == expected


def test_background_response_runs_and_is_stored(real):
    queued = respond(real, input=QUESTION, max_output_tokens=12, background=True)
    assert queued["status"] == "queued" and queued["output"] == []
    deadline = time.time() + 120
    while True:
        got = real.get(f"/v1/responses/{queued['id']}").json()
        if got["status"] == "completed" or time.time() > deadline:
            break
        time.sleep(0.1)
    assert got["status"] == "completed"
    assert output_text(got) == chat(real, [{"role": "user", "content": QUESTION}], 10)


def test_cancel_a_background_response(real):
    queued = respond(real, input="Write a very long story about dragons.",
                     max_output_tokens=4000, background=True, temperature=0.8)
    r = real.post(f"/v1/responses/{queued['id']}/cancel")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"
    time.sleep(0.5)
    assert real.get(f"/v1/responses/{queued['id']}").json()["status"] == "cancelled"
    # A finished one cannot be cancelled.
    again = real.post(f"/v1/responses/{queued['id']}/cancel")
    assert again.status_code == 400
    assert again.json() == {"error": {"message": "Cannot cancel a synchronous response.",
                                      "type": "invalid_request_error", "param": None,
                                      "code": 400}}


def test_cancel_a_streaming_response(real):
    with real.post("/v1/responses", json={"input": "Write a very long story about dragons.",
                                          "max_output_tokens": 4000, "stream": True},
                   stream=True, timeout=300) as r:
        lines = r.iter_lines()
        first = json.loads(next(x for x in lines if x.startswith(b"data: "))[6:])
        rid = first["response"]["id"]
        c = real.post(f"/v1/responses/{rid}/cancel")
        assert c.status_code == 200, c.text
        rest = b"\n".join(lines).decode()
    final = json.loads(rest.rsplit("data: ", 1)[1])
    assert final["type"] == "response.completed"
    assert final["response"]["status"] == "cancelled"
    assert final["response"]["usage"]["output_tokens"] < 3998


def test_openai_sdk(client, real):
    resp = client.responses.create(model="default", input=QUESTION, temperature=0,
                                   max_output_tokens=34)
    assert resp.status == "completed"
    expected = chat(real, [{"role": "user", "content": QUESTION}], 32)
    assert resp.output_text == expected
    assert resp.usage.output_tokens > 0
    assert client.responses.retrieve(resp.id).output_text == expected
    stream = client.responses.create(model="default", input=QUESTION, temperature=0,
                                     max_output_tokens=34, stream=True)
    deltas, completed = [], None
    for ev in stream:
        if ev.type == "response.output_text.delta":
            deltas.append(ev.delta)
        elif ev.type == "response.completed":
            completed = ev.response
    assert "".join(deltas) == expected
    assert completed is not None and completed.output_text == expected
    follow = client.responses.create(model="default", input="And of Germany?", temperature=0,
                                     max_output_tokens=22, previous_response_id=resp.id)
    assert follow.output_text == chat(real, [{"role": "user", "content": QUESTION},
                                             {"role": "assistant", "content": expected},
                                             {"role": "user", "content": "And of Germany?"}], 20)
    with pytest.raises(openai.NotFoundError) as e:
        client.responses.retrieve("resp_missing")
    assert e.value.body["message"] == "Response with id 'resp_missing' not found."


def nested(r, status, type_, message=None, param=None):
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(r.json()) == {"error"}
    assert list(err) == ["message", "type", "param", "code"]
    assert err["type"] == type_ and err["code"] == status and err["param"] == param
    if message is not None:
        assert err["message"] == message, err["message"]
    return err


def test_errors(real):
    post = lambda body: real.post("/v1/responses", json=body)  # noqa: E731
    nested(post({}), 400, "Bad Request", "Field required: input")
    nested(post({"input": 3}), 400, "Bad Request")
    nested(post({"input": "x", "tool_choice": "maybe"}), 400, "Bad Request",
           "Input should be 'auto', 'required' or 'none': tool_choice")
    nested(post({"input": "x", "max_output_tokens": "many"}), 400, "Bad Request")
    nested(post({"input": [{"role": "user", "content": [{"type": "input_image"}]}]}), 400,
           "Bad Request")
    nested(real.post("/v1/responses", data='{"input": "x"}'), 400, "Bad Request",
           "Unsupported Media Type: Only 'application/json' is allowed")
    nested(real.post("/v1/responses", data="{", headers={"content-type": "application/json"}),
           400, "Bad Request", "JSON decode error")
    for tool in ("web_search_preview", "code_interpreter", "mcp"):
        err = nested(post({"input": "x", "tools": [{"type": tool}]}), 400,
                     "invalid_request_error", param="tools")
        assert "not supported" in err["message"] and tool in err["message"]
    nested(post({"input": "x", "previous_response_id": "abc"}), 400, "invalid_request_error",
           "Invalid 'response_id': 'abc'. Expected an ID that begins with 'resp'.", "response_id")
    nested(post({"input": "x", "previous_response_id": "resp_0"}), 404, "invalid_request_error",
           "Response with id 'resp_0' not found.", "response_id")
    nested(real.get("/v1/responses/abc"), 400, "invalid_request_error", param="response_id")
    nested(real.get("/v1/responses/resp_0"), 404, "invalid_request_error", param="response_id")
    nested(real.post("/v1/responses/resp_0/cancel"), 404, "invalid_request_error",
           param="response_id")
    assert real.post("/v1/responses/resp_0").status_code == 405
    assert real.get("/v1/responses/resp_0/cancel").status_code == 405
    nested(post({"input": "x", "tool_choice": "required"}), 400, "invalid_request_error",
           "Tools cannot be empty if tool choice is set to required.")
