import errno
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch

from trainer import checkpoint as ckpt
from trainer.data import DataOrder

from .conftest import ROOT, SMALL, run_cli, write_npz


def train_argv(npz, out, steps=20, extra=()):
    return ["train", "--npz", npz, "--config-key", "square8_2p", "--out-dir", str(out), "--steps", str(steps), *SMALL, *extra]


def weights(path):
    return torch.load(path, map_location="cpu", weights_only=True)["model"]


def test_train_exports_onnx_and_result(npz, tmp_path, capsys):
    out = tmp_path / "run"
    rc, ev = run_cli(train_argv(npz, out, steps=12, extra=["--checkpoint-every", "5", "--log-every", "4"]), capsys)
    assert rc == 0, ev[-1]
    kinds = [e["event"] for e in ev]
    assert kinds[0] == "start" and kinds[-1] == "done"
    start = ev[0]
    assert start["total_steps"] == 12 and start["resumed_from"] is None and start["device"] == "cpu"
    assert start["train_positions"] == 100 and start["val_positions"] == 20
    assert start["architecture"]["blocks"] == 1 and start["architecture"]["channels"] == 8 and start["params"] > 0
    assert [e["step"] for e in ev if e["event"] == "step"] == [4, 8, 12]
    assert [e["step"] for e in ev if e["event"] == "checkpoint"] == [5, 10, 12]
    for e in ev:
        if e["event"] == "step":
            assert set(e) >= {"policy_loss", "value_loss", "lr", "positions_per_s", "total_steps"}
    val = [e for e in ev if e["event"] == "val"][-1]
    for k in ("val_loss", "val_policy_loss", "val_value_loss", "val_policy_top1", "val_uniform_top1", "val_value_loss_zero"):
        assert isinstance(val[k], float), k
    exp = next(e for e in ev if e["event"] == "export")
    assert exp["max_abs_diff_policy"] <= 1e-4 and exp["max_abs_diff_value"] <= 1e-4
    res = json.loads((out / "result.json").read_text())
    assert res["onnx"]["sha256"] == exp["sha256"] and res["steps"] == 12 and res["config_key"] == "square8_2p"
    assert res["npz"][0]["positions_used"] == 120 and len(res["npz"][0]["sha256"]) == 64
    import onnx

    m = onnx.load(str(out / "model.onnx"))
    props = {p.key: p.value for p in m.metadata_props}
    assert props["board_type"] == "square8" and props["policy_size"] == "11081" and props["model_contract"] == "rr-model-v1"
    assert props["encoder_version"] == "rr-enc-v1" and json.loads(props["architecture"])["blocks"] == 1
    assert [i.name for i in m.graph.input] == ["features", "globals"]
    assert [o.name for o in m.graph.output] == ["policy", "value"]
    assert m.opset_import[0].version >= 17
    assert not [f for f in os.listdir(out) if f.startswith(".")]


def test_killed_run_resumes_to_identical_weights(tmp_path):
    npz = str(tmp_path / "d.npz")
    write_npz(npz, games=8, per_game=20)
    env = {**os.environ, "PYTHONPATH": ROOT, "OMP_NUM_THREADS": "1"}
    cmd = lambda out: [sys.executable, "-m", "trainer", *train_argv(npz, out, steps=30, extra=["--checkpoint-every", "10", "--log-every", "1"])]  # noqa: E731
    full = tmp_path / "full"
    r = subprocess.run(cmd(full), env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    # same command, killed (SIGKILL) right after its step-20 checkpoint
    part = tmp_path / "part"
    p = subprocess.Popen(cmd(part), env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in p.stdout:
        e = json.loads(line)
        if e["event"] == "checkpoint" and e["step"] == 20:
            p.send_signal(signal.SIGKILL)
            break
    p.wait(timeout=60)
    assert p.returncode == -signal.SIGKILL
    r2 = subprocess.run(cmd(part), env=env, capture_output=True, text=True, timeout=300)
    assert r2.returncode == 0, r2.stderr[-2000:]
    ev = [json.loads(x) for x in r2.stdout.splitlines()]
    assert ev[0]["event"] == "start" and ev[0]["resumed_from"] == 20
    assert ev[1] == {"event": "resume", "step": 20, "checkpoint": str(part / "checkpoint.pt")}
    steps = [e["step"] for e in ev if e["event"] == "step"]
    assert steps == list(range(21, 31))  # nothing trained twice, exactly --steps
    assert ev[-1]["event"] == "done" and ev[-1]["step"] == 30
    a, b = weights(full / "checkpoint.pt"), weights(part / "checkpoint.pt")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    ra, rb = json.loads((full / "result.json").read_text()), json.loads((part / "result.json").read_text())
    assert ra["onnx"]["sha256"] == rb["onnx"]["sha256"]
    assert ra["metrics"]["val_loss"] == rb["metrics"]["val_loss"]
    # a finished run restarted once more does no training and keeps the weights
    r3 = subprocess.run(cmd(part), env=env, capture_output=True, text=True, timeout=300)
    ev3 = [json.loads(x) for x in r3.stdout.splitlines()]
    assert r3.returncode == 0 and not [e for e in ev3 if e["event"] == "step"] and ev3[-1]["step"] == 30


def test_nan_loss_stops_at_the_step_that_meets_it(tmp_path, capsys):
    p = str(tmp_path / "d.npz")
    n = write_npz(p, games=6, per_game=20)
    with np.load(p) as z:
        split = z["split"]
        g = z["globals"].copy()
    train_idx = np.flatnonzero(split == 0)
    bad = int(train_idx[57])
    g[bad, 30] = np.nan
    write_npz(p, games=6, per_game=20, globals=g)
    order = DataOrder(train_idx, 16, 1)
    expect = next(s for s in range(100) if bad in order.batch_indices(s)) + 1
    rc, ev = run_cli(train_argv(p, tmp_path / "o", steps=40, extra=["--checkpoint-every", "2"]), capsys)
    assert rc == 3
    assert ev[-1]["event"] == "error" and ev[-1]["code"] == "nan_loss" and ev[-1]["step"] == expect
    assert f"step {expect}" in ev[-1]["message"]
    assert max(e["step"] for e in ev if e["event"] == "checkpoint") == (expect - 1) // 2 * 2 or expect <= 2


def test_disk_full_keeps_previous_checkpoint(npz, tmp_path, capsys, monkeypatch):
    out = tmp_path / "o"
    real = ckpt._write_all
    calls = {"n": 0}

    def failing(fd, data):
        calls["n"] += 1
        if calls["n"] >= 2:  # the second checkpoint: half written, then the disk is full
            os.write(fd, bytes(memoryview(data)[: len(data) // 2]))
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd, data)

    monkeypatch.setattr(ckpt, "_write_all", failing)
    rc, ev = run_cli(train_argv(npz, out, steps=30, extra=["--checkpoint-every", "10"]), capsys)
    assert rc == 4
    err = ev[-1]
    assert err["event"] == "error" and err["code"] == "disk_full" and err["step"] == 20
    assert sorted(os.listdir(out)) == ["checkpoint.pt"]  # no partial file
    ck = torch.load(out / "checkpoint.pt", map_location="cpu", weights_only=True)
    assert ck["step"] == 10
    # after space is back the same command resumes from step 10
    monkeypatch.setattr(ckpt, "_write_all", real)
    rc, ev = run_cli(train_argv(npz, out, steps=30, extra=["--checkpoint-every", "10"]), capsys)
    assert rc == 0 and ev[0]["resumed_from"] == 10 and ev[-1]["step"] == 30


def test_warm_start(npz, tmp_path, capsys):
    rc, _ = run_cli(train_argv(npz, tmp_path / "a", steps=3), capsys)
    assert rc == 0
    rc, ev = run_cli(
        ["train", "--npz", npz, "--config-key", "square8_2p", "--out-dir", str(tmp_path / "b"), "--steps", "2", "--batch-size", "16",
         "--threads", "1", "--init-checkpoint", str(tmp_path / "a" / "checkpoint.pt"), "--preset", "gpu"],
        capsys,
    )
    assert rc == 0
    # the architecture comes from the checkpoint, not from --preset
    assert ev[0]["architecture"]["blocks"] == 1 and ev[0]["architecture"]["channels"] == 8
    assert ev[0]["resumed_from"] is None and ev[0]["init_checkpoint"]
    h = str(tmp_path / "h.npz")
    write_npz(h, board="hex8")
    argv = ["train", "--npz", h, "--config-key", "hex8_2p", "--out-dir", str(tmp_path / "c"), "--steps", "2"]
    rc, ev = run_cli(argv + ["--init-checkpoint", str(tmp_path / "a" / "checkpoint.pt")], capsys)
    assert rc == 2 and ev[-1]["code"] == "bad_input" and "square8_2p" in ev[-1]["message"]


def _bad(argv, capsys, needle):
    rc, ev = run_cli(argv, capsys)
    assert rc == 2, ev
    assert ev[-1]["event"] == "error" and ev[-1]["code"] == "bad_input"
    assert needle in ev[-1]["message"], ev[-1]["message"]
    assert "\n" not in ev[-1]["message"]


def test_bad_inputs(npz, tmp_path, capsys):
    out = tmp_path / "o"
    _bad(train_argv(str(tmp_path / "missing.npz"), out), capsys, "does not exist")
    trunc = str(tmp_path / "t.npz")
    with open(npz, "rb") as f:
        data = f.read()
    with open(trunc, "wb") as f:
        f.write(data[: len(data) // 2])
    _bad(train_argv(trunc, out), capsys, "corrupt or truncated")
    junk = str(tmp_path / "j.npz")
    with open(junk, "wb") as f:
        f.write(b"not a zip file at all")
    _bad(train_argv(junk, out), capsys, "cannot be read")
    other = str(tmp_path / "hex.npz")
    write_npz(other, board="hex8")
    _bad(train_argv(other, out), capsys, "holds hex8_2p data")
    p3 = str(tmp_path / "p3.npz")
    write_npz(p3, players=3)
    _bad(train_argv(p3, out), capsys, "holds square8_3p data")
    enc = str(tmp_path / "enc.npz")
    write_npz(enc, encoder_version=np.asarray("rr-enc-v0"))
    _bad(train_argv(enc, out), capsys, "encoder_version rr-enc-v0")
    ps = str(tmp_path / "ps.npz")
    write_npz(ps, policy_size=np.asarray(11000, np.int64))
    _bad(train_argv(ps, out), capsys, "policy_size 11000")
    allval = str(tmp_path / "v.npz")
    write_npz(allval, games=2, val_games=2)
    _bad(train_argv(allval, out), capsys, "training split is empty")
    _bad(["train", "--npz", npz, "--config-key", "chess_2p", "--out-dir", str(out)], capsys, "--config-key")
    with pytest.raises(SystemExit) as ex:
        run_cli(["train", "--npz", npz, "--out-dir", str(out)], capsys)
    assert ex.value.code == 2
    # nothing was written for refused runs
    assert not out.exists() or not os.listdir(out)


def test_device_resident_data_path_trains_the_same_weights(npz, tmp_path, capsys):
    rc, ev = run_cli(train_argv(npz, tmp_path / "a", steps=6), capsys)
    assert rc == 0 and ev[0]["data_path"] == "prefetch_thread"
    rc, ev = run_cli(train_argv(npz, tmp_path / "b", steps=6, extra=["--data-path", "device"]), capsys)
    assert rc == 0 and ev[0]["data_path"] == "device_resident"
    a, b = weights(tmp_path / "a" / "checkpoint.pt"), weights(tmp_path / "b" / "checkpoint.pt")
    for k in a:
        assert torch.equal(a[k], b[k]), k
