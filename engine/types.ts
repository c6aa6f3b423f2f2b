// Public types of the RingRift rules engine (reference move JSON shape).
export type BoardType = 'square8' | 'square19' | 'hex8' | 'hexagonal';

export interface Position {
  x: number;
  y: number;
  z?: number;
}

export type GamePhase =
  | 'ring_placement'
  | 'movement'
  | 'capture'
  | 'chain_capture'
  | 'line_processing'
  | 'territory_processing'
  | 'forced_elimination'
  | 'game_over';

export type GameStatus = 'active' | 'completed';

export type MoveType =
  | 'place_ring'
  | 'skip_placement'
  | 'no_placement_action'
  | 'swap_sides'
  | 'move_stack'
  | 'overtaking_capture'
  | 'continue_capture_segment'
  | 'skip_capture'
  | 'no_movement_action'
  | 'recovery_slide'
  | 'skip_recovery'
  | 'process_line'
  | 'choose_line_option'
  | 'no_line_action'
  | 'eliminate_rings_from_stack'
  | 'choose_territory_option'
  | 'skip_territory_processing'
  | 'no_territory_action'
  | 'forced_elimination';

export interface LineInfo {
  positions: Position[];
  player: number;
  length: number;
  direction: Position;
}

export interface Territory {
  spaces: Position[];
  controllingPlayer: number;
  isDisconnected: boolean;
}

export interface Move {
  type: MoveType;
  player: number;
  to: Position;
  from?: Position;
  captureTarget?: Position;
  formedLines?: LineInfo[];
  collapsedMarkers?: Position[];
  disconnectedRegions?: Territory[];
  eliminatedRings?: { player: number; count: number }[];
  eliminationContext?: 'line' | 'territory' | 'recovery';
  eliminationFromStack?: { position: Position; capHeight: number; totalHeight: number };
  recoveryMode?: 'line' | 'fallback' | 'stack_strike';
  extractionStacks?: unknown[];
  option?: number;
  collapsePositions?: Position[];
  placementCount?: number;
}

export interface RulesOptions {
  /** pie rule for 2-player games (the traces use true) */
  swapRuleEnabled?: boolean;
  /** consecutive exclusive rounds needed for last-player-standing (reference: 3) */
  lpsRoundsRequired?: number;
}

export type VictoryReason = 'ring_elimination' | 'territory_control' | 'last_player_standing' | 'game_completed';

export interface GameResult {
  status: GameStatus;
  winner: number | null;
  victoryReason: VictoryReason | null;
  /** which host-level check ended the game, if any */
  hostEvent: 'early_victory' | 'lps_victory' | 'bare_board_stalemate' | null;
}
