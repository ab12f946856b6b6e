"""`hallwatch`: the one command line for every part of the system.

Sub-commands live next to the code they drive and are imported only when used, so that
`hallwatch --help` stays fast and a server box never imports the detector.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from typing import Any

import click

# name -> (module, the extra it needs, help)
_COMMANDS: dict[str, tuple[str, str, str]] = {
    "replay": (
        "edge.replay_cli",
        "edge",
        "Run the vision pipeline over a recorded video and write JSON lines.",
    ),
    "eval": (
        "edge.eval_cli",
        "edge",
        "Score a replay's JSON lines against floor truth (counts, limits, pairs).",
    ),
    "models": ("models.cli", "edge", "List, verify and export the detector models."),
    "edge": ("edge.node_cli", "edge", "Run or check an edge node; generate broker credentials."),
    "server": ("server.cli", "server", "Run the server; manage users."),
    "demo": ("hallwatch.demo", "all", "Run a whole hall on this machine: broker, server and an edge node."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in _COMMANDS:
            return None
        module_name, extra, _ = _COMMANDS[cmd_name]
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            # A server-only or edge-only install lacks the other role's libraries: say which extra.
            if exc.name is None or exc.name.split(".")[0] in (
                "edge",
                "server",
                "models",
                "vision",
                "hallwatch",
            ):
                raise
            raise click.ClickException(
                f"`hallwatch {cmd_name}` needs {exc.name}, which is not installed: "
                f"pip install 'hallwatch[{extra}]'"
            ) from None
        command: click.Command = module.cli
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Listing help from the table keeps `hallwatch --help` from importing torch.
        with formatter.section("Commands"):
            formatter.write_dl([(name, help_) for name, (_, _, help_) in sorted(_COMMANDS.items())])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="hallwatch")
def root(verbose: int) -> None:
    """hallwatch: occupancy and 1-metre spacing for service halls, from ceiling cameras."""
    level = logging.WARNING - 10 * verbose if verbose else logging.INFO
    logging.basicConfig(
        level=max(level, logging.DEBUG), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The detector library must never reach for the network or pip at run time.
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")
    os.environ.setdefault("YOLO_VERBOSE", "false")


def main(argv: list[str] | None = None) -> Any:
    return root.main(args=argv if argv is not None else sys.argv[1:], prog_name="hallwatch")


if __name__ == "__main__":
    main()
