"""`python -m trainer bench`: training positions/s of a network and the data path's positions/s."""
from __future__ import annotations

import time

import numpy as np
import torch

from .data import DataOrder, DeviceData, load_dataset, make_batch, parse_config_key
from .errors import bad_input
from .events import emit
from .model import DEFAULT_PRESET, PRESETS, PolicyValueNet, count_params
from .train import losses, pick_device, to_tensors


def run_bench(args) -> int:
    board_type, n_players = parse_config_key(args.config_key)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    ds = load_dataset(args.npz, args.config_key, 10**9, hash_files=False)
    train_idx, _ = ds.split_indices()
    if len(train_idx) == 0:
        raise bad_input("bench: the training split is empty")
    if args.blocks is not None and args.channels is not None:
        arch = {"blocks": args.blocks, "channels": args.channels}
    else:
        arch = dict(PRESETS[args.preset or DEFAULT_PRESET])
    B = args.batch_size
    order = DataOrder(train_idx, B, 1)
    cuda = device.type == "cuda"

    # data path: index order → gathered batch → torch tensors (what the prefetch thread does)
    n_data = max(20, args.steps)
    make_batch(ds, order.batch_indices(0))
    t0 = time.perf_counter()
    for s in range(n_data):
        to_tensors(make_batch(ds, order.batch_indices(s)), cuda)
    data_pps = n_data * B / (time.perf_counter() - t0)
    data_path = "prefetch_thread"
    if cuda and DeviceData.nbytes(ds) < 0.4 * torch.cuda.mem_get_info(device)[0]:
        # what train does on CUDA when the window fits: gather on the GPU
        dd = DeviceData(ds, device)
        dd.batch(order.batch_indices(0))
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for s in range(n_data):
            dd.batch(order.batch_indices(s))
        torch.cuda.synchronize()
        host_pps, data_pps = data_pps, n_data * B / (time.perf_counter() - t0)
        data_path = "device_resident"
    else:
        host_pps = data_pps

    torch.manual_seed(1)
    model = PolicyValueNet(board_type, arch["blocks"], arch["channels"]).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    amp = torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else (torch.float16 if cuda else None)
    scaler = torch.amp.GradScaler("cuda", enabled=amp == torch.float16)
    batches = [to_tensors(make_batch(ds, order.batch_indices(s)), cuda) for s in range(min(8, args.steps + args.warmup))]

    def one(s):
        t = {k: v.to(device, non_blocking=True) for k, v in batches[s % len(batches)].items()}
        with torch.autocast("cuda", dtype=amp) if cuda else torch.autocast("cpu", enabled=False):
            logits, value = model(t["features"], t["globals"])
        pl, vl = losses(logits, value, t, n_players)
        loss = pl + vl
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        return float(loss.detach())

    for s in range(args.warmup):
        one(s)
    if cuda:
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for s in range(args.steps):
        one(s)
    if cuda:
        torch.cuda.synchronize()
    train_pps = args.steps * B / (time.perf_counter() - t0)
    emit(
        "bench",
        board_type=board_type,
        config_key=args.config_key,
        device=device.type,
        amp=str(amp).replace("torch.", "") if amp else None,
        threads=torch.get_num_threads(),
        batch_size=B,
        architecture=model.architecture(),
        params=count_params(model),
        positions=int(ds.n),
        train_positions_per_s=train_pps,
        data_positions_per_s=data_pps,
        data_to_train_ratio=data_pps / train_pps,
        data_path=data_path,
        host_data_positions_per_s=host_pps,
        gpu=torch.cuda.get_device_name(0) if cuda else None,
    )
    return 0
