import type { ModelStats } from './types.js';

type Gauge = 'inFlight' | 'generating' | 'waitingForSlot' | 'queued';
type Tally = 'loads' | 'requests';

interface Counters {
  inFlight: number;
  maxInFlight: number;
  generating: number;
  maxGenerating: number;
  waitingForSlot: number;
  queued: number;
  loads: number;
  requests: number;
}

function zero(): Counters {
  return {
    inFlight: 0,
    maxInFlight: 0,
    generating: 0,
    maxGenerating: 0,
    waitingForSlot: 0,
    queued: 0,
    loads: 0,
    requests: 0,
  };
}

function bump(counters: Counters, gauge: Gauge): void {
  counters[gauge]++;
  if (gauge === 'inFlight' && counters.inFlight > counters.maxInFlight)
    counters.maxInFlight = counters.inFlight;
  if (gauge === 'generating' && counters.generating > counters.maxGenerating)
    counters.maxGenerating = counters.generating;
}

/** Per-model and server-wide counters: in flight, generating, waiting, and their peaks. */
export class SimStats {
  private readonly models = new Map<string, Counters>();
  private readonly total = zero();

  private of(key: string): Counters {
    let counters = this.models.get(key);
    if (!counters) {
      counters = zero();
      this.models.set(key, counters);
    }
    return counters;
  }

  enter(key: string, gauge: Gauge): void {
    bump(this.of(key), gauge);
    bump(this.total, gauge);
  }

  leave(key: string, gauge: Gauge): void {
    this.of(key)[gauge]--;
    this.total[gauge]--;
  }

  count(key: string, tally: Tally): void {
    this.of(key)[tally]++;
    this.total[tally]++;
  }

  reset(): void {
    for (const counters of [...this.models.values(), this.total]) {
      counters.maxInFlight = counters.inFlight;
      counters.maxGenerating = counters.generating;
      counters.loads = 0;
      counters.requests = 0;
    }
  }

  snapshot(key: string | undefined, loaded: boolean | number): ModelStats {
    const counters = key === undefined ? this.total : (this.models.get(key) ?? zero());
    return { ...counters, loaded };
  }
}
