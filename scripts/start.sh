#!/usr/bin/env bash
# `npm start`: set up, start the embedded default (dev server + workers), then run the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
./bin/ringrift dev up
./bin/ringrift cluster health
./bin/ringrift pipeline run canonical_selfplay --board square8 --players 2 --num-games "${RINGRIFT_START_GAMES:-200}" \
  --player-mix heuristic,random --output-db data/games/canonical_square8_2p.db --wait
echo "Temporal Web UI: http://127.0.0.1:8233 (stop everything with: ./bin/ringrift dev down)"
