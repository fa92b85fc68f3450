// Runs the Ollama simulator in its own process for the benchmarks, so that server cost is not
// mixed with client cost. Controlled over IPC by ./sim-process.ts.
import { startOllamaSim } from '@bulwark/ollama-sim';

type Message = { id: number; type: 'setFaults'; faults: unknown[] } | { id: number; type: 'close' };

const options = JSON.parse(process.argv[2] ?? '{}') as Parameters<typeof startOllamaSim>[0];
const sim = await startOllamaSim(options);
process.send?.({ type: 'ready', url: sim.url });
process.on('message', async (message: Message) => {
  if (message.type === 'setFaults') {
    sim.setFaults(message.faults as never);
    process.send?.({ type: 'done', id: message.id });
  } else if (message.type === 'close') {
    await sim.close();
    process.send?.({ type: 'done', id: message.id });
    process.disconnect();
  }
});
process.on('disconnect', () => {
  void sim.close().finally(() => process.exit(0));
});
