"""An input for a secret: masked until revealed."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import Input


class SecretInput(Input):
    """Shows dots instead of the secret; ctrl+r reveals it (and hides it again)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+r", "reveal", "Show/hide secret")]

    def __init__(self, value: str = "", **kwargs) -> None:
        super().__init__(value, password=True, compact=True, select_on_focus=False, **kwargs)

    def action_reveal(self) -> None:
        self.password = not self.password
