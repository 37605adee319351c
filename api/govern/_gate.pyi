"""Types of api/govern/_gate.c (the limits ledger's lock and a client's admit and settle, in C)."""

import mmap

ROBUST: int
RPM_CLOCK: int
TPM_CLOCK: int
PERIOD: int
SPENT: int
UNPRICED: int
IN_FLIGHT: int
ADMITTED: int
BUDGET: int
CONCURRENT: int
TPM: int
RPM: int
OUT_OF_PERIOD: int
UNPRICED_ANSWER: int
RECOVERED: int

class Lock:
    def __init__(self, memory: mmap.mmap, at: int, fd: int, robust: bool) -> None: ...
    def take(self) -> int: ...
    def release(self) -> None: ...
    def close(self) -> None: ...

class Gate:
    def __init__(self, lock: Lock, values_at: int, seat_at: int, rpm: int, tpm: int, max_concurrent: int,
                 budget: float | None, budget_in_tokens: bool) -> None: ...
    def admit(self, now: float, /) -> int: ...
    def settle(self, now: float, tokens: int, cost: float | None, /) -> int: ...
    def enter_period(self, starts: float, ends: float, /) -> int: ...
    def values(self) -> list[float]: ...

def initialise_mutex(memory: mmap.mmap, at: int, /) -> None: ...
