"""Every option of a command with modes, honoured or refused in each mode: one table.

A mode is an option (or argument) that changes what a command does: `train --resume`
continues a run, `train --quiet` prints only the summary, `sweep --resume` continues a
sweep, `init --example` copies a shipped config, `runs FOLDER` lists one sweep or folder,
`runs --json` and `diff --json`/`--md` print another format. In each mode, every other option of the
command is either honoured (`HONOURED` names the test that asserts its effect) or
refused here, before any work, exit 2, naming both (`REFUSED`). A command calls
`refuse_conflicts()` first; tests/cli/test_modes.py walks the whole table against the
click commands, so an option added without a row fails the suite.
"""

from __future__ import annotations

import click

# (command, mode, option) -> why the option means nothing, or would be ignored, there.
REFUSED: dict[tuple[str, str, str], str] = {
    ("train", "--resume", "--runs-dir"): "a resumed run continues in its own folder",
    ("train", "--resume", "--run-dir"): "a resumed run continues in its own folder",
    ("train", "--resume", "--name"): "a resumed run keeps its own name",
    ("sweep", "--resume", "CONFIG"): "a resumed sweep searches the config it began with",
    ("sweep", "--resume", "--set"): "a resumed sweep searches the config it began with",
    ("sweep", "--resume", "--storage"): "a resumed sweep uses the storage it recorded",
    ("sweep", "--resume", "--study"): "a resumed sweep continues the study it recorded",
    ("sweep", "--resume", "--runs-dir"): "a resumed sweep continues in its own folder",
    ("sweep", "--resume", "--track"): "a resumed sweep tracks as it began",
    ("init", "--example", "--model"): "an example is a shipped config, copied as it is",
    ("init", "--example", "--dataset"): "an example is a shipped config, copied as it is",
    ("init", "--example", "--callbacks"): "an example is a shipped config, copied as it is",
    ("runs", "FOLDER", "--runs-dir"): "FOLDER is the folder listed",
    ("runs", "--json", "--wide"): "JSON holds every column",
    ("train", "--quiet", "--log-every"): "--quiet prints no batch lines",
    ("train", "--quiet", "--verbose"): "one asks for fewer lines, the other for more",
    ("diff", "--json", "--md"): "give one output format",
    ("diff", "--md", "--json"): "give one output format",
}

_MODES_TESTS = "tests/cli/test_modes.py"

_QUIET = f"{_MODES_TESTS}::test_quiet_honours_every_other_option"

# (command, mode, option) -> the test that asserts the option's effect in that mode.
HONOURED: dict[tuple[str, str, str], str] = {
    ("train", "--resume", "CONFIG"): "tests/run/test_resume.py::"
    "test_resume_refuses_a_changed_config_but_takes_more_epochs",
    ("train", "--resume", "--set"): "tests/run/test_resume.py::"
    "test_resume_refuses_a_changed_config_but_takes_more_epochs",
    ("train", "--resume", "--allow-plugin"): f"{_MODES_TESTS}::test_resume_allow_plugin",
    ("train", "--resume", "--log-every"): f"{_MODES_TESTS}::test_resume_log_every_and_quiet",
    ("train", "--resume", "--quiet"): f"{_MODES_TESTS}::test_resume_log_every_and_quiet",
    ("train", "--resume", "--track"): f"{_MODES_TESTS}::test_resume_track",
    ("train", "--resume", "--verbose"): "tests/cli/test_console.py::"
    "test_verbose_lets_tensorflow_speak",
    ("sweep", "--resume", "--trials"): "tests/sweep/test_study.py::"
    "test_a_killed_sweep_resumes_to_exactly_the_asked_trials",
    ("sweep", "--resume", "--jobs"): "tests/sweep/test_workers.py::"
    "test_jobs_share_the_cores_and_a_killed_parent_takes_its_workers_along",
    ("sweep", "--resume", "--verbose"): "tests/cli/test_console.py::"
    "test_verbose_lets_tensorflow_speak",
    ("init", "--example", "PATH"): "tests/config/test_starter.py::"
    "test_the_shipped_configs_are_package_data",
    ("runs", "FOLDER", "--json"): f"{_MODES_TESTS}::test_runs_folder_json_and_wide",
    ("runs", "FOLDER", "--wide"): f"{_MODES_TESTS}::test_runs_folder_json_and_wide",
    ("runs", "--json", "FOLDER"): f"{_MODES_TESTS}::test_runs_folder_json_and_wide",
    ("runs", "--json", "--runs-dir"): "tests/after/test_inference.py::"
    "test_runs_lists_exactly_the_test_runs_newest_first",
    ("train", "--quiet", "CONFIG"): _QUIET,
    ("train", "--quiet", "--set"): _QUIET,
    ("train", "--quiet", "--resume"): f"{_MODES_TESTS}::test_resume_log_every_and_quiet",
    ("train", "--quiet", "--runs-dir"): _QUIET,
    ("train", "--quiet", "--run-dir"): _QUIET,
    ("train", "--quiet", "--name"): _QUIET,
    (
        "train",
        "--quiet",
        "--allow-plugin",
    ): _QUIET,
    ("train", "--quiet", "--track"): _QUIET,
    ("diff", "--json", "A"): "tests/after/test_diff.py::"
    "test_only_the_changed_key_with_its_set_origin_and_the_metric_deltas",
    ("diff", "--json", "B"): "tests/after/test_diff.py::"
    "test_only_the_changed_key_with_its_set_origin_and_the_metric_deltas",
    ("diff", "--json", "--all"): f"{_MODES_TESTS}::test_diff_all_in_json_and_markdown",
    ("diff", "--md", "A"): "tests/after/test_diff.py::test_it_reads_at_80_columns_and_in_markdown",
    ("diff", "--md", "B"): "tests/after/test_diff.py::test_it_reads_at_80_columns_and_in_markdown",
    ("diff", "--md", "--all"): f"{_MODES_TESTS}::test_diff_all_in_json_and_markdown",
}

# The commands with modes, and their modes: an option, or an argument in capitals.
MODES: dict[str, tuple[str, ...]] = {
    "sweep": ("--resume",),
    "init": ("--example",),
    "runs": ("FOLDER", "--json"),
    "train": ("--resume", "--quiet"),
    "diff": ("--json", "--md"),
}


def _given(ctx: click.Context, name: str) -> bool:
    """Whether the user gave the option (or argument) `name` on the command line."""
    for param in ctx.command.params:
        names = [*param.opts, *param.secondary_opts] if isinstance(param, click.Option) else []
        argument = isinstance(param, click.Argument) and name == param.human_readable_name
        if name in names or argument:
            source = ctx.get_parameter_source(param.name)
            return source is not None and source != click.core.ParameterSource.DEFAULT
    return False


def refuse_conflicts() -> None:
    """Refuse, exit 2, an option given in a mode where `REFUSED` says it means nothing."""
    ctx = click.get_current_context()
    command = ctx.command.name
    for (owner, mode, option), why in REFUSED.items():
        if owner == command and _given(ctx, mode) and _given(ctx, option):
            raise click.UsageError(f"{option} cannot be given with {mode}: {why}")
