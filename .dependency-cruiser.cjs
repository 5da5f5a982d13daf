// The dependency rules of DESIGN §2, enforced in `npm run check`.
const SERVICES = '(identity|agent|mesh|authz|secrets|tokens|dashboard)';
const TEST = '\\.test\\.ts$';
const IO_MODULES =
  '^(node:)?(fs|fs/promises|net|http|https|http2|tls|dgram|dns|child_process|cluster|worker_threads|process)$';

module.exports = {
  forbidden: [
    { name: 'no-cycles', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'core-imports-no-workspace-package',
      severity: 'error',
      from: { path: '^packages/core/' },
      to: { path: '^packages/(?!core/)' },
    },
    {
      name: 'core-does-no-io',
      comment: 'core is pure: node:crypto is allowed, I/O modules are not.',
      severity: 'error',
      from: { path: '^packages/core/src/', pathNot: TEST },
      to: { dependencyTypes: ['core'], path: IO_MODULES },
    },
    {
      name: 'api-imports-only-core',
      severity: 'error',
      from: { path: '^packages/api/', pathNot: TEST },
      to: { path: '^packages/(?!(api|core)/)' },
    },
    {
      name: 'store-imports-only-core',
      severity: 'error',
      from: { path: '^packages/store/', pathNot: TEST },
      to: { path: '^packages/(?!(store|core)/)' },
    },
    {
      name: 'services-import-core-api-store',
      severity: 'error',
      from: { path: `^packages/${SERVICES}/`, pathNot: TEST },
      to: { path: `^packages/(?!(core|api|store)/)`, pathNot: `^packages/$1/` },
    },
    {
      name: 'tests-import-their-layer-and-testing',
      comment:
        'Tests of api, store and services may also import @parley/testing, nothing else new.',
      severity: 'error',
      from: { path: `^packages/(api|store|${SERVICES.slice(1, -1)})/.*\\.test\\.ts$` },
      to: { path: `^packages/(?!(core|api|store|testing)/)`, pathNot: `^packages/$1/` },
    },
    {
      name: 'testing-is-a-dev-dependency',
      comment: 'Only tests (and bench) import @parley/testing.',
      severity: 'error',
      from: { path: '^packages/(?!testing/)', pathNot: TEST },
      to: { path: '^packages/testing/' },
    },
    {
      name: 'no-reaching-into-another-package',
      comment:
        'A package imports another only through its package name, never a relative path into it.',
      severity: 'error',
      from: { path: '^(packages/[^/]+|bench|e2e)/' },
      to: { dependencyTypes: ['local'], pathNot: '^$1/' },
    },
    {
      name: 'examples-import-no-parley-package',
      comment: 'The demo knows nothing of Parley: it talks plain HTTP through its sidecar.',
      severity: 'error',
      from: { path: '^examples/' },
      to: { path: '^packages/' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // Workspace packages resolve to their dist/ entry points: those are graph leaves, not cruised.
    doNotFollow: { path: ['node_modules', '(^|/)dist/'] },
    exclude: { path: '^(e2e|bench)/dist/|^e2e/peers/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.base.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'types', 'default', 'node'],
      extensions: ['.ts', '.js', '.d.ts'],
    },
  },
};
