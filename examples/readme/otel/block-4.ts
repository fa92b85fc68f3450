// The ts block 4 of packages/otel/README.md, verbatim below the marker, type-checked.
// biome-ignore-all format: a verbatim copy of a README block, formatted as the README shows it
// biome-ignore-all lint: a verbatim copy of a README block
// biome-ignore-all assist/source/organizeImports: a verbatim copy of a README block
// ---- README block
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { startSpanHook } from '@bulwark/otel';
registerInstrumentations({ instrumentations: [new UndiciInstrumentation({ startSpanHook })] });

export {};
