import { createContextKey } from '@opentelemetry/api';
import type { Attributes, Context } from '@opentelemetry/api';

// Layers above the pool (host groups) say what the next `ssh.exec` span should also carry by
// putting attributes in the context; the span is started below them, where they are read.
const EXEC_ATTRIBUTES = createContextKey('sshpool.exec-attributes');

/** `context` with attributes for every `ssh.exec` span started inside it. */
export function withExecAttributes(context: Context, attributes: Attributes): Context {
  return context.setValue(EXEC_ATTRIBUTES, attributes);
}

/** The attributes a layer above asked the `ssh.exec` span started in `context` to carry. */
export function execAttributesOf(context: Context): Attributes | undefined {
  return context.getValue(EXEC_ATTRIBUTES) as Attributes | undefined;
}
