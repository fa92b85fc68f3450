import type { Attributes } from '@bulwark/core';
import type { Fleet, FleetHost, HostLease } from './fleet.js';

/**
 * The hosts of one call's attempts. Each attempt's host is chosen as the attempt starts (before
 * the policies of the attempt run), so that a breaker or bulkhead keyed by `host`, the attempt's
 * span and its errors all see it: {@link CallRoute.attemptAttributes} goes to the policy's
 * `attemptAttributes`. The attempt's operation then takes that host with {@link CallRoute.take}.
 *
 * A host that failed an attempt is avoided by the later attempts while another remains (failover
 * before commit); so is a host whose attempt a policy refused before it was sent (its breaker open,
 * its bulkhead full).
 */
export class CallRoute {
  /** Hosts this call should not use again while others remain. */
  readonly tried = new Set<FleetHost>();
  readonly #fleet: Fleet;
  readonly #model: string | undefined;
  readonly #pinned: FleetHost | undefined;
  #lease: HostLease | undefined;
  #taken = false;

  constructor(fleet: Fleet, model: string | undefined, pinned?: FleetHost) {
    this.#fleet = fleet;
    this.#model = model;
    this.#pinned = pinned;
  }

  /** The call was pinned to one host (no routing). */
  get pinned(): boolean {
    return this.#pinned !== undefined;
  }

  /** The attributes of attempt `attempt`: routing picks its host now and holds it for the attempt. */
  readonly attemptAttributes = (_attempt: number): Attributes => {
    this.#next();
    return { host: (this.#lease as HostLease).host.origin };
  };

  /** The host of the attempt that is starting; routes now when no attempt was routed. */
  take(): HostLease {
    if (this.#lease === undefined || this.#taken) this.#next();
    this.#taken = true;
    return this.#lease as HostLease;
  }

  /** Marks the host of a failed attempt, so the next attempts go elsewhere. */
  failed(host: FleetHost): void {
    this.tried.add(host);
  }

  /** The call ended: a host routed for an attempt that never ran goes back. */
  end(): void {
    if (this.#lease !== undefined && !this.#taken) this.#lease.cancel();
    this.#lease = undefined;
  }

  #next(): void {
    const previous = this.#lease;
    if (previous !== undefined && !this.#taken) {
      // The previous attempt was refused before it was sent to its host.
      this.tried.add(previous.host);
      previous.cancel();
    }
    this.#lease = this.#fleet.acquire(this.#model, this.tried, this.#pinned);
    this.#taken = false;
  }
}
