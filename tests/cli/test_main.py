"""``pkpd.cli.main``: commands, help with examples, exit codes, the deprecated fit order."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pkpd.cli import parser

COMMANDS = ("models", "show", "simulate", "fit", "twin", "nca", "vpc")


def test_top_level_help_lists_every_command_with_examples(cli) -> None:
    run = cli("--help")
    assert run.code == 0
    for command in COMMANDS:
        assert f"\n    {command} " in run.out
    assert "examples:" in run.out and "pkpd twin" in run.out


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help_with_examples(cli, command) -> None:
    run = cli(command, "--help")
    assert run.code == 0 and run.err == ""
    assert f"usage: pkpd {command}" in run.out
    examples = run.out.split("examples:\n", 1)[1]
    assert examples.splitlines()[0].strip().startswith(f"pkpd {command}")
    assert max(len(line) for line in run.out.splitlines()) <= 100


def test_no_command_is_a_usage_error(cli) -> None:
    run = cli()
    assert run.code == 2 and "required" in run.err
    assert cli("frobnicate").code == 2


def test_new_fit_order_is_not_taken_for_the_old_one() -> None:
    """``fit DATA.csv MODEL`` parses as a population fit; ``fit MODEL DATA.csv`` as a twin."""
    import pkpd.cli as cli_module

    ns = parser().parse_args(["fit", "data.csv", "theophylline_1cmt"])
    assert ns.command == "fit" and ns.data == "data.csv" and ns.model == "theophylline_1cmt"
    assert cli_module._old_fit_order(["fit", "theophylline_1cmt", "d.csv", "--id", "2"]) == [
        "twin", "d.csv", "theophylline_1cmt", "--id", "2"]
    assert cli_module._old_fit_order(["fit", "d.csv", "theophylline_1cmt"]) == [
        "fit", "d.csv", "theophylline_1cmt"]
    # a first argument that is no model: left to the population fit to report
    assert cli_module._old_fit_order(["fit", "nosuch", "d.csv"]) == ["fit", "nosuch", "d.csv"]


def test_the_console_script_exit_codes_and_no_traceback(tmp_path) -> None:
    """The installed entry point: 1 with one line on stderr for bad input, 2 for usage."""
    exe = [sys.executable, "-c", "import sys; from pkpd.cli import main; sys.exit(main())"]
    bad = subprocess.run([*exe, "nca", str(tmp_path / "none.csv")], capture_output=True,
                         text=True)
    assert bad.returncode == 1
    assert bad.stderr == f"pkpd: error: DATA.csv '{tmp_path / 'none.csv'}': no such file\n"
    usage = subprocess.run([*exe, "simulate"], capture_output=True, text=True)
    assert usage.returncode == 2 and "usage: pkpd simulate" in usage.stderr
