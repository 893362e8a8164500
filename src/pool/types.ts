/** Live numbers of one pool key, or of a whole pool instance. */
export interface ConnectionCounts {
  /** Connections carrying at least one command or lease. */
  readonly activeConnections: number;
  /** Open connections carrying nothing. */
  readonly idleConnections: number;
  /** All open connections (active + idle). Connections still being opened are not counted. */
  readonly totalConnections: number;
  /** Commands and leases waiting for a channel slot. */
  readonly pendingRequests: number;
  /** Channels open or opening. */
  readonly openChannels: number;
}

/** Extra details passed as the last argument of every event. Never holds a credential. */
export interface ConnectionEventDetails {
  readonly poolName: string;
  readonly host: string;
  readonly port: number;
  readonly username: string;
  /** Identifier of the connection within its pool instance, when the event concerns one. */
  readonly connectionId?: number;
}
