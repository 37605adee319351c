"""Tab 1, Configuration: the config file's tables as a list on the left and a form on the right.

Edits go into a tomlkit document (comments, order and unknown keys survive) and are validated
as they are typed, each problem shown under its field. ctrl+s saves by atomic replace; the
server hot-reloads the file and the supervisor restarts it for the keys that need it. Attached
to a server started elsewhere, the tab shows that server's config (secrets redacted), read-only.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import DataTable, Static, Tree
from textual.widgets.data_table import RowKey

from api.config.settings import ROUTE_PREFIX, ConfigError
from tui import config_fields
from tui.admin_client import AdminError
from tui.config_document import ConfigDocument, SaveConflict
from tui.messages import ConfigSaved, ThemeSaved
from tui.screens import AskScreen, ConfirmScreen
from tui.session import Edited, Session, read_only_note
from tui.themes import DEFAULT_THEME
from tui.widgets.form import Field, Form

TEST_TIMEOUT_S = 30.0
"""How long `t` (test a provider) waits for the gateway: longer than model discovery's own limits (5 s to
connect, 10 s for the list), so that the gateway's answer, naming the limit that fired, comes first."""
LISTS = {"providers": "provider", "prompts": "prompt", "clients": "client", "routes": "route"}
"""Sections holding named tables, and what one of them is called."""
NEW_ENTRY: dict[str, dict[str, object]] = {
    "providers": {"type": "openai", "base_url": "https://api.openai.com/v1", "api_key_env": "OPENAI_API_KEY"},
    "prompts": {"text": "You are a helpful assistant."},
    "clients": {"temperature": 1.0},
    "routes": {"targets": []},
}
"""What a new provider, prompt, client or route starts with (valid as it is, but for a route, whose targets are
to be named); a new client takes the `server` client's model instead when it has one, a new route that model as
its first target."""


def _some(names: list[str], shown: int = 8) -> str:
    """The first `shown` names, and how many more there are."""
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


class ConfigTab(Horizontal):
    # a, d, e and t are on the tab's own line of keys, so the footer keeps room for ? and q
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save"),
        Binding("ctrl+z", "revert", "Drop edits"),
        Binding("a", "add", "Add", show=False),
        Binding("d", "delete", "Delete", show=False),
        Binding("e", "rename", "Rename", show=False),
        Binding("t", "test_provider", "Test provider", show=False),
    ]

    def __init__(self, session: Session) -> None:
        super().__init__(id="config-tab")
        self.session = session
        self.document: ConfigDocument | None = None
        self.remote: dict = {}
        """Attached: the server's effective config (secrets redacted)."""
        self.dirty = False
        self.selected: tuple[str, str | None] = ("server", None)
        self.unreachable: dict[RowKey, tuple[str, str]] = {}
        """Models (all): the provider (its id and error) of each row whose provider is not reachable."""

    def check_action(self, action: str, parameters: tuple) -> bool:
        """Attached, the configuration is read-only: save and drop edits do nothing, so they are off and
        gone from the footer (add, delete, rename still say why they refuse)."""
        return not (self.session.read_only and action in ("save", "revert"))

    def compose(self) -> ComposeResult:
        yield Tree("config", id="config-nav")
        with Vertical(id="config-pane"):
            yield Static(id="config-title")
            yield Static(id="config-message", markup=False)
            yield Vertical(id="config-form")
            yield Static(id="config-footer")

    async def on_mount(self) -> None:
        nav = self.query_one("#config-nav", Tree)
        nav.show_root = False
        nav.guide_depth = 2
        nav.auto_expand = False  # enter goes into a form; space folds a branch
        await self.load()

    # --- what is shown --------------------------------------------------------------------

    async def load(self) -> None:
        """Read the config (the file, or the attached server's) and show it."""
        if self.session.config is None:
            try:
                self.remote = await self.session.admin.get("/admin/config")
            except AdminError as error:
                await self._unreadable(f"Cannot read the server's config: {error}")
                return
        else:
            try:
                self.document = self.session.config.load()
            except ConfigError as error:
                await self._unreadable(str(error))
                return
        self.dirty = False
        cursor = self.query_one("#config-nav", Tree).cursor_node
        if cursor is not None and cursor.data is not None:  # moved to, its highlight not handled yet
            self.selected = cursor.data
        await self._fill_nav()
        await self.show(*self.selected)

    async def _unreadable(self, problem: str) -> None:
        """Only the problem: no list or form of a config that cannot be read (any more), which
        would be edited in vain; `file_changed` shows the file again once it is fixed."""
        self.document, self.remote = None, {}
        self.query_one("#config-nav", Tree).clear()
        await self.query_one("#config-form", Vertical).remove_children()
        self._title("The configuration cannot be read")
        self._message(problem, "error")
        self._footer()

    def _names(self, section: str) -> list[str]:
        if self.document is not None:
            return self.document.names(section)
        return list(self.remote.get(section) or {})

    def _values(self, path: str) -> dict:
        if self.document is not None:
            return dict(self.document.get(path) or {})
        node = self.remote
        for part in path.split("."):
            node = node or {}
            if node.get(part) is None and isinstance(node.get("local"), dict):  # the server nests a local
                node = node["local"]                                     # provider's own keys in `local`
            node = node.get(part) or {}
        values = dict(node)
        local = values.pop("local", None)
        return {**values, **local} if isinstance(local, dict) else values

    async def _fill_nav(self) -> None:
        nav = self.query_one("#config-nav", Tree)
        nav.clear()
        nav.root.add_leaf("Server", data=("server", None))
        for section in LISTS:
            branch = nav.root.add(section.capitalize(), data=(section, None), expand=True)
            for name in self._names(section):
                models = self._local_models(name) if section == "providers" else None
                if models is None:
                    branch.add_leaf(Text(name), data=(section, name))
                    continue
                provider = branch.add(Text(name), data=(section, name), expand=True)
                for model in models:
                    provider.add_leaf(Text(model), data=(section, f"{name}.models.{model}"))
        nav.root.add_leaf("Activity", data=("activity", None))
        nav.root.add_leaf("Terminal UI", data=("tui", None))
        nav.root.add_leaf("Models (all)", data=("models", None))
        self._select_in_nav()

    def _select_in_nav(self) -> None:
        """Put the cursor on what is shown; an entry gone from the file gives way to Server."""
        nav = self.query_one("#config-nav", Tree)
        for line in range(nav.last_line + 1):
            node = nav.get_node_at_line(line)
            if node is not None and node.data == self.selected:
                nav.move_cursor(node)
                return
        self.selected = ("server", None)
        nav.move_cursor(nav.get_node_at_line(0))

    def _local_models(self, provider: str) -> list[str] | None:
        """The model tables of a llamacpp provider; None for the other types."""
        values = self._values(f"providers.{provider}")
        if values.get("type") != "llamacpp":
            return None
        return list(values.get("models") or {})

    def _fields(self, section: str, name: str | None = None) -> tuple[Field, ...]:
        if section == "providers" and name is not None:
            if ".models." in name:
                return config_fields.LOCAL_MODEL
            if self._local_models(name) is not None:
                return config_fields.LOCAL_PROVIDER
        if section == "clients":
            return config_fields.client_fields(self._names("prompts"))
        if section == "tui":
            return config_fields.tui_fields(sorted(self.app.available_themes))
        return {"server": config_fields.SERVER, "providers": config_fields.PROVIDER,
                "prompts": config_fields.PROMPT, "routes": config_fields.ROUTE,
                "activity": config_fields.ACTIVITY}[section]

    async def show(self, section: str, name: str | None) -> None:
        """Show the form (or list) for a section or one of its entries."""
        self.selected = (section, name)
        pane = self.query_one("#config-form", Vertical)
        await pane.remove_children()
        self._message("")
        if section == "models":
            self._title("Models the gateway serves")
            await pane.mount(DataTable(id="models-table", cursor_type="row", zebra_stripes=True))
            self.load_models()
        elif section in LISTS and name is None:
            names = self._names(section)
            self._title(f"{section.capitalize()}: {len(names)}")
            await pane.mount(Static(", ".join(names) or "none yet", classes="field-help"))
        else:
            path = f"{section}.{name}" if name else section
            read_only = self.session.read_only
            self._title(f"[{path}]" + ("  (read-only: attached)" if read_only else ""))
            await pane.mount(Form(path, self._fields(section, name), self._values(path), read_only=read_only))
            self._show_problems()
        self._footer()

    def _title(self, text: str) -> None:
        self.query_one("#config-title", Static).update(Content.from_markup("[b]$text[/b]", text=text))

    def _message(self, text: str, severity: str = "information") -> None:
        message = self.query_one("#config-message", Static)
        message.update(text)
        message.set_class(severity == "error", "field-error")
        message.display = bool(text)

    def _footer(self) -> None:
        if self.session.config is None:
            text = "Attached: the server's configuration, read-only."
        elif self.document is None:
            text = f"{self.session.config.path.name} is shown again once it is fixed (in an editor)."
        elif self.dirty:
            text = "[b]Unsaved edits[/b]  ctrl+s save   ctrl+z drop them"
        else:
            text = f"{self.session.config.path.name}: a add  d delete  e rename  t test provider  ctrl+s save"
        self.query_one("#config-footer", Static).update(text)

    @on(Tree.NodeHighlighted, "#config-nav")
    async def _highlighted(self, event: Tree.NodeHighlighted) -> None:
        stale = event.node is not event.control.cursor_node  # from before the list was filled again
        if not stale and event.node.data is not None and event.node.data != self.selected:
            await self.show(*event.node.data)

    @on(Tree.NodeSelected, "#config-nav")
    def _selected(self, event: Tree.NodeSelected) -> None:
        fields = [widget for widget in self.query(".form *") if widget.focusable]
        if fields:
            fields[0].focus()  # into the form's first field
        elif event.node.allow_expand:
            event.node.toggle()  # a list without a form of its own (Providers, Clients, …)

    # --- editing --------------------------------------------------------------------------

    @on(Form.Edited)
    def _edited(self, event: Form.Edited) -> None:
        if self.document is None:  # a form is shown only with a document
            return
        self.document.set(f"{event.form.path}.{event.key}", event.value)
        self.dirty = True
        if event.key == "type":  # a llamacpp provider has other keys than an HTTP one
            self.call_later(self._edited_tables, *self.selected)
        self._show_problems()
        self._footer()

    def _show_problems(self) -> None:
        """Each problem of the edited document under its field; the others as a count."""
        if self.document is None:
            return
        forms = self.query(Form)
        problems = self.document.problems()
        here, elsewhere = {}, []
        path = forms.first().path if forms else None
        for key_path, message in problems:
            if path and key_path.startswith(path + ".") and "." not in key_path[len(path) + 1:]:
                here[key_path[len(path) + 1:]] = message
            elif path and key_path == path:
                here.setdefault("", message)
            else:
                elsewhere.append(f"{key_path}: {message}" if key_path else message)
        if forms:
            forms.first().show_problems(here)
        general = [here[""]] if "" in here else []
        notes = general + ([f"{len(elsewhere)} more elsewhere: {elsewhere[0]}"] if elsewhere else [])
        self._message("\n".join(notes), "error" if notes else "information")

    def _editable(self) -> ConfigDocument | None:
        """The document to edit; None when attached (said in a note) or when the file could not be
        read (said in the tab)."""
        if self.session.read_only:
            self.notify(read_only_note("the configuration"), severity="warning")
        return self.document

    async def action_save(self) -> None:
        if (document := self._editable()) is None:
            return
        try:
            result = document.save()
        except ConfigError as error:
            self._show_problems()
            self.notify(f"Not saved: {len(error.problems)} problem(s) to fix first.", severity="error")
            return
        except SaveConflict:
            self.notify(f"{document.path.name} changed on disk since you began editing; nothing was "
                        "written. ctrl+z loads it (dropping your edits).", severity="error", timeout=10)
            return
        self.dirty = False
        self._footer()
        self.post_message(ThemeSaved(document.get("tui.theme", DEFAULT_THEME)))
        self.post_message(ConfigSaved(result))

    async def action_revert(self) -> None:
        if self._editable() is not None:
            await self.load()
            self.notify("Unsaved edits dropped; the file is shown as it is on disk.")

    async def _ask_name(self, question: str, taken: list[str], refusal: str, value: str = "") -> str | None:
        """A new name, not one of `taken` (None if cancelled, unchanged or taken: then `refusal`, with the
        name for {name}, is shown)."""
        name = await self.app.push_screen_wait(AskScreen(question, value))
        if name and name != value and name in taken:
            self.notify(refusal.replace("{name}", name), severity="error")
            return None
        return name if name != value else None

    def _taken(self, section: str, provider: str = "") -> tuple[list[str], str]:
        """The names a new entry of `section` cannot have, and what is said when one is asked for: a
        local model's are its provider's other models."""
        if provider:
            return self._local_models(provider) or [], f"'{provider}' already has a model '{{name}}'."
        return self._names(section), f"There already is a {LISTS[section]} '{{name}}'."

    async def _edited_tables(self, section: str, name: str | None) -> None:
        """After adding, deleting or renaming a table: show the list and `name` (unsaved yet)."""
        self.dirty = True
        self.selected = (section, name)
        await self._fill_nav()
        await self.show(section, name)

    @work(exclusive=True, group="config-dialog")
    async def action_add(self) -> None:
        section = self.selected[0]
        if self._editable() is None:
            return
        if section not in LISTS:
            self.notify("Pick Providers, Prompts, Clients or Routes (or one of them) to add one.", severity="warning")
            return
        provider = (self.selected[1] or "").split(".models.")[0]
        if section == "providers" and self._local_models(provider) is not None:
            await self._add_local_model(provider)
            return
        name = await self._ask_name(f"Name of the new {LISTS[section]}:", *self._taken(section))
        if name and self.document is not None:  # (the file may have become unreadable meanwhile)
            model = self.document.get("clients.server.model")
            values = NEW_ENTRY[section]
            if model and section == "clients":
                values = {"model": model}
            elif isinstance(model, str) and ":" in model and not model.startswith(ROUTE_PREFIX) and \
                    section == "routes":
                values = {"targets": [model]}
            for key, value in values.items():
                self.document.set(f"{section}.{name}.{key}", value)
            await self._edited_tables(section, name)

    async def _add_local_model(self, provider: str) -> None:
        question = f"Name of the new model of '{provider}' (its id is {provider}:NAME):"
        name = await self._ask_name(question, *self._taken("providers", provider))
        if name and self.document is not None:
            self.document.set(f"providers.{provider}.models.{name}.path", f"~/models/{name}.gguf")
            await self._edited_tables("providers", f"{provider}.models.{name}")

    @work(exclusive=True, group="config-dialog")
    async def action_delete(self) -> None:
        section, name = self.selected
        if self._editable() is None or section not in LISTS or name is None:
            return
        question = f"Delete {LISTS[section]} '{name}'? (saved with ctrl+s)"
        if await self.app.push_screen_wait(ConfirmScreen(question)) and self.document is not None:
            self.document.delete(f"{section}.{name}")
            await self._edited_tables(section, None)

    @work(exclusive=True, group="config-dialog")
    async def action_rename(self) -> None:
        section, name = self.selected
        if self._editable() is None or section not in LISTS or name is None:
            return
        owner, _, leaf = name.rpartition(".models.")  # a local model is renamed within its provider
        question = f"New name of the model '{leaf}' of '{owner}':" if owner else \
            f"New name of {LISTS[section]} '{name}':"
        new = await self._ask_name(question, *self._taken(section, owner), leaf)
        if new and self.document is not None:
            self.document.rename(f"{section}.{name}", new)
            # a provider's model ids elsewhere in the file follow it
            if section == "providers" and not owner and (uses := self.document.rename_provider_uses(name, new)):
                self.notify(f"'{name}:…' is now '{new}:…' in {', '.join(uses)}.")
            await self._edited_tables(section, f"{owner}.models.{new}" if owner else new)

    @work(exclusive=True, group="provider-test")
    async def action_test_provider(self) -> None:
        section, name = self.selected
        if section != "providers" or name is None:
            self.notify("Pick a provider to test.", severity="warning")
            return
        name = name.split(".models.")[0]
        if self.dirty:
            self.notify("Save first (ctrl+s): the test asks the gateway, which serves the saved file.",
                        severity="warning")
            return
        self._message(f"Asking '{name}' for its models through the gateway…")
        try:
            result = await self.session.admin.get(f"/admin/providers/{name}", refresh="true", timeout_s=TEST_TIMEOUT_S)
        except AdminError as error:
            self._message(f"✗ {error}", "error")
            return
        if not result["reachable"]:
            self._message(f"✗ {result['error']}", "error")
            return
        models = result["models"]
        check = result.get("check")
        served = f"{len(models)} model(s): {_some(models) or 'none'}"
        if check is None:
            self._message(f"✓ reachable: {served}")
        elif not check["answered"]:
            self._message(f"✗ configured: {served}; but asked for its list, it failed: {check['error']}", "error")
        elif check["not_listed"]:
            self._message(f"✗ configured: {served}; but the provider does not list {_some(check['not_listed'])}",
                          "error")
        else:
            self._message(f"✓ configured: {served}; the provider answers and lists them")

    @work(exclusive=True, group="models")
    async def load_models(self) -> None:
        try:
            providers = (await self.session.admin.get("/admin/providers"))["data"]
        except AdminError as error:
            self._message(str(error), "error")
            return
        tables = self.query("#models-table")
        if not tables:
            return
        table = tables.first(DataTable)
        table.add_columns("model", "type", "reachable")
        self.unreachable = {}
        for provider in providers:
            reach = "NO" if not provider["reachable"] else "configured" if provider["models_configured"] else "yes"
            for model in provider["models"] or [f"{provider['id']}:*"]:
                row = table.add_row(model, provider["type"], reach)
                if not provider["reachable"]:
                    self.unreachable[row] = (provider["id"], provider["error"])
        self._show_unreachable(table)

    @on(DataTable.RowHighlighted, "#models-table")
    def _model_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_unreachable(event.data_table)

    def _show_unreachable(self, table: DataTable) -> None:
        """Which providers are not reachable, and on one of their rows its error: every error can be
        read, however many there are (all at once would not fit)."""
        if not self.unreachable:
            self._message("")
        elif (row := table.ordered_rows[table.cursor_row].key) in self.unreachable:
            self._message("{}: {}".format(*self.unreachable[row]), "error")
        else:
            names = ", ".join(dict.fromkeys(name for name, _ in self.unreachable.values()))
            self._message(f"Not reachable: {names} (tab into the list: a NO row shows its error)", "error")

    def follow(self, edited: Edited) -> None:
        """The app saved a few keys itself (a Playground setting, a theme, a new key): unsaved edits
        here take them over, so that ctrl+s still saves (it would see the file as changed by someone else)."""
        document = self.document
        if document is not None and self.dirty and document.follow(edited.changes, edited.before, edited.after):
            self.call_later(self.show, *self.selected)

    async def file_changed(self) -> None:
        """The file changed on disk (a save elsewhere, an editor): show it unless edits would be lost."""
        if self.dirty or self.session.config is None:
            return
        try:
            on_disk = self.session.config.path.read_text(encoding="utf-8")
        except OSError:
            on_disk = None
        if self.document is None or on_disk != self.document.text():  # not our own save
            await self.load()
