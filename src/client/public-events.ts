import type { HostPoolEvent, HostPoolObserver } from '../pool/host-pool-events.js';
import type { PoolEvents } from './types.js';
import type { TypedEventEmitter } from '../core/typed-event-emitter.js';
import type { ConnectionEventDetails } from '../pool/types.js';

/**
 * The public `connection:*` and `pool:full` events (README "Events"), as an observer of one host
 * pool's event stream. The first argument is the host name; the last carries the details.
 */
export function publicEventsObserver(emitter: TypedEventEmitter<PoolEvents>, details: ConnectionEventDetails): HostPoolObserver {
  const { host } = details;
  // One closure per host pool and nothing more: a fleet has thousands of them.
  return (event: HostPoolEvent): void => {
    switch (event.type) {
      case 'connected':
        emitter.emit('connection:created', host, event.durationMs, withConnection(details, event.connection.id));
        break;
      case 'acquired':
        // The hot path of every command: no details object unless someone listens.
        if (event.outcome === 'reused' && emitter.listenerCount('connection:reused') > 0) {
          emitter.emit('connection:reused', host, withConnection(details, event.connection.id));
        }
        break;
      case 'connect-failed':
        emitter.emit('connection:failed', host, event.error, details);
        break;
      case 'closed': {
        const connectionDetails = withConnection(details, event.connection.id);
        if (event.idleMs !== undefined) emitter.emit('connection:idle', host, event.idleMs, connectionDetails);
        if (event.reason === 'error' && event.error) emitter.emit('connection:error', host, event.error, connectionDetails);
        emitter.emit('connection:closed', host, event.reason, connectionDetails);
        break;
      }
      case 'probe-finished':
        if (event.healthy) emitter.emit('connection:healthy', host, withConnection(details, event.connection.id));
        else if (!event.lost) emitter.emit('connection:unhealthy', host, event.error ?? new Error('health check failed'), withConnection(details, event.connection.id));
        break;
      case 'reconnect-started':
        emitter.emit('connection:reconnecting', host, event.attempt, details);
        break;
      case 'reconnect-finished':
        if (event.outcome === 'success') {
          emitter.emit('connection:reconnected', host, event.connection ? withConnection(details, event.connection.id) : details);
        }
        break;
      case 'pool-full':
        emitter.emit('pool:full', host, details);
        break;
      default:
        break;
    }
  };
}

function withConnection(details: ConnectionEventDetails, id: number): ConnectionEventDetails {
  return { ...details, connectionId: id };
}
