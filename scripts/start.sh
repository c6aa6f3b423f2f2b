#!/usr/bin/env bash
# `npm start`: set up, start the embedded default (dev server + workers), then run the main job:
# cluster health, then canonical self-play → parity validation → NPZ export → train on square8 2p.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
./bin/ringrift dev up
./bin/ringrift cluster health

DB=data/games/canonical_square8_2p.db
STAMP=$(date -u +%Y%m%dT%H%M%S)
./bin/ringrift pipeline run canonical_selfplay --board square8 --players 2 --num-games "${RINGRIFT_START_GAMES:-200}" \
  --player-mix heuristic,random --output-db "$DB" --wait
./bin/ringrift pipeline run parity_validation --db "$DB" --wait
./bin/ringrift pipeline run npz_export --db "$DB" --output-dir data/npz --output-name "canonical_square8_2p-$STAMP.npz" --wait
./bin/ringrift pipeline run train --npz data/npz --config-key square8_2p --wait
./bin/ringrift models list --config-key square8_2p
echo "Temporal Web UI: http://127.0.0.1:8233 (stop everything with: ./bin/ringrift dev down)"
