// Runs the Ollama simulator in its own process for the benchmarks, so that server cost is not
// mixed with client cost. Controlled over IPC by ./sim-process.ts.
import { startOllamaSim } from '@bulwark/ollama-sim';

type Message = { id: number; type: 'setFaults'; faults: unknown[] } | { id: number; type: 'close' };

type Options = NonNullable<Parameters<typeof startOllamaSim>[0]> & {
  /** Seeded share of /api/chat requests answered 503, hung and answered 500, for the fault benchmarks. */
  faultMix?: { busy: number; hang: number; error?: number; seed: number };
};
const { faultMix, ...options } = JSON.parse(process.argv[2] ?? '{}') as Options;
if (faultMix) {
  let state = faultMix.seed >>> 0 || 1;
  const random = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4_294_967_296;
  };
  const drawn = new Map<number, number>();
  const draw = (index: number) => {
    let value = drawn.get(index);
    if (value === undefined) {
      value = random();
      drawn.set(index, value);
    }
    return value;
  };
  options.faults = [
    { route: '/api/chat', status: 503, when: (request) => draw(request.index) < faultMix.busy },
    {
      route: '/api/chat',
      kind: 'hang',
      when: (request) =>
        draw(request.index) >= faultMix.busy && draw(request.index) < faultMix.busy + faultMix.hang,
    },
    {
      route: '/api/chat',
      status: 500,
      when: (request) =>
        draw(request.index) >= faultMix.busy + faultMix.hang &&
        draw(request.index) < faultMix.busy + faultMix.hang + (faultMix.error ?? 0),
    },
  ];
}
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
