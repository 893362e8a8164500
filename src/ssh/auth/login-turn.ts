import type { AuthHandlerMiddleware } from 'ssh2';
import type { LoginTurnAnswer } from '../connection.js';

/** Asked once before credentials go out: the answer at once, or a promise when the attempt must wait. */
export type LoginTurn = () => LoginTurnAnswer | Promise<LoginTurnAnswer>;

/** What an attempt does when its login turn comes after a wait, or is denied. */
export interface LoginTurnOutcomes {
  /** The attempt must wait for its turn (another attempt's login is under way). */
  waiting(): void;
  /** The turn came after a wait; credentials go out next. */
  waited(): void;
  /** The turn was denied (`refused`, `closed`), or could not be had (`refused`): the caller ends the attempt. */
  denied(why: Exclude<LoginTurnAnswer, 'granted'>): void;
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
    const answer = first.turn();
    if (answer === 'granted') handler(authsLeft, partialSuccess, next);
    else if (typeof answer === 'string') first.outcomes.denied(answer);
    else {
      first.outcomes.waiting();
      answer.then(
        (later) => {
          if (later !== 'granted') return first.outcomes.denied(later);
          first.outcomes.waited();
          handler(authsLeft, partialSuccess, next);
        },
        () => first.outcomes.denied('refused'),
      );
    }
  };
}
