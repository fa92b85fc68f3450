import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Runs `bulwark-gateway --upstream URL --port 0` in a child process and waits for its URL. */
export async function startGatewayProcess(
  upstream: string,
): Promise<{ url: string; close(): Promise<void> }> {
  const cli = fileURLToPath(new URL('../../packages/gateway/dist/cli.js', import.meta.url));
  const child: ChildProcess = spawn(process.execPath, [cli, '--upstream', upstream, '--port', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, BULWARK_GATEWAY_CONFIG: '' },
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the gateway did not start within 30 s: ${output}`)),
      30_000,
    );
    child.once('exit', (code) => reject(new Error(`the gateway exited with ${code}: ${output}`)));
    child.stdout?.on('data', (data: Buffer) => {
      output += data.toString();
      const match = /Bulwark gateway listening on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1] as string);
      }
    });
  });
  return {
    url,
    async close() {
      if (child.exitCode !== null) return;
      child.removeAllListeners('exit');
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
