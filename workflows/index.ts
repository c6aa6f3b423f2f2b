// Every workflow the workers register. Deterministic code only: no I/O, clocks or randomness outside the SDK.
export { clusterHealth } from './clusterHealth';
export { canonicalSelfplay } from './canonicalSelfplay';
export { parityValidation } from './parityValidation';
export { npzExport } from './npzExport';
export { train } from './train';
export { gauntlet } from './gauntlet';
export { promote } from './promote';
export { fanOutBatch } from './fanOut';
export { improvementLoop } from './improvementLoop';
export { nightlyPromotion } from './nightlyPromotion';
export { trainingIteration } from './trainingIteration';
