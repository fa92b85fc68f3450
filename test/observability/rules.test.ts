import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { requireBinary } from './binaries.js';

const run = promisify(execFile);
const promtool = requireBinary('promtool');
const folder = fileURLToPath(new URL('../../observability/prometheus/', import.meta.url));
const read = (name: string) => readFileSync(join(folder, name), 'utf8');
const scratch = mkdtempSync(join(tmpdir(), 'bulwark-rules-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The OTLP files are the exporter's files with the names OTLP translation gives. */
const toOtlp = (text: string) =>
  text
    .replaceAll('gen_ai_client_operation_duration_bucket', 'gen_ai_client_operation_duration_seconds_bucket')
    .replaceAll(
      'gen_ai_client_operation_time_to_first_chunk_bucket',
      'gen_ai_client_operation_time_to_first_chunk_seconds_bucket',
    )
    .replaceAll('bulwark_circuit_breaker_state{', 'bulwark_circuit_breaker_state_ratio{')
    .replaceAll('bulwark.rules.yml', 'bulwark.rules.otlp.yml')
    .replaceAll('bulwark.rules.test.yml', 'bulwark.rules.otlp.test.yml');
const withoutComments = (text: string) =>
  text
    .split('\n')
    .filter((line) => !line.startsWith('#'))
    .join('\n');

describe.skipIf(promtool === undefined)('observability/prometheus rules', () => {
  it.each(['bulwark.rules.yml', 'bulwark.rules.otlp.yml'])('%s passes promtool check rules', async (file) => {
    const { stdout } = await run(promtool as string, ['check', 'rules', join(folder, file)], {
      timeout: 15_000,
    });
    expect(stdout).toContain('SUCCESS: 11 rules found');
  });

  it.each(['bulwark.rules.test.yml', 'bulwark.rules.otlp.test.yml'])(
    '%s: every recording and alert rule unit test passes',
    async (file) => {
      const { stdout } = await run(promtool as string, ['test', 'rules', file], {
        cwd: folder,
        timeout: 30_000,
      });
      expect(stdout).toContain('SUCCESS');
    },
  );

  it('keeps the OTLP files identical to the exporter files but for the metric names', () => {
    expect(withoutComments(read('bulwark.rules.otlp.yml'))).toBe(
      withoutComments(toOtlp(read('bulwark.rules.yml'))),
    );
    expect(withoutComments(read('bulwark.rules.otlp.test.yml'))).toBe(
      withoutComments(toOtlp(read('bulwark.rules.test.yml'))),
    );
  });

  it('tells 10 % from 1 %: with a 0.5 % threshold the 1 % model fires too, and the unit test fails', async () => {
    cpSync(join(folder, 'bulwark.rules.test.yml'), join(scratch, 'bulwark.rules.test.yml'));
    const rules = read('bulwark.rules.yml');
    expect(rules).toContain('bulwark:call_timeout_ratio:rate5m > 0.05');
    writeFileSync(
      join(scratch, 'bulwark.rules.yml'),
      rules.replace('bulwark:call_timeout_ratio:rate5m > 0.05', 'bulwark:call_timeout_ratio:rate5m > 0.005'),
    );
    const failed = await run(promtool as string, ['test', 'rules', 'bulwark.rules.test.yml'], {
      cwd: scratch,
      timeout: 30_000,
    }).then(
      () => undefined,
      (error: { stdout?: string; stderr?: string }) => `${error.stdout ?? ''}${error.stderr ?? ''}`,
    );
    expect(failed).toContain('FAILED');
    expect(failed).toContain('gen_ai_request_model="model-b"');
  });
});
