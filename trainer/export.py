"""ONNX export (ai/MODEL.md contract) and the torch-vs-onnxruntime check."""
from __future__ import annotations

import copy
import json
import os
import tempfile
import warnings

import numpy as np
import torch

from .checkpoint import atomic_write_bytes
from .errors import TrainerError
from .layout import ENCODER_VERSION

MODEL_CONTRACT = "rr-model-v1"
OPSET = 18
TOLERANCE = 1e-4


def _export_onnx(model: torch.nn.Module, example: tuple[torch.Tensor, torch.Tensor], path: str) -> None:
    kwargs = dict(input_names=["features", "globals"], output_names=["policy", "value"], opset_version=OPSET)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            batch = torch.export.Dim("batch", min=1)
            torch.onnx.export(
                model,
                example,
                path,
                dynamo=True,
                dynamic_shapes=({0: batch}, {0: batch}),
                external_data=False,
                verbose=False,
                **kwargs,
            )
        except Exception as dynamo_err:  # fall back to the TorchScript exporter
            try:
                torch.onnx.export(
                    model,
                    example,
                    path,
                    dynamo=False,
                    dynamic_axes={"features": {0: "batch"}, "globals": {0: "batch"}, "policy": {0: "batch"}, "value": {0: "batch"}},
                    **kwargs,
                )
            except Exception as ts_err:
                raise TrainerError("internal", f"ONNX export failed: dynamo: {dynamo_err}; torchscript: {ts_err}") from None


def export_model(model: torch.nn.Module, out_path: str, meta: dict, check_features: np.ndarray, check_globals: np.ndarray, step: int) -> dict:
    """Export to `out_path` atomically after checking onnxruntime against torch on the given
    positions. Returns {"sha256", "max_abs_diff_policy", "max_abs_diff_value", "onnx_outputs"}."""
    import onnx
    import onnxruntime as ort

    m = copy.deepcopy(model).to("cpu").float().eval()
    feats = torch.from_numpy(np.ascontiguousarray(check_features, dtype=np.float32))
    globs = torch.from_numpy(np.ascontiguousarray(check_globals, dtype=np.float32))
    d = os.path.dirname(os.path.abspath(out_path))
    with tempfile.TemporaryDirectory(dir=d, prefix=".onnx-export-") as td:
        raw = os.path.join(td, "model.onnx")
        _export_onnx(m, (feats[:2], globs[:2]), raw)
        proto = onnx.load(raw)
        props = {
            "board_type": meta["board_type"],
            "num_players": str(meta["num_players"]),
            "encoder_version": ENCODER_VERSION,
            "policy_size": str(meta["policy_size"]),
            "architecture": json.dumps(meta["architecture"], sort_keys=True),
            "model_contract": MODEL_CONTRACT,
            "config_key": meta["config_key"],
            "trained_steps": str(step),
        }
        del proto.metadata_props[:]
        for k, v in props.items():
            e = proto.metadata_props.add()
            e.key, e.value = k, v
        onnx.checker.check_model(proto)
        data = proto.SerializeToString()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        sess = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
        names = [i.name for i in sess.get_inputs()]
        if names != ["features", "globals"] or [o.name for o in sess.get_outputs()] != ["policy", "value"]:
            raise TrainerError("internal", f"exported ONNX has inputs {names} / outputs {[o.name for o in sess.get_outputs()]}", step)
        pol, val = sess.run(["policy", "value"], {"features": feats.numpy(), "globals": globs.numpy()})
        with torch.no_grad():
            tp, tv = m(feats, globs)
        dp = float(np.max(np.abs(pol - tp.numpy())))
        dv = float(np.max(np.abs(val - tv.numpy())))
        if not (dp <= TOLERANCE and dv <= TOLERANCE) or pol.shape != tuple(tp.shape):
            raise TrainerError("internal", f"ONNX export check failed: onnxruntime vs torch max abs diff policy {dp:.3g}, value {dv:.3g} (limit {TOLERANCE})", step)
        # batch 1 must work too (dynamic batch axis)
        p1, _ = sess.run(["policy", "value"], {"features": feats.numpy()[:1], "globals": globs.numpy()[:1]})
        if p1.shape != (1, meta["policy_size"]):
            raise TrainerError("internal", f"ONNX export: batch of 1 gives policy shape {p1.shape}", step)
    atomic_write_bytes(out_path, data, "model", step)
    import hashlib

    return {
        "sha256": hashlib.sha256(data).hexdigest(),
        "max_abs_diff_policy": dp,
        "max_abs_diff_value": dv,
        "onnx_policy": pol,
        "onnx_value": val,
    }
