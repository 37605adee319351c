"""The `gatehouse` command."""

from __future__ import annotations

import argparse
import os
import sys

from api import __version__
from api.config import locations
from api.config.settings import ConfigError, open_config

KEY_ENV = "GATEHOUSE_KEY"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gatehouse",
        description="An LLM API gateway: every model behind one OpenAI- and Anthropic-compatible endpoint.",
        epilog="Config path: --config, else $GATEHOUSE_CONFIG, else ./config.toml, else "
               f"{locations.user_config_path()}. A missing file is created with a new server key.",
    )
    parser.add_argument("--config", metavar="PATH", help="the config file to use")
    parser.add_argument("--no-tui", action="store_true",
                        help="run headless: start the server, log to stdout, stop on Ctrl-C or SIGTERM "
                             "(also the default when stdout is not a terminal)")
    parser.add_argument("--attach", metavar="URL",
                        help="open the terminal UI on a server started elsewhere (no start/stop)")
    parser.add_argument("--key", metavar="KEY",
                        help=f"with --attach: the server key (default: ${KEY_ENV})")
    parser.add_argument("--version", action="version", version=f"gatehouse {__version__}")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.attach:
        key = args.key or os.environ.get(KEY_ENV)
        if not key:
            parser.error(f"--attach needs the server key: --key KEY or ${KEY_ENV}")
        from tui.app import GatehouseApp

        app = GatehouseApp(args.attach, key)
        app.run()
        return app.return_code or 0  # 1 when the app failed
    try:
        path, config = open_config(args.config, say=lambda line: print(line, flush=True))
    except ConfigError as exc:
        print(f"gatehouse: {exc}", file=sys.stderr)
        return 2
    if args.no_tui or not sys.stdout.isatty():
        from tui.headless import run_headless

        return run_headless(path, config)
    from tui.terminal import run_tui

    return run_tui(path, config)


if __name__ == "__main__":
    sys.exit(main())
