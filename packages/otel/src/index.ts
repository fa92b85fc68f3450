import { instrument } from './instrument.js';

export { errorType } from './error-type.js';
export { createInstrumentation, instrument } from './instrument.js';
export { startSpanHook } from './start-span-hook.js';
export type { ObservableStore } from './store-events.js';
export { instrumentStores } from './store-events.js';
export type {
  InstrumentOptions,
  LoggerLike,
  LogRecordLike,
  SemconvMode,
  UndiciRequestLike,
} from './types.js';

export default instrument;
