"""The shape of the code, held: short functions, a short ``Restorer``, one stage table, one duration
formatter, frames that are objects, and an app that asks no question of where its jobs run."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [ROOT / "app.py", *sorted((ROOT / "restoration").rglob("*.py")), *sorted((ROOT / "client").rglob("*.py"))]


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def test_no_function_is_longer_than_60_lines_and_no_module_than_400():
    long = [f"{p.relative_to(ROOT)}:{n.name} ({n.end_lineno - n.lineno + 1})" for p in SOURCES
            for n in ast.walk(_tree(p)) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
            and n.end_lineno - n.lineno + 1 > 60]
    assert not long, long
    big = [p.name for p in SOURCES if p.parent != ROOT and len(p.read_text().splitlines()) > 400]
    assert not big, big


def test_the_restorer_keeps_the_recipe_only():
    [restorer] = [n for n in ast.walk(_tree(ROOT / "restoration" / "pipeline.py"))
                  if isinstance(n, ast.ClassDef) and n.name == "Restorer"]
    assert restorer.end_lineno - restorer.lineno + 1 <= 100


def test_the_app_asks_no_executor_question_and_the_server_package_holds_the_rest():
    text = (ROOT / "app.py").read_text()
    assert "zerogpu." not in text and "Cluster(" not in text
    assert not (ROOT / "restoration" / "serving.py").exists()


def test_one_duration_formatter_and_one_progress_type():
    defs = {(p.relative_to(ROOT).as_posix(), n.name) for p in SOURCES for n in _tree(p).body
            if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name
            in ("about", "describe", "duration", "StageProgress", "ProgressLine")}
    assert {name for _, name in defs} == {"about", "duration", "StageProgress", "ProgressLine"}
    assert {path for path, _ in defs} == {"restoration/progress.py"}
    progress_types = [p.name for p in SOURCES if re.search(r"^ProgressFn\s*=", p.read_text(), re.M)]
    assert progress_types == ["progress.py"]


def test_the_stage_order_and_the_colorize_rule_are_written_once():
    """Only the stage table says when each stage runs (the plan, the estimates and the models a job needs
    read it), only ``RestoreOptions.denoises`` when denoising may run (a strength or "auto"), and only
    ``RestoreOptions.colorizes`` when colour is added."""
    rules = [p.relative_to(ROOT).as_posix() for p in SOURCES
             if all(rule in p.read_text() for rule in ("o.denoises", "does_superres", "sharpen > 0"))]
    assert rules == ["restoration/recipe.py"], rules
    denoise = [p.relative_to(ROOT).as_posix() for p in SOURCES if "self.denoise > 0" in p.read_text()]
    assert denoise == ["restoration/options.py"], denoise
    colour = [p.relative_to(ROOT).as_posix() for p in SOURCES
              if re.search(r'colorize == "auto" and (bool\()?monochrome', p.read_text())]
    assert colour == ["restoration/options.py"], colour


def test_a_video_frame_is_an_object_and_its_cuts_are_read_by_the_stabiliser_and_the_face_tracks():
    from restoration.video.frames import Frame

    assert {"index", "pts", "pixels", "warmup", "cut", "interlaced"} <= set(Frame.__dataclass_fields__)
    assert (ROOT / "restoration" / "video" / "cuts.py").is_file()
    assert "frame.cut" in (ROOT / "restoration" / "video" / "stabilize.py").read_text()
    assert "track.cut()" in (ROOT / "restoration" / "faces" / "runner.py").read_text()
    assert "cuts=[f.cut for f in batch]" in (ROOT / "restoration" / "video" / "piece.py").read_text()
