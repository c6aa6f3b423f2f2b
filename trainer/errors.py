"""Trainer errors: each carries the error event's code and the process exit status."""
from __future__ import annotations

EXIT_CODES = {"bad_input": 2, "nan_loss": 3, "disk_full": 4, "internal": 1}


class TrainerError(Exception):
    def __init__(self, code: str, message: str, step: int | None = None):
        super().__init__(message)
        assert code in EXIT_CODES, code
        self.code = code
        self.message = message
        self.step = step

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.code]


def bad_input(message: str) -> TrainerError:
    return TrainerError("bad_input", message)
