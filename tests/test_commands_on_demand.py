"""The ``friendsgroup`` command imports a command's module when the command is used, and its
list of modules names every command the modules register, where they register it."""

import importlib
import importlib.util
import os
import subprocess
import sys

import click

from friendsgroup import cli
from tests.support import console_script


def registered() -> dict[str, set[str]]:
    """Each top-level command with the modules that define it or one of its subcommands."""
    for modules in cli.COMMAND_MODULES.values():
        for module in modules:
            importlib.import_module(module, cli.__name__)
    found: dict[str, set[str]] = {}
    for name, command in cli.main.commands.items():
        parts = [command, *getattr(command, "commands", {}).values()]
        found[name] = {part.callback.__module__ for part in parts if part.callback}
    return found


def test_the_list_names_each_command_and_every_module_it_is_defined_in():
    listed = {
        name: {importlib.util.resolve_name(m, cli.__name__) for m in modules}
        for name, modules in cli.COMMAND_MODULES.items()
    }
    found = registered()
    # A group's own callback lives in the first module; its subcommands may live in others.
    assert set(found) == set(listed)
    for name, modules in found.items():
        assert modules <= listed[name], name


def test_help_lists_every_command_with_its_summary():
    result = subprocess.run(
        [console_script("friendsgroup"), "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    for name in cli.COMMAND_MODULES:
        assert f"  {name} " in result.stdout
    assert "Serve the API with gunicorn" in result.stdout


def test_a_command_imports_its_own_modules_and_not_the_others(tmp_path):
    # A fresh interpreter: which friendsgroup modules did a dump import?
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'registry.sqlite3'}"}
    upgrade = [console_script("friendsgroup"), "db", "upgrade"]
    assert subprocess.run(upgrade, env=env, capture_output=True, timeout=60).returncode == 0
    probe = (
        "import sys\n"
        "from friendsgroup.cli import main\n"
        "try:\n"
        f"    main(['dump', {str(tmp_path / 'registry.dump')!r}])\n"
        "except SystemExit as done:\n"
        "    assert not done.code, done.code\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('friendsgroup'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "registry.dump").stat().st_size > 0
    loaded = set(result.stdout.split())
    assert "friendsgroup.cli.portability" in loaded
    for other in ("data", "following", "curation", "serving", "tokens", "reports", "auditing"):
        assert f"friendsgroup.cli.{other}" not in loaded
    # Nor the API and the pages: a one-shot command's app has the database alone.
    assert not {m for m in loaded if m.startswith(("friendsgroup.api", "friendsgroup.web"))}


def test_an_unknown_command_is_refused_by_name(runner):
    result = runner.invoke(args=["no-such-command"])
    assert result.exit_code == 2
    assert "No such command 'no-such-command'" in result.output


def test_the_app_runner_finds_commands_on_demand(app):
    commands = app.cli.list_commands(click.Context(app.cli))
    assert set(cli.COMMAND_MODULES) <= set(commands)
    assert isinstance(app.cli.get_command(click.Context(app.cli), "dump"), click.Command)
