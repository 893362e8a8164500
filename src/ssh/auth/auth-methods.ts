// The order in which a connection offers credentials, as OpenSSH's ssh(1) does it
// (sshconnect2.c pubkey_prepare): identity keys that the agent holds (in the agent's order),
// then the agent's other keys (unless IdentitiesOnly), then the remaining identity keys in
// the order given, then the password. Each attempt is recorded so that an AuthenticationError
// can say exactly what the server turned down.
import ssh2 from 'ssh2';
import type { AuthHandlerMiddleware, BaseAgent as BaseAgentType, ConnectConfig, ParsedKey } from 'ssh2';
import { fingerprintOf } from '../host-keys/host-key-verifier.js';
import type { IdentityKey } from './private-key.js';

/** One question of a keyboard-interactive round, as the server asks it. */
export interface KeyboardInteractivePrompt {
  /** The text to show, e.g. `Password: ` or `Verification code: `. */
  readonly prompt: string;
  /** Whether the answer may be shown as typed (false for passwords and codes). */
  readonly echo: boolean;
}

/** What the server says about a keyboard-interactive round besides its prompts. */
export interface KeyboardInteractiveRound {
  readonly name: string;
  readonly instructions: string;
}

/**
 * Answers one keyboard-interactive round: one answer per prompt, in order. Called for every
 * round of every connection opened (reconnects included); waiting counts against
 * `connectionTimeout`. The answers are sent to the server and kept nowhere else.
 */
export type KeyboardInteractiveHandler = (
  prompts: readonly KeyboardInteractivePrompt[],
  round: KeyboardInteractiveRound,
) => readonly string[] | Promise<readonly string[]>;

/** How a login succeeded, as the connect span reports it. */
export type AuthMethod = 'publickey' | 'password' | 'keyboard-interactive';

/** What a connection may authenticate with. Holds secrets: never log it. */
export interface AuthCredentials {
  /** Keys in the order given (target.privateKey, or the config's IdentityFiles). */
  readonly identities?: readonly IdentityKey[];
  /** ssh-agent socket path. */
  readonly agent?: string;
  readonly password?: string;
  /** Answers keyboard-interactive rounds that are not a lone password prompt. */
  readonly onKeyboardInteractive?: KeyboardInteractiveHandler;
  /** Offer only `identities`, even when the agent holds other keys (IdentitiesOnly). @default false */
  readonly identitiesOnly?: boolean;
  /** Let the server use the agent (ssh -A). @default false */
  readonly forwardAgent?: boolean;
  /** Identities that could not be offered, with why: named in the error when all else fails. */
  readonly skipped?: readonly string[];
}

/** The ssh2 options one connection needs, and the record of what it tried. */
export interface AuthPlan {
  /** Spread into ssh2's ConnectConfig. */
  readonly connectConfig: Pick<ConnectConfig, 'authHandler' | 'agent' | 'agentForward'>;
  /** `agent key ssh-ed25519 SHA256:... (comment), key file /path (ssh-rsa SHA256:...), password`; what was skipped and why. */
  describeAttempts(): string;
  /** The method of the last credential offered: once the connection is ready, the one that succeeded. */
  lastMethod(): AuthMethod | undefined;
  /** Whether a credential was offered: a server that disconnects after that ends the login (OpenSSH past `MaxAuthTries`). */
  credentialsOffered(): boolean;
  /** Whether the server refused an offered credential (not a partial success). */
  credentialsRefused(): boolean;
  /**
   * The login is over (or failed): ssh2 keeps the handler for the connection's life, so it lets
   * go of the plan (steps, keys, attempts and notes) instead of holding it that long.
   */
  release(): void;
}

type Step =
  | { readonly kind: 'publickey'; readonly label: string; readonly key: ParsedKey }
  | { readonly kind: 'agent-key'; readonly label: string; readonly agent: BaseAgentType; readonly key: ParsedKey }
  | { readonly kind: 'password'; readonly label: string; readonly password: string }
  | { readonly kind: 'keyboard-interactive'; readonly label: string };

// A lone prompt like this one is answered with the target's password (PAM's is `Password: `).
const PASSWORD_PROMPT = /pass(word|phrase)|passwort|contraseña|mot de passe/i;

const { BaseAgent, OpenSSHAgent } = ssh2;

/** Exposes one key of an agent, so that each agent key is its own step in our order. */
class OneKeyAgent extends BaseAgent<ParsedKey> {
  readonly #agent: InstanceType<typeof OpenSSHAgent>;
  readonly #key: ParsedKey;

  constructor(agent: InstanceType<typeof OpenSSHAgent>, key: ParsedKey) {
    super();
    this.#agent = agent;
    this.#key = key;
  }

  getIdentities(cb: (error: Error | undefined, keys?: ParsedKey[]) => void): void {
    cb(undefined, [this.#key]);
  }

  sign(pubKey: ParsedKey, data: Buffer, optionsOrCb: unknown, cb?: unknown): void {
    // ssh2 passes (key, data, options, cb); the agent wants the same.
    (this.#agent.sign as (...args: unknown[]) => void)(pubKey, data, optionsOrCb, cb);
  }
}

/** Builds the authentication plan of one connection attempt for `username`. */
export function planAuthentication(username: string, credentials: AuthCredentials): AuthPlan {
  const attempts: string[] = [];
  let lastMethod: AuthMethod | undefined;
  let refused = false;
  const notes: string[] = [...(credentials.skipped ?? [])];
  let steps: Step[] | undefined;

  const prepare = (done: (steps: Step[]) => void): void => {
    if (credentials.agent === undefined) {
      done(ordered([], undefined));
      return;
    }
    const agent = new OpenSSHAgent(credentials.agent);
    agent.getIdentities((error, keys) => {
      if (error || !keys) {
        notes.push(`agent at ${credentials.agent} could not be used (${error?.message ?? 'no answer'})`);
        done(ordered([], undefined));
        return;
      }
      if (keys.length === 0) notes.push(`agent at ${credentials.agent} holds no keys`);
      done(ordered(keys.filter((key): key is ParsedKey => typeof (key as ParsedKey).getPublicSSH === 'function'), agent));
    });
  };

  const ordered = (agentKeys: ParsedKey[], agent: InstanceType<typeof OpenSSHAgent> | undefined): Step[] => {
    const identities = [...(credentials.identities ?? [])];
    const preferred: Step[] = [];
    const others: Step[] = [];
    for (const key of agentKeys) {
      const blob = key.getPublicSSH();
      const index = identities.findIndex((identity) => identity.publicBlob.equals(blob));
      const label = `agent key ${key.type} ${fingerprintOf(blob)}${key.comment ? ` (${key.comment})` : ''}`;
      if (index >= 0) {
        identities.splice(index, 1);
        preferred.push({ kind: 'agent-key', label, agent: new OneKeyAgent(agent!, key), key });
      } else if (!credentials.identitiesOnly) {
        others.push({ kind: 'agent-key', label, agent: new OneKeyAgent(agent!, key), key });
      }
    }
    const files: Step[] = [];
    for (const identity of identities) {
      if (identity.privateKey) {
        files.push({ kind: 'publickey', label: `key ${identity.source} (${identity.keyType} ${identity.fingerprint})`, key: identity.privateKey });
      } else {
        notes.push(`${identity.source} skipped: encrypted, no passphrase, and not in the agent`);
      }
    }
    const password: Step[] = credentials.password === undefined ? [] : [{ kind: 'password', label: 'password', password: credentials.password }];
    // As ssh: keyboard-interactive when there is something to answer with (PAM servers often
    // allow only this method, and ask for the password through it).
    const interactive: Step[] = credentials.password !== undefined || credentials.onKeyboardInteractive
      ? [{ kind: 'keyboard-interactive', label: 'keyboard-interactive' }]
      : [];
    return [...preferred, ...others, ...files, ...password, ...interactive];
  };

  // ssh2 calls this once per round the server sends; answers go to `finish` and nowhere else.
  const answerRound = (
    name: string,
    instructions: string,
    _language: string,
    prompts: ReadonlyArray<{ prompt: string; echo?: boolean }>,
    finish: (answers: string[]) => void,
  ): void => {
    const asked = prompts.map((one) => ({ prompt: String(one.prompt), echo: one.echo === true }));
    if (asked.length === 0) return finish([]);
    if (asked.length === 1 && !asked[0]!.echo && credentials.password !== undefined && PASSWORD_PROMPT.test(asked[0]!.prompt)) {
      return finish([credentials.password]);
    }
    const handler = credentials.onKeyboardInteractive;
    if (!handler) {
      notes.push(`keyboard-interactive asked ${asked.length} question(s) that only onKeyboardInteractive could answer`);
      return finish([]);
    }
    const refuse = (why: string): void => {
      notes.push(`onKeyboardInteractive ${why}`);
      finish([]);
    };
    let answered: readonly string[] | Promise<readonly string[]>;
    try {
      answered = handler(asked, { name: String(name ?? ''), instructions: String(instructions ?? '') });
    } catch (error) {
      // Its message is the application's, and could hold an answer: only its name is kept.
      return refuse(`threw ${(error as Error | undefined)?.name ?? 'a value'}`);
    }
    Promise.resolve(answered).then(
      (answers) => {
        if (!Array.isArray(answers) || answers.length !== asked.length || !answers.every((answer) => typeof answer === 'string')) {
          refuse(`must return one string per prompt (${asked.length})`);
        } else {
          finish([...answers]);
        }
      },
      (error: unknown) => refuse(`rejected with ${(error as Error | undefined)?.name ?? 'a value'}`),
    );
  };

  const authHandler: AuthHandlerMiddleware = (authsLeft, partialSuccess, next) => {
    // Called again after each answer: without a partial success, the last offer was refused.
    if (attempts.length > 0 && !partialSuccess) refused = true;
    const proceed = (): void => {
      // authsLeft is null before the first answer; afterwards, only what the server still allows.
      const allowed = authsLeft ?? undefined;
      while (steps!.length > 0) {
        const step = steps!.shift()!;
        const method: AuthMethod = step.kind === 'password' || step.kind === 'keyboard-interactive' ? step.kind : 'publickey';
        if (allowed && !allowed.includes(method)) {
          // Keyboard-interactive only implied by a password is not worth a note where refused.
          if (step.kind !== 'keyboard-interactive' || credentials.onKeyboardInteractive) {
            notes.push(`${step.label} not offered: the server does not accept ${method}`);
          }
          continue;
        }
        attempts.push(step.label);
        lastMethod = method;
        if (step.kind === 'publickey') next({ type: 'publickey', username, key: step.key });
        else if (step.kind === 'agent-key') next({ type: 'agent', username, agent: step.agent });
        else if (step.kind === 'password') next({ type: 'password', username, password: step.password });
        else next({ type: 'keyboard-interactive', username, prompt: answerRound });
        return;
      }
      next(false as unknown as Parameters<typeof next>[0]);
    };
    if (steps) proceed();
    else
      prepare((prepared) => {
        steps = prepared;
        proceed();
      });
  };

  const holder: HandlerHolder = { handler: authHandler };
  const forwarder = forwardingAuthHandler(holder);
  const release = (): void => {
    holder.handler = undefined;
  };
  const connectConfig: AuthPlan['connectConfig'] = credentials.forwardAgent && credentials.agent !== undefined
    ? { authHandler: forwarder, agent: credentials.agent, agentForward: true }
    : { authHandler: forwarder };
  return {
    connectConfig,
    describeAttempts: () => describe(attempts, notes),
    lastMethod: () => lastMethod,
    credentialsOffered: () => attempts.length > 0,
    credentialsRefused: () => refused,
    release,
  };
}

interface HandlerHolder {
  handler: AuthHandlerMiddleware | undefined;
}

/**
 * The handler ssh2 keeps: made outside `planAuthentication` so that it holds only `holder`, not
 * the plan's scope; once released, it offers nothing more.
 */
function forwardingAuthHandler(holder: HandlerHolder): AuthHandlerMiddleware {
  return (authsLeft, partialSuccess, next) => {
    if (holder.handler) holder.handler(authsLeft, partialSuccess, next);
    else next(false as unknown as Parameters<typeof next>[0]);
  };
}

function describe(attempts: readonly string[], notes: readonly string[]): string {
  const tried = attempts.length > 0 ? `tried ${attempts.join(', ')}` : 'nothing could be offered';
  return notes.length > 0 ? `${tried}; ${notes.join('; ')}` : tried;
}
