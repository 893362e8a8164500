// The import rules of docs/architecture.md, checked on every `npm test`.
// Layers, lowest first: each may import only the layers before it (type-only imports included).
const LAYERS = ['core', 'command', 'ssh', 'config', 'pool', 'telemetry', 'client', 'groups'];
const FACADE = '^src/(executor|index)[.]ts$';

const upward = LAYERS.map((layer, index) => ({
  name: `${layer}-imports-only-lower-layers`,
  comment: `src/${layer}/ may import only ${LAYERS.slice(0, index).join(', ') || 'nothing else from src/'}`,
  severity: 'error',
  from: { path: `^src/${layer}/` },
  to: { path: [`^src/(${[...LAYERS.slice(index + 1), 'otel'].join('|')})/`, FACADE] },
}));

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    ...upward,
    {
      name: 'no-circular',
      comment: 'No import cycles anywhere, type-only imports included.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'every-file-in-a-layer',
      comment: 'Only the facade (executor.ts, index.ts) sits at the top of src/; everything else lives in its layer folder.',
      severity: 'error',
      from: { path: '^src/[^/]+$', pathNot: FACADE },
      to: {},
    },
    {
      name: 'pool-and-below-without-opentelemetry',
      comment: 'Telemetry observes the pool from above: below telemetry/ a trace parent is an opaque value.',
      severity: 'error',
      from: { path: '^src/(core|command|ssh|config|pool)/' },
      to: { path: '@opentelemetry/' },
    },
    {
      name: 'otel-entry-stands-alone',
      comment: 'sshpool/otel is a separate entry: it must not pull the library in with it.',
      severity: 'error',
      from: { path: '^src/otel/' },
      to: { path: '^src/', pathNot: '^src/(otel|core)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports count: a layer must not even name a type from above it.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'types', 'node', 'default'], extensions: ['.ts', '.js'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
