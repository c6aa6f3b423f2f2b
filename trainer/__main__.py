"""CLI: `python -m trainer train …` and `python -m trainer bench …` (see trainer/README.md)."""
from __future__ import annotations

import argparse
import sys
import traceback

from .errors import TrainerError
from .events import claim_stdout, emit
from .parent_watch import start_parent_watch


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one clear line + exit code 2, as an error event
        emit("error", code="bad_input", message=f"{self.prog}: {message}", step=None)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m trainer", description="RingRift trainer")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)
    t = sub.add_parser("train", help="train a policy/value net on NPZ files and export ONNX")
    t.add_argument("--npz", nargs="+", required=True, metavar="FILE")
    t.add_argument("--config-key", required=True, help="e.g. square8_2p")
    t.add_argument("--out-dir", required=True)
    t.add_argument("--steps", type=int, default=400)
    t.add_argument("--batch-size", type=int, default=256)
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--weight-decay", type=float, default=1e-4)
    t.add_argument("--value-weight", type=float, default=1.0, help="weight of the value loss (policy loss weight 1)")
    t.add_argument("--warmup-steps", type=int, default=None, help="default: steps/10, between 1 and 200")
    t.add_argument("--blocks", type=int, default=None)
    t.add_argument("--channels", type=int, default=None)
    t.add_argument("--preset", choices=["cpu", "gpu"], default=None, help="cpu (default) or gpu")
    t.add_argument("--window-positions", type=int, default=500000)
    t.add_argument("--checkpoint-every", type=int, default=100)
    t.add_argument("--log-every", type=int, default=10)
    t.add_argument("--val-every", type=int, default=None, help="default: --checkpoint-every")
    t.add_argument("--seed", type=int, default=1)
    t.add_argument("--init-checkpoint", default=None)
    t.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    t.add_argument("--threads", type=int, default=None)
    t.add_argument(
        "--data-path",
        choices=["auto", "prefetch", "device"],
        default="auto",
        help="batches from a prefetch thread, or gathered on the device (auto: device on CUDA when the window fits)",
    )
    b = sub.add_parser("bench", help="training and data-path throughput on NPZ files")
    b.add_argument("--npz", nargs="+", required=True)
    b.add_argument("--config-key", required=True)
    b.add_argument("--batch-size", type=int, default=256)
    b.add_argument("--steps", type=int, default=20)
    b.add_argument("--warmup", type=int, default=3)
    b.add_argument("--blocks", type=int, default=None)
    b.add_argument("--channels", type=int, default=None)
    b.add_argument("--preset", choices=["cpu", "gpu"], default=None)
    b.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu")
    b.add_argument("--threads", type=int, default=None)
    return p


def main(argv=None, claim: bool = True) -> int:
    if claim:
        claim_stdout()
        start_parent_watch()  # exit when the spawning worker dies (RINGRIFT_TRAINER_WATCH_STDIN=1)
    args = build_parser().parse_args(argv)
    for k in ("checkpoint_every", "log_every", "val_every"):
        v = getattr(args, k, None)
        if v is not None and v < 1:
            emit("error", code="bad_input", message=f"--{k.replace('_', '-')} must be >= 1", step=None)
            return 2
    step = None
    try:
        if args.cmd == "train":
            from . import train

            try:
                return train.run_train(args)
            finally:
                step = train.CURRENT_STEP[0]
        from .bench import run_bench

        return run_bench(args)
    except TrainerError as e:
        emit("error", code=e.code, message=e.message, step=e.step if e.step is not None else step)
        return e.exit_code
    except MemoryError:
        emit("error", code="internal", message="out of memory (lower --window-positions or --batch-size)", step=step)
        return 1
    except OSError as e:
        import errno

        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            emit("error", code="disk_full", message=f"no space left on the device: {e.filename or ''}", step=step)
            return 4
        traceback.print_exc()
        emit("error", code="internal", message=f"{type(e).__name__}: {e}", step=step)
        return 1
    except Exception as e:
        traceback.print_exc()
        msg = str(e).splitlines()[0] if str(e) else ""
        emit("error", code="internal", message=f"{type(e).__name__}: {msg}", step=step)
        return 1


if __name__ == "__main__":
    sys.exit(main())
