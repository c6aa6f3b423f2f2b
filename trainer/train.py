"""`python -m trainer train`: the training run (see trainer/README.md for the contract)."""
from __future__ import annotations

import math
import os
import queue
import random
import threading
import time
from contextlib import nullcontext

import numpy as np
import torch
import torch.nn.functional as F

from . import checkpoint as ckpt
from .data import DataOrder, Dataset, DeviceData, load_dataset, make_batch, memory_window_cap, parse_config_key
from .errors import TrainerError, bad_input
from .events import emit
from .export import export_model
from .layout import layout
from .model import DEFAULT_PRESET, PRESETS, PolicyValueNet, count_params

PERIODIC_VAL_MAX = 4096
CURRENT_STEP: list[int | None] = [None]  # for error events from outside the loop
FINAL_VAL_MAX = 50000
EXPORT_CHECK_POSITIONS = 64


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise bad_input("--device cuda: no CUDA device is available")
    return torch.device(name)


def lr_factor(step: int, warmup: int, total: int, floor: float = 0.05) -> float:
    """Linear warm-up over `warmup` steps, then cosine from 1 to `floor` at `total`."""
    s = step + 1
    if s <= warmup:
        return s / max(1, warmup)
    t = (s - warmup) / max(1, total - warmup)
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))


def resolve_architecture(args, init_ck: dict | None) -> dict:
    if init_ck is not None:
        a = init_ck["run"]["architecture"]
        return {"blocks": int(a["blocks"]), "channels": int(a["channels"])}
    if args.blocks is not None or args.channels is not None:
        if args.blocks is None or args.channels is None:
            raise bad_input("give both --blocks and --channels (or --preset)")
        if args.blocks < 1 or args.channels < 4:
            raise bad_input("--blocks must be >= 1 and --channels >= 4")
        return {"blocks": args.blocks, "channels": args.channels}
    return dict(PRESETS[args.preset or DEFAULT_PRESET])


class Prefetcher:
    """Builds the batches of the coming steps on a background thread (order fixed by step)."""

    def __init__(self, ds: Dataset, order: DataOrder, first: int, last: int, pin: bool, depth: int = 3):
        self.q: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()

        def work():
            try:
                for s in range(first, last):
                    if self._stop.is_set():
                        return
                    b = make_batch(ds, order.batch_indices(s))
                    t = to_tensors(b, pin)
                    while not self._stop.is_set():
                        try:
                            self.q.put((s, t), timeout=0.1)
                            break
                        except queue.Full:
                            continue
            except BaseException as e:  # surfaced in get()
                self.q.put((None, e))

        self.th = threading.Thread(target=work, daemon=True)
        self.th.start()

    def get(self, step: int):
        s, t = self.q.get()
        if s is None:
            raise t
        assert s == step, (s, step)
        return t

    def close(self):
        self._stop.set()


def to_tensors(b, pin: bool) -> dict:
    t = {
        "features": torch.from_numpy(b.features),
        "globals": torch.from_numpy(b.globals),
        "rows": torch.from_numpy(b.rows),
        "cols": torch.from_numpy(b.cols),
        "probs": torch.from_numpy(b.probs),
        "values": torch.from_numpy(b.values),
        "top": torch.from_numpy(b.top),
    }
    if pin:
        t = {k: v.pin_memory() for k, v in t.items()}
    return t


def losses(logits, value, t, n_players: int):
    B = logits.shape[0]
    logp = F.log_softmax(logits.float(), dim=1)
    pl = -(logp[t["rows"], t["cols"]] * t["probs"]).sum() / B
    vl = ((value.float()[:, :n_players] - t["values"][:, :n_players]) ** 2).mean()
    return pl, vl


def prior_top1(ds: Dataset, train_idx, val_idx) -> float | None:
    """Accuracy on val of always answering the most frequent training target of the position's phase."""
    if len(val_idx) == 0:
        return None
    best = {}
    for ph in np.unique(ds.phase[train_idx]):
        tops = ds.target_top[train_idx][ds.phase[train_idx] == ph]
        vals, counts = np.unique(tops, return_counts=True)
        best[int(ph)] = int(vals[np.argmax(counts)])
    guess = np.array([best.get(int(p), -1) for p in ds.phase[val_idx]])
    return float(np.mean(guess == ds.target_top[val_idx]))


@torch.no_grad()
def evaluate(model, ds: Dataset, idx: np.ndarray, device, amp_ctx, n_players: int, chunk: int = 512) -> dict:
    was = model.training
    model.eval()
    pl_sum = vl_sum = zero_sum = 0.0
    hits = 0
    n = 0
    for i in range(0, len(idx), chunk):
        sel = idx[i : i + chunk]
        t = {k: v.to(device, non_blocking=True) for k, v in to_tensors(make_batch(ds, sel), False).items()}
        with amp_ctx():
            logits, value = model(t["features"], t["globals"])
        pl, vl = losses(logits, value, t, n_players)
        B = len(sel)
        pl_sum += float(pl) * B
        vl_sum += float(vl) * B
        zero_sum += float((t["values"][:, :n_players] ** 2).mean()) * B
        hits += int((logits.float().argmax(1) == t["top"]).sum())
        n += B
    model.train(was)
    if ds.legal_count is not None:
        uni = float(np.mean(1.0 / np.maximum(1, ds.legal_count[idx])))
        src = "legal_count"
    else:
        uni = float(np.mean(1.0 / ds.target_nnz[idx]))
        src = "target_nonzeros"
    return {
        "val_loss": (pl_sum + vl_sum) / n,
        "val_policy_loss": pl_sum / n,
        "val_value_loss": vl_sum / n,
        "val_policy_top1": hits / n,
        "val_uniform_top1": uni,
        "val_uniform_source": src,
        "val_value_loss_zero": zero_sum / n,
        "val_positions": n,
    }


def run_identity(config_key, arch, hyper, files) -> dict:
    return {
        "config_key": config_key,
        "architecture": arch,
        "hyperparameters": {k: hyper[k] for k in ("steps", "batch_size", "lr", "weight_decay", "warmup_steps", "seed", "window_positions")},
        "npz": [{"path": os.path.abspath(f.path), "sha256": f.sha256, "positions_used": f.used} for f in files],
    }


def check_resume_compatible(ck: dict, ident: dict, path: str) -> None:
    old = {k: ck["run"][k] for k in ident}
    if old == ident:
        return
    diffs = []
    for k in ident:
        if old[k] != ident[k]:
            if isinstance(ident[k], dict):
                diffs += [f"{k}.{kk} {old[k].get(kk)!r} -> {ident[k].get(kk)!r}" for kk in ident[k] if old[k].get(kk) != ident[k].get(kk)]
            else:
                diffs.append(f"{k} changed")
    raise bad_input(f"{path} belongs to another run ({'; '.join(diffs)[:300]}); use a new --out-dir or pass it as --init-checkpoint")


def run_train(args) -> int:
    CURRENT_STEP[0] = None
    board_type, n_players = parse_config_key(args.config_key)
    if args.steps < 1 or args.batch_size < 1:
        raise bad_input("--steps and --batch-size must be >= 1")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    out_dir = os.path.abspath(args.out_dir)
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        raise bad_input(f"--out-dir {args.out_dir}: {e.strerror}") from None
    ck_path = os.path.join(out_dir, ckpt.CHECKPOINT_NAME)
    onnx_path = os.path.join(out_dir, "model.onnx")
    result_path = os.path.join(out_dir, "result.json")
    for p in (ck_path, onnx_path, result_path):
        ckpt.remove_stale_temps(p)

    resume = ckpt.load_checkpoint(ck_path) if os.path.exists(ck_path) else None
    init_ck = None
    if resume is None and args.init_checkpoint:
        init_ck = ckpt.load_checkpoint(args.init_checkpoint)
        r = init_ck["run"]
        if r["board_type"] != board_type or int(r["num_players"]) != n_players:
            raise bad_input(
                f"--init-checkpoint {args.init_checkpoint} is a {r['board_type']}_{r['num_players']}p model, not {args.config_key}"
            )
    arch = resolve_architecture(args, resume if resume is not None else init_ck)
    window = min(args.window_positions, memory_window_cap(board_type))
    if window < 1:
        raise bad_input("--window-positions must be >= 1")
    ds = load_dataset(args.npz, args.config_key, window)
    train_idx, val_idx = ds.split_indices()
    if len(train_idx) == 0:
        raise bad_input(f"the training split is empty ({ds.n} positions in the window, all in val); export with a split ratio that leaves train games")
    warmup = args.warmup_steps if args.warmup_steps is not None else max(1, min(200, args.steps // 10))
    hyper = {
        "steps": args.steps,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "weight_decay": args.weight_decay,
        "warmup_steps": warmup,
        "seed": args.seed,
        "window_positions": window,
        "value_weight": args.value_weight,
        "lr_floor": 0.05,
        "grad_clip": 5.0,
        "checkpoint_every": args.checkpoint_every,
        "val_every": args.val_every or args.checkpoint_every,
        "log_every": args.log_every,
        "optimizer": "AdamW",
        "schedule": "linear warm-up, cosine to 0.05*lr",
    }
    ident = run_identity(args.config_key, arch, hyper, ds.files)
    if resume is not None:
        check_resume_compatible(resume, ident, ck_path)

    torch.manual_seed(args.seed)
    np.random.seed(args.seed % (2**32))
    random.seed(args.seed)
    model = PolicyValueNet(board_type, arch["blocks"], arch["channels"])
    full_arch = model.architecture()
    if init_ck is not None:
        model.load_state_dict(init_ck["model"])
    model.to(device)
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=args.lr
    )
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, warmup, args.steps))
    cuda = device.type == "cuda"
    amp_dtype = None
    if cuda:
        amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        torch.backends.cudnn.benchmark = True
    scaler = torch.amp.GradScaler("cuda", enabled=cuda and amp_dtype == torch.float16)

    def amp_ctx():
        return torch.autocast("cuda", dtype=amp_dtype) if cuda else nullcontext()

    step = 0
    if resume is not None:
        model.load_state_dict(resume["model"])
        opt.load_state_dict(resume["optimizer"])
        sched.load_state_dict(resume["scheduler"])
        if "scaler" in resume and resume["scaler"]:
            scaler.load_state_dict(resume["scaler"])
        ckpt.set_rng_state(resume["rng"])
        step = int(resume["step"])
    order = DataOrder(train_idx, args.batch_size, args.seed)
    CURRENT_STEP[0] = step
    # CUDA: keep the window on the GPU when it fits in 40 % of the free memory (batches are then
    # gathered there); otherwise, and on CPU, a background thread builds the batches ahead.
    data_path = "prefetch_thread"
    if args.data_path == "device":
        data_path = "device_resident"
    elif args.data_path == "auto" and cuda and step < args.steps:
        free, _ = torch.cuda.mem_get_info(device)
        if DeviceData.nbytes(ds) < 0.4 * free:
            data_path = "device_resident"

    emit(
        "start",
        total_steps=args.steps,
        resumed_from=step if resume is not None else None,
        device=device.type,
        train_positions=int(len(train_idx)),
        val_positions=int(len(val_idx)),
        params=count_params(model),
        architecture=full_arch,
        config_key=args.config_key,
        window_positions=window,
        files=[{"path": f.path, "positions_used": f.used, "created_at": f.created_at} for f in ds.files],
        init_checkpoint=args.init_checkpoint if init_ck is not None else None,
        amp=str(amp_dtype).replace("torch.", "") if amp_dtype else None,
        data_path=data_path,
    )
    if resume is not None:
        emit("resume", step=step, checkpoint=ck_path)

    eval_idx = val_idx if len(val_idx) > 0 else train_idx
    prior = prior_top1(ds, train_idx, eval_idx)

    def val_metrics(limit: int) -> dict:
        m = evaluate(model, ds, eval_idx[:limit], device, amp_ctx, n_players)
        m["val_prior_top1"] = prior
        m["val_source"] = "val" if len(val_idx) > 0 else "train"
        return m

    def payload(at: int) -> dict:
        return {
            "format": ckpt.CHECKPOINT_FORMAT,
            "step": at,
            "model": {k: v.detach().to("cpu") for k, v in model.state_dict().items()},
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "scaler": scaler.state_dict() if scaler.is_enabled() else {},
            "rng": ckpt.rng_state(),
            "data_order": order.state(at),
            "run": {**ident, "board_type": board_type, "num_players": n_players, "architecture_full": full_arch},
        }

    val_every = hyper["val_every"]
    last_val = None
    pl_acc = vl_acc = 0.0
    acc_n = 0
    t_log = time.perf_counter()
    pos_since = 0
    t_train0 = time.perf_counter()
    trained = 0
    dd = DeviceData(ds, device) if data_path == "device_resident" else None
    pre = Prefetcher(ds, order, step, args.steps, pin=cuda) if step < args.steps and dd is None else None
    model.train()
    try:
        while step < args.steps:
            if dd is not None:
                t = dd.batch(order.batch_indices(step))
            else:
                t = {k: v.to(device, non_blocking=True) for k, v in pre.get(step).items()}
            with amp_ctx():
                logits, value = model(t["features"], t["globals"])
            pl, vl = losses(logits, value, t, n_players)
            loss = pl + args.value_weight * vl
            lv = float(loss.detach())
            if not math.isfinite(lv):
                raise TrainerError("nan_loss", f"loss is {lv} at step {step + 1} (policy {float(pl.detach()):.4g}, value {float(vl.detach()):.4g}); lower --lr or check the data", step + 1)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(model.parameters(), hyper["grad_clip"])
            scaler.step(opt)
            scaler.update()
            sched.step()
            step += 1
            CURRENT_STEP[0] = step
            trained += 1
            pl_acc += float(pl.detach())
            vl_acc += float(vl.detach())
            acc_n += 1
            pos_since += args.batch_size
            if step % args.log_every == 0 or step == args.steps:
                now = time.perf_counter()
                emit(
                    "step",
                    step=step,
                    total_steps=args.steps,
                    policy_loss=pl_acc / acc_n,
                    value_loss=vl_acc / acc_n,
                    lr=opt.param_groups[0]["lr"],
                    positions_per_s=pos_since / max(1e-9, now - t_log),
                )
                pl_acc = vl_acc = 0.0
                acc_n = 0
                pos_since = 0
                t_log = now
            if step % val_every == 0 and step < args.steps:
                last_val = val_metrics(PERIODIC_VAL_MAX)
                emit("val", step=step, **last_val)
            if step % args.checkpoint_every == 0 and step < args.steps:
                ckpt.save_checkpoint(ck_path, payload(step), step)
                emit("checkpoint", step=step, path=ck_path)
    finally:
        if pre is not None:
            pre.close()
    train_seconds = time.perf_counter() - t_train0
    if trained > 0 or resume is None:
        ckpt.save_checkpoint(ck_path, payload(step), step)
        emit("checkpoint", step=step, path=ck_path)

    final = val_metrics(FINAL_VAL_MAX)
    emit("val", step=step, **final)

    # export + check on stored positions (val, or train when val has fewer than 64)
    chk = val_idx[:EXPORT_CHECK_POSITIONS] if len(val_idx) >= EXPORT_CHECK_POSITIONS else train_idx[:EXPORT_CHECK_POSITIONS]
    meta = {
        "board_type": board_type,
        "num_players": n_players,
        "policy_size": layout(board_type).size,
        "architecture": full_arch,
        "config_key": args.config_key,
    }
    ex = export_model(model, onnx_path, meta, ds.features[chk], ds.globals[chk], step)
    emit("export", onnx=onnx_path, sha256=ex["sha256"], max_abs_diff_policy=ex["max_abs_diff_policy"], max_abs_diff_value=ex["max_abs_diff_value"])

    metrics = {k: v for k, v in final.items()}
    metrics["train_positions_per_s"] = trained * args.batch_size / train_seconds if trained else None
    result = {
        "config_key": args.config_key,
        "board_type": board_type,
        "num_players": n_players,
        "architecture": full_arch,
        "params": count_params(model),
        "steps": step,
        "device": device.type,
        "hyperparameters": hyper,
        "metrics": metrics,
        "onnx": {"path": onnx_path, "sha256": ex["sha256"]},
        "checkpoint": ck_path,
        "export_check": {
            "positions": int(len(chk)),
            "split": "val" if len(val_idx) >= EXPORT_CHECK_POSITIONS else "train",
            "max_abs_diff_policy": ex["max_abs_diff_policy"],
            "max_abs_diff_value": ex["max_abs_diff_value"],
        },
        "npz": [{"path": os.path.abspath(f.path), "sha256": f.sha256, "positions_used": f.used, "created_at": f.created_at} for f in ds.files],
        "train_positions": int(len(train_idx)),
        "val_positions": int(len(val_idx)),
        "resumed_from": int(resume["step"]) if resume is not None else None,
        "init_checkpoint": os.path.abspath(args.init_checkpoint) if init_ck is not None else None,
    }
    import json

    ckpt.atomic_write_bytes(result_path, (json.dumps(result, indent=2, allow_nan=False, default=_json_default) + "\n").encode(), "result", step)
    emit("done", step=step, metrics=metrics, result=result_path)
    return 0


def _json_default(x):
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    raise TypeError(type(x))
