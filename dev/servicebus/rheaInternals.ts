// rhea exports these at runtime but its typings omit them; every cast into rhea's internals lives
// here so the rest of the broker stays on the typed API.
import type { Socket } from "node:net";
import {
  type AmqpError,
  type ConnectionOptions,
  type Container,
  message,
  type Sender,
  type Typed,
  types,
} from "rhea";

export interface AmqpReader {
  position: number;
  read(): Typed;
  remaining(): number;
}

export interface AmqpWriter {
  write(value: Typed | Described): void;
  toBuffer(): Buffer;
}

export interface Described {
  described(): Typed;
}

const runtimeTypes = types as unknown as {
  Reader: new (buffer: Buffer) => AmqpReader;
  Writer: new () => AmqpWriter;
};

export const createReader = (buffer: Buffer): AmqpReader => new runtimeTypes.Reader(buffer);
export const createWriter = (): AmqpWriter => new runtimeTypes.Writer();

const composites = message as unknown as {
  header(fields: object): Described;
  properties(fields: object): Described;
  rejected(fields: { error?: AmqpError }): Described;
};

export const headerSection = (fields: object): Described => composites.header(fields);
export const propertiesSection = (fields: object): Described => composites.properties(fields);
export const rejectedOutcome = (error?: AmqpError): Typed =>
  composites.rejected({ error }).described();

interface SenderInternals {
  credit: number;
  delivery_count: number;
  _draining: boolean;
  _get_drain(): boolean;
  local: { attach: { snd_settle_mode: number; rcv_settle_mode: number } };
  session: { outgoing: { available(): number } };
}

const internals = (sender: Sender): SenderInternals => sender as unknown as SenderInternals;

/** The delivery count the peer lets us reach; rhea lowers `credit` only as it writes transfers. */
export const creditLimit = (sender: Sender): number =>
  internals(sender).credit + internals(sender).delivery_count;

/** Free slots in the session's outgoing delivery buffer (rhea throws when it overflows). */
export const outgoingSlots = (sender: Sender): number =>
  internals(sender).session.outgoing.available();

export const isDraining = (sender: Sender): boolean => internals(sender)._draining;

export function setSenderSettleModes(sender: Sender, sndSettleMode: number, rcvSettleMode: number) {
  internals(sender).local.attach.snd_settle_mode = sndSettleMode;
  internals(sender).local.attach.rcv_settle_mode = rcvSettleMode;
}

/**
 * rhea answers a drain request only when credit is left after the transfers it wrote, so a
 * receiver whose credit was used up by in-flight messages never hears "drained" and the SDK
 * closes its link after a timeout. This makes the sender always answer with drain=true.
 */
export function answerEveryDrain(sender: Sender, onCreditConsumed: (credit: number) => void) {
  const state = internals(sender);
  state._get_drain = () => {
    if (!state._draining) return false;
    onCreditConsumed(state.credit);
    state.delivery_count += state.credit;
    state.credit = 0;
    return true;
  };
}

/** What `container.listen` does for each socket, for a socket the broker accepted itself. */
export function acceptAmqpConnection(container: Container, options: object, socket: Socket): void {
  (
    container.create_connection(options as ConnectionOptions) as unknown as {
      accept(socket: Socket): void;
    }
  ).accept(socket);
}
