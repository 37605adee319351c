"""One request run on a loaded GGUF model in a worker thread, answered as the bytes an OpenAI upstream sends.

`Job.parse` checks an OpenAI chat or completions body and keeps what llama.cpp uses. `generate`
runs in its own thread with an instance lent by the pool: it formats and tokenizes the prompt,
samples token by token (checking the cancel flag before each), holds back text that may be the
start of a stop sequence, and hands each SSE event (or the whole JSON body) to `emit`. Streaming
and non-streaming answers come from the same loop, so their usage counts agree.
"""

from __future__ import annotations

import codecs
import random
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from api.local.tools import (
    CALL_CLOSE,
    CALL_TAG,
    Tools,
    invalid,
    output_grammar,
    read_calls,
    render,
    repeats_itself,
    response_format,
)
from api.wire.errors import ApiError
from api.wire.usage import asks_for_usage

TRANSCRIPT_TEMPLATE = (
    "{% for message in messages %}{{ message.role | capitalize }}: {{ message.content }}\n\n{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}"
)
"""The chat template used when a GGUF file has none and the config gives no `chat_template`: a plain
transcript ("User: ...", "Assistant:"), which base models (the usual files without a template) continue
best. The answer stops where the model starts another turn: at "User:" or "Assistant:", at an echoed
`<tool_response>` line, and at any other speaker's line (`speaker_at`)."""
TRANSCRIPT_STOPS = ["\nUser:", "\nAssistant:", "\n<tool_response>"]

SPEAKER_NAME_MAX = 20
"""The longest name of a speaker (`speaker_at`), in characters."""
_SPEAKER = re.compile(r"\n([A-Z][A-Za-z0-9_'-]*(?: [A-Z][A-Za-z0-9_'-]*)?):(?=[ \t\n]|\Z)")
_SPEAKER_START = re.compile(r"\n(?:[A-Z][A-Za-z0-9_'-]*(?: (?:[A-Z][A-Za-z0-9_'-]*)?)?:?)?")
NOT_SPEAKERS = frozenset((
    "Note", "Notes", "Example", "Examples", "Answer", "Answers", "Step", "Steps", "Warning", "Caution", "Tip",
    "Tips", "Hint", "Important", "Output", "Input", "Result", "Results", "Summary", "Solution", "Explanation",
    "Reason", "Reasoning", "Source", "Sources", "Reference", "References", "Definition", "Conclusion", "Question",
    "Questions", "Problem", "Task", "Goal", "Pros", "Cons", "Advantages", "Disadvantages", "Benefits", "Features",
    "Options", "Option", "Usage", "Syntax", "Code", "Error", "Errors", "Fix", "Update", "Edit", "Title", "Subject",
    "Date", "Time", "Name", "Total", "Price", "Cost", "Status", "Type", "Final", "Key", "Ingredients",
    "Instructions", "Method", "Methods", "Data", "Table", "Figure", "Chapter", "Section", "Part", "Point", "Rule",
    "Case", "Scenario", "Context", "Background", "Overview", "Introduction", "Details", "Description", "Translation",
    "Meaning", "Recommendation", "Recommendations", "Requirements", "Prerequisites", "Q", "A", "TL", "PS", "NB",
    "Yes", "No", "Also", "However", "Therefore", "Thus", "So", "But", "And", "Or", "Then", "Now", "First", "Second",
    "Third", "Next", "Finally", "Lastly", "Here", "There", "This", "That", "These", "It", "Why", "How", "What",
    "When", "Where", "Who", "Which", "Remember", "Bonus", "Caveat", "Disclaimer", "Hello", "Hi", "Dear",
))
"""Capitalised words that begin ordinary lines ending in ':' ("Note:", "Step Two:", "However:"): a line that
starts with one is not a speaker's."""

SAMPLING = {  # OpenAI (or llama.cpp) field → (llama-cpp-python generate() argument, minimum, maximum, default)
    "temperature": ("temp", 0.0, 2.0, 0.8),
    "top_p": ("top_p", 0.0, 1.0, 0.95),
    "top_k": ("top_k", 0, 1_000_000, 40),
    "min_p": ("min_p", 0.0, 1.0, 0.05),
    "repeat_penalty": ("repeat_penalty", 0.0, 10.0, 1.0),
    "presence_penalty": ("presence_penalty", -2.0, 2.0, 0.0),
    "frequency_penalty": ("frequency_penalty", -2.0, 2.0, 0.0),
}
UNSUPPORTED = ("functions", "logprobs", "audio")
"""Fields a local model cannot honour: a request setting them gets 400 rather than a silently different answer."""
CHAT_ONLY = ("tools", "response_format")
"""Fields of chat requests that legacy completions do not take."""

STARTED = object()
"""Emitted once the prompt is accepted (formatted, tokenized, within the context window)."""

PROMPT_BATCH = 512
"""Prompt tokens evaluated at a time (llama.cpp's n_batch); the cancel flag is checked between batches.
Measured in docs/perf.md: smaller batches evaluate long prompts more slowly on a CPU."""


@dataclass(frozen=True, slots=True)
class Progress:
    """Emitted while a prompt is evaluated: `processed` of its `total` tokens are in the model's cache
    (a prefix kept from the instance's previous job counts as processed)."""

    processed: int
    total: int

    @property
    def done(self) -> bool:
        return self.processed >= self.total


class Cancelled(Exception):
    """The client left; the generation stopped."""


def _number(body: dict, key: str, minimum: float, maximum: float, integer: bool = False):
    value = body.get(key)
    if value is None:
        return None
    kinds = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not minimum <= value <= maximum:
        kind = "an integer" if integer else "a number"
        raise invalid(f"'{key}' must be {kind} between {minimum:g} and {maximum:g}.", key)
    return value


def _text(content: object, param: str) -> str:
    if isinstance(content, str):
        return content
    if content is None:
        return ""
    if isinstance(content, list) and all(isinstance(part, dict) for part in content):
        texts = [part.get("text") for part in content if part.get("type") in ("text", "input_text")]
        if len(texts) == len(content) and all(isinstance(text, str) for text in texts):
            return "\n".join(texts)
    raise invalid("Local models take text only: content must be a string or a list of text parts.", param)


@dataclass(slots=True)
class Job:
    """What one request asks of a local model."""

    endpoint: str
    """"chat" or "completions"."""
    model: str
    stream: bool
    include_usage: bool
    messages: list[dict] | None
    prompt: str | None
    max_tokens: int | None
    stop: list[str]
    seed: int | None
    sampling: dict = field(default_factory=dict)
    tools: Tools | None = None
    response_format: dict | None = None
    """A JSON `response_format`, made a grammar in the generation thread."""

    @classmethod
    def parse(cls, endpoint: str, body: dict) -> Job:
        for key in UNSUPPORTED + (CHAT_ONLY if endpoint == "completions" else ()):
            if body.get(key):
                raise invalid(f"Local models do not support '{key}'.", key)
        if body.get("n", 1) != 1:
            raise invalid("Local models give one choice per request: 'n' must be 1.", "n")
        stop = body.get("stop")
        stop = [stop] if isinstance(stop, str) else stop or []
        if not isinstance(stop, list) or not all(isinstance(item, str) and item for item in stop):
            raise invalid("'stop' must be a string or a list of non-empty strings.", "stop")
        key = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
        messages = prompt = None
        if endpoint == "chat":
            messages = []
            for index, message in enumerate(body["messages"]):
                if not isinstance(message, dict) or not isinstance(message.get("role"), str):
                    raise invalid("Each message needs a 'role'.", f"messages[{index}]")
                messages.append(_message(message, index))
        else:
            prompt = body["prompt"]
            if isinstance(prompt, list):
                if len(prompt) != 1 or not isinstance(prompt[0], str):
                    raise invalid("Local models take one prompt string per request.", "prompt")
                prompt = prompt[0]
        tools = Tools.parse(body) if endpoint == "chat" else None
        fmt = response_format(body) if endpoint == "chat" else None
        if tools and fmt:
            raise invalid("Local models take either tools or a JSON response_format, not both.", "response_format")
        return cls(
            endpoint=endpoint, model=body["model"], stream=body.get("stream") is True,
            include_usage=asks_for_usage(body),
            messages=messages, prompt=prompt,
            max_tokens=_number(body, key, 1, 1 << 31, integer=True),
            stop=stop, seed=_number(body, "seed", -(1 << 63), (1 << 64) - 1, integer=True),
            sampling={argument: default if (value := _number(body, name, low, high)) is None else value
                      for name, (argument, low, high, default) in SAMPLING.items()},
            tools=tools, response_format=fmt,
        )


def _message(message: dict, index: int) -> dict:
    """A chat message as the template is given it: role, text, and a call's or a result's ids."""
    role = "system" if message["role"] == "developer" else message["role"]
    kept = {"role": role, "content": _text(message.get("content"), f"messages[{index}].content")}
    if role == "tool":
        kept["tool_call_id"] = message.get("tool_call_id")
    calls = message.get("tool_calls") if role == "assistant" else None
    if calls:
        if not isinstance(calls, list) or not all(
                isinstance(call, dict) and isinstance(call.get("function"), dict)
                and isinstance(call["function"].get("name"), str) for call in calls):
            raise invalid("Each tool call needs a 'function' with a 'name'.", f"messages[{index}].tool_calls")
        kept["tool_calls"] = [{"id": call.get("id"), "type": "function",
                               "function": {"name": call["function"]["name"],
                                            "arguments": call["function"].get("arguments") or "{}"}}
                              for call in calls]
    return kept


class Loaded:
    """A llama.cpp model instance with its chat formatter; lent to one generation at a time."""

    def __init__(self, llm, chat_template: str | None) -> None:
        import llama_cpp
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.llm = llm
        template = chat_template or llm.metadata.get("tokenizer.chat_template")
        self.transcript = not template
        self.extra_stop = TRANSCRIPT_STOPS if self.transcript else []

        def text(token: int) -> str:
            return llm.detokenize([token], special=True).decode("utf-8", "replace") if token >= 0 else ""
        self.native_tools = bool(template) and CALL_TAG in template
        """The template writes tools and calls in the Hermes format itself (see api/local/tools.py)."""
        self.formatter = Jinja2ChatFormatter(template=template or TRANSCRIPT_TEMPLATE, eos_token=text(llm.token_eos()),
                                             bos_token=text(llm.token_bos()), stop_token_ids=[llm.token_eos()])
        vocab = llama_cpp.llama_model_get_vocab(llm.model)
        self.is_end = lambda token: llama_cpp.llama_vocab_is_eog(vocab, token)

    def close(self) -> None:
        self.llm.close()

    def prompt_tokens(self, job: Job) -> tuple[list[int], list[str]]:
        """The tokens of the prompt and the stop sequences (the request's and the template's)."""
        if job.messages is None:
            assert job.prompt is not None  # a legacy completion: a prompt instead of messages
            return self.llm.tokenize(job.prompt.encode("utf-8"), add_bos=True, special=False), job.stop
        messages, tools = render(job.messages, job.tools, self.native_tools)
        # (plain dicts, of the shapes llama-cpp-python's TypedDicts describe)
        try:
            formatted = self.formatter(messages=messages, tools=tools)  # type: ignore[arg-type]
        except Exception as exc:  # the template's own checks (raise_exception), e.g. roles out of order
            raise invalid(f"The model's chat template rejected the messages: {exc}", "messages") from None
        # The model's own start token (BOS) goes first whether or not the template writes it: without it a
        # model such as Gemma answers gibberish. A template that writes `bos_token` must not get a second one.
        tokens = self.llm.tokenize(formatted.prompt.encode("utf-8"), add_bos=True, special=True)
        if len(tokens) > 1 and tokens[0] == tokens[1] == self.llm.token_bos():
            del tokens[0]
        return tokens, job.stop + self.extra_stop


def speaker_at(text: str, start: int = 0) -> int | None:
    """Where a new speaker's line begins in `text` (at its line break), searching from `start`: a line that
    starts with a short name (one or two capitalised words, at most SPEAKER_NAME_MAX characters, the first
    not an ordinary word such as "Note" or "Step", see NOT_SPEAKERS) followed by ':' and a space, a line break
    or the end of the text ("\nStudent: ...", "\nTeacher A:"). A base model continuing a transcript writes
    such lines when it answers past its turn."""
    for found in _SPEAKER.finditer(text, start):
        name = found.group(1)
        if len(name) <= SPEAKER_NAME_MAX and name.split(" ", 1)[0] not in NOT_SPEAKERS:
            return found.start()
    return None


def _speaker_held(text: str) -> int:
    """How many characters at the end of `text` could be the start of a speaker's line."""
    at = text.rfind("\n", max(len(text) - SPEAKER_NAME_MAX - 2, 0))
    return len(text) - at if at >= 0 and _SPEAKER_START.fullmatch(text, at) else 0


def _held_back(text: str, stops: list[str]) -> int:
    """How many characters at the end of `text` could be the start of a stop sequence."""
    longest = 0
    for stop in stops:
        for size in range(min(len(stop) - 1, len(text)), longest, -1):
            if text.endswith(stop[:size]):
                longest = size
                break
    return longest


class _Writer:
    """The answer's bytes in OpenAI's shapes, for chat or completions, streamed or whole."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.chat = job.endpoint == "chat"
        self.id = ("chatcmpl-" if self.chat else "cmpl-") + uuid.uuid4().hex
        self.created = int(time.time())
        self.object = "chat.completion" if self.chat else "text_completion"

    def _frame(self, choices: list, **extra) -> bytes:
        event = {"id": self.id, "object": self.object + (".chunk" if self.chat else ""), "created": self.created,
                 "model": self.job.model, "choices": choices, **extra}
        if self.job.include_usage:
            event.setdefault("usage", None)
        return b"data: " + orjson.dumps(event) + b"\n\n"

    def _choice(self, text: str | None, finish: str | None, first: bool = False) -> dict:
        if not self.chat:
            return {"text": text or "", "index": 0, "logprobs": None, "finish_reason": finish}
        delta = {"role": "assistant", "content": ""} if first else {} if text is None else {"content": text}
        return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}

    def start(self) -> bytes:
        return self._frame([self._choice(None, None, first=True)]) if self.chat else b""

    def piece(self, text: str) -> bytes:
        return self._frame([self._choice(text, None)])

    def end(self, finish: str, usage: dict) -> bytes:
        tail = self._frame([self._choice(None, finish)])
        if self.job.include_usage:
            tail += self._frame([], usage=usage)
        return tail + b"data: [DONE]\n\n"

    def calls(self, calls: list[dict]) -> bytes:
        if not calls:
            return b""
        delta = {"tool_calls": [{"index": index, **call} for index, call in enumerate(calls)]}
        return self._frame([{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}])

    def whole(self, text: str, finish: str, usage: dict, calls: list[dict]) -> bytes:
        message = {"role": "assistant", "content": text or None, "tool_calls": calls} if calls else \
            {"role": "assistant", "content": text}
        choice = ({"index": 0, "message": message, "logprobs": None, "finish_reason": finish} if self.chat
                  else self._choice(text, finish))
        return orjson.dumps({"id": self.id, "object": self.object, "created": self.created, "model": self.job.model,
                             "choices": [choice], "usage": usage})


def prefill(llm, tokens: list[int], cancelled: threading.Event, emit: Callable[[object], None],
            batch: int = PROMPT_BATCH) -> bool:
    """Evaluate a long prompt's `tokens` in batches of `batch`, checking `cancelled` between them (raising
    `Cancelled`) and emitting `Progress`, until at most one batch is left: `llm.generate(tokens)` then finds the
    rest of the prompt in the cache and evaluates that last batch (at least the last token) itself, so the
    prompt is evaluated in the same batches as by `generate` alone. The prefix the instance's previous job left
    in the cache is kept (as `generate` would keep it): only the tokens after it are evaluated, the cache beyond
    it removed first (`Llama.eval` does). True when progress was emitted (the prompt needed more than a batch)."""
    kept = 0
    for cached, token in zip(llm.input_ids[:min(llm.n_tokens, len(tokens) - 1)].tolist(), tokens, strict=False):
        if cached != token:
            break
        kept += 1
    if kept < llm.n_tokens and not llm._ctx.kv_cache_seq_rm(-1, kept, -1):  # a recurrent model: all or nothing
        llm.reset()
        kept = 0
    llm.n_tokens = kept
    total = len(tokens)
    if total - kept <= batch:
        return False
    emit(Progress(kept, total))
    while total - llm.n_tokens > batch:
        if cancelled.is_set():
            raise Cancelled
        llm.eval(tokens[llm.n_tokens:llm.n_tokens + batch])
        emit(Progress(llm.n_tokens, total))
    return True


def _sampled(loaded: Loaded, job: Job, tokens: list[int], grammar: str | None, cancelled: threading.Event,
             emit: Callable[[object], None]):
    """The tokens the model samples after `tokens` (held to `grammar`, if any), until it ends its turn."""
    from llama_cpp.llama_grammar import LlamaGrammar

    held = LlamaGrammar.from_string(grammar, verbose=False) if grammar else None
    reporting = prefill(loaded.llm, tokens, cancelled, emit)
    for token in loaded.llm.generate(tokens, grammar=held, **job.sampling):
        if reporting:  # the prompt's last batch is evaluated too
            emit(Progress(len(tokens), len(tokens)))
            reporting = False
        if cancelled.is_set():
            raise Cancelled
        if loaded.is_end(token):
            return
        yield token


def _calls(loaded: Loaded, job: Job, tokens: list[int], grammar: str, limit: int,
           cancelled: threading.Event, emit: Callable[[object], None]) -> tuple[list[dict], int, bool]:
    """The tool calls the grammar holds the model to after `tokens`, the tokens they took, and whether
    `limit` cut them short (the calls made whole before it are kept). A call that repeats one before it
    ends the answer."""
    decoder, text, produced = codecs.getincrementaldecoder("utf-8")("replace"), "", 0
    for token in _sampled(loaded, job, tokens, grammar, cancelled, emit):
        produced += 1
        text += decoder.decode(loaded.llm.detokenize([token]))
        if text.endswith(CALL_CLOSE) and repeats_itself(text):
            break
        if produced >= limit:
            return read_calls(text), produced, True
    return read_calls(text + decoder.decode(b"", final=True)), produced, False


def generate(loaded: Loaded, job: Job, cancelled: threading.Event, emit: Callable[[object], None]) -> dict | None:
    """Run `job` (in a thread of its own): emit STARTED, then bytes, then None, and return the usage; or emit an
    exception instead (and return None).

    The answer is text (held to the `response_format`'s grammar, if any), tool calls held to the
    tools' grammar (`tool_choice` "required" or named), or, with "auto", text that may end where the
    model begins calling (see api/local/tools.py)."""
    llm = loaded.llm
    n_ctx = llm.n_ctx()
    try:
        tokens, stops = loaded.prompt_tokens(job)
        if len(tokens) >= n_ctx:
            raise ApiError(400, f"The prompt is {len(tokens)} tokens; the model's context window is {n_ctx} "
                                "(n_ctx) and must also hold the answer.", param="messages",
                           code="context_length_exceeded")
        tools = job.tools
        text_grammar = output_grammar(job.response_format) if job.response_format else None  # a 400 before the answer
        if tools and not tools.forced:
            stops = [*stops, CALL_TAG]
        emit(STARTED)
        limit = min(job.max_tokens or n_ctx, n_ctx - len(tokens))
        writer, decoder = _Writer(job), codecs.getincrementaldecoder("utf-8")("replace")
        text, sent, generated, finish, hits = "", 0, [], "length", []
        calling = tools is not None and tools.forced
        trim = speakers = loaded.transcript and job.messages is not None  # the space after "Assistant:" is not
        # the answer's; the answer ends at another speaker's line
        if job.stream and (start := writer.start()):
            emit(start)
        llm.set_seed(job.seed & 0xFFFFFFFF if job.seed is not None else random.getrandbits(32))
        for token in () if calling else _sampled(loaded, job, tokens, text_grammar, cancelled, emit):
            generated.append(token)
            before = len(text)
            text += decoder.decode(llm.detokenize([token]))
            if trim and not before:
                text = text.lstrip()
            hits = [(found, stop) for stop in stops if (found := text.find(stop, max(before - len(stop) + 1, 0))) >= 0]
            if speakers and (speaker := speaker_at(text, max(before - SPEAKER_NAME_MAX - 3, 0))) is not None:
                hits.append((speaker, text[speaker:]))
            if hits:
                at, stop = min(hits)
                text, finish, calling = text[:at], "stop", stop == CALL_TAG and tools is not None
                break
            if len(generated) >= limit:
                break
            shown = text.rstrip() if text_grammar else text
            ready = len(shown) - max(_held_back(shown, stops), _speaker_held(shown) if speakers else 0)
            if job.stream and ready > sent:
                emit(writer.piece(text[sent:ready]))
                sent = ready
        else:  # the model ended its turn (or, a call being the whole answer, wrote no text)
            finish = "stop"
        if not hits:
            text += decoder.decode(b"", final=True)
        if text_grammar:  # the grammar lets JSON end in a space or a line break
            text = text.rstrip()
        produced = len(generated)
        calls: list[dict] = []
        if calling:
            assert tools is not None  # a call begins only where tools were given
            calls, used, cut = (_calls(loaded, job, tokens + generated, tools.grammar(), limit - produced, cancelled,
                                       emit)
                                if produced < limit else ([], 0, True))
            produced += used
            finish = "length" if cut else "tool_calls"
        usage = {"prompt_tokens": len(tokens), "completion_tokens": produced,
                 "total_tokens": len(tokens) + produced}
        if job.stream:
            emit((writer.piece(text[sent:]) if len(text) > sent else b"") + writer.calls(calls)
                 + writer.end(finish, usage))
        else:
            emit(writer.whole(text, finish, usage, calls))
        emit(None)
        return usage
    except BaseException as exc:
        emit(exc)
        return None
