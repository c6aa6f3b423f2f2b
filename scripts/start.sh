#!/usr/bin/env bash
# `npm start`: set up, start the embedded default (dev server + workers), then run the main job:
# cluster health, then one training iteration on square8 2p (self-play → parity → NPZ export → train
# → gauntlet + promotion), the Elo ladder and its HTML report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
./bin/ringrift dev up
./bin/ringrift cluster health

mkdir -p data/reports
LOG=data/reports/start-iteration.log
./bin/ringrift pipeline run iteration --config-key square8_2p --wait | tee "$LOG"
./bin/ringrift ratings show --config-key square8_2p
./bin/ringrift ratings plot --config-key square8_2p --out data/reports/ratings-square8_2p.html
echo "Temporal Web UI: http://127.0.0.1:8233 (stop everything with: ./bin/ringrift dev down)"
# the main job ends with a promoted model; a rejected candidate fails `npm start`
grep -q '^promoted: ' "$LOG" || { echo "npm start: the iteration's candidate was not promoted (see above)" >&2; exit 1; }
