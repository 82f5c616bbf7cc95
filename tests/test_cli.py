import json
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

from restoration.cli import main

FAST = ["--model", "realesr-general-x4v3", "--colorize", "off"]


def test_image_command_writes_and_reports(tmp_path, photo, capsys):
    Image.fromarray(photo).save(tmp_path / "in.jpg")
    code = main(["image", str(tmp_path / "in.jpg"), "-o", str(tmp_path / "out.webp"),
                 "--upscale", "2", "--json", *FAST])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["output"].endswith("out.webp") and report["size_out"] == [128, 96]
    assert Image.open(tmp_path / "out.webp").size == (128, 96)


def test_exit_codes_and_one_line_errors(tmp_path, photo, capsys):
    assert main(["image", str(tmp_path / "missing.png"), *FAST]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "missing.png: file not found" in err and "\n" not in err
    Image.fromarray(photo).save(tmp_path / "in.png")
    assert main(["image", str(tmp_path / "in.png"), "--denoise", "99", *FAST]) == 2
    assert "denoise=99.0 is out of range" in capsys.readouterr().err
    assert main(["image", str(tmp_path / "in.png"), "--model", "x9", "--colorize", "off"]) == 2
    assert "unknown model 'x9'" in capsys.readouterr().err


def test_batch_keeps_structure_resumes_and_reports_failures(tmp_path, photo, capsys):
    src, dst = tmp_path / "in", tmp_path / "out"
    (src / "a" / "b").mkdir(parents=True)
    Image.fromarray(photo).save(src / "one.png")
    Image.fromarray(photo).save(src / "a" / "two.JPG")
    Image.fromarray(photo[..., 0]).save(src / "a" / "b" / "three.tif")
    (src / "a" / "broken.png").write_bytes(b"not an image")
    (src / "notes.txt").write_text("ignored")
    args = ["batch", str(src), "-o", str(dst), "--upscale", "2", "--format", "png", *FAST]

    assert main(args) == 1  # one file failed
    out = capsys.readouterr()
    assert "4 files: 3 restored, 0 already done, 1 failed" in out.out
    assert "broken.png" in out.err
    made = sorted(p.relative_to(dst).as_posix() for p in dst.rglob("*") if p.is_file())
    assert made == ["a/b/three.png", "a/two.png", "one.png"]

    stamp = (dst / "one.png").stat().st_mtime_ns
    (src / "a" / "broken.png").unlink()
    assert main(args) == 0  # resume: nothing left to do
    assert "3 files: 0 restored, 3 already done, 0 failed" in capsys.readouterr().out
    assert (dst / "one.png").stat().st_mtime_ns == stamp
    assert main([*args, "--overwrite"]) == 0
    assert "3 restored" in capsys.readouterr().out


def test_models_list_shows_where_weights_are(capsys, tiny_models_dir):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "realesrgan-x4plus" in out and str(tiny_models_dir) in out
    assert "ddcolor-artistic" in out and "not downloaded" in out


def test_models_download_offline_fails_with_advice(capsys):
    assert main(["models", "download", "ddcolor-artistic"]) == 1
    assert "offline" in capsys.readouterr().err


def test_python_dash_m_entry_point(tmp_path, photo):
    Image.fromarray(photo).save(tmp_path / "in.png")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    r = subprocess.run([sys.executable, "-m", "restoration", "image", str(tmp_path / "in.png"),
                        "-o", str(tmp_path / "o.png"), "--upscale", "1.5", *FAST],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert Image.open(tmp_path / "o.png").size == (96, 72)
    r = subprocess.run([sys.executable, "-m", "restoration", "image", str(tmp_path / "in.png"),
                        "--sharpen", "nan", *FAST], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].startswith("error: sharpen=nan")
