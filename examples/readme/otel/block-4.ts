// The ts block 4 of packages/otel/README.md, verbatim below the marker, type-checked.
// ---- README block
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { startSpanHook } from '@bulwark/otel';
registerInstrumentations({ instrumentations: [new UndiciInstrumentation({ startSpanHook })] });

export {};
