import type { AuthHandlerMiddleware } from 'ssh2';

/** Asked once before credentials go out: true/false at once, or a promise when the attempt must wait. */
export type LoginTurn = () => boolean | Promise<boolean>;

/** What an attempt does when its login turn comes after a wait, or is denied. */
export interface LoginTurnOutcomes {
  /** The turn came after a wait; credentials go out next. */
  waited(): void;
  /** The turn was denied, or could not be had: the caller ends the attempt. */
  refused(): void;
}

/**
 * An ssh2 `authHandler` that offers nothing until `turn` allows it, then hands every call to
 * `handler`. ssh2 first calls the handler once the server has accepted the `ssh-userauth`
 * service, so an attempt waiting here has its TCP connection and key exchange done already.
 * Invariant: after the first call it holds nothing but `handler` (ssh2 keeps the handler for
 * the connection's life).
 */
export function afterLoginTurn(handler: AuthHandlerMiddleware, turn: LoginTurn, outcomes: LoginTurnOutcomes): AuthHandlerMiddleware {
  let waiting: { turn: LoginTurn; outcomes: LoginTurnOutcomes } | undefined = { turn, outcomes };
  return (authsLeft, partialSuccess, next) => {
    const first = waiting;
    if (!first) {
      handler(authsLeft, partialSuccess, next);
      return;
    }
    waiting = undefined;
    const allowed = first.turn();
    if (allowed === true) handler(authsLeft, partialSuccess, next);
    else if (allowed === false) first.outcomes.refused();
    else {
      allowed.then(
        (granted) => {
          if (!granted) return first.outcomes.refused();
          first.outcomes.waited();
          handler(authsLeft, partialSuccess, next);
        },
        () => first.outcomes.refused(),
      );
    }
  };
}
