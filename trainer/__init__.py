"""RingRift Python trainer: NPZ (rr-npz-v1) → residual CNN (PyTorch) → ONNX (rr-model-v1)."""
__version__ = "0.1.0"
