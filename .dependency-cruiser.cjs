// The dependency rules of DESIGN §2, enforced in `npm run check`.
const SERVICES = '(identity|agent|mesh|authz|secrets|tokens|dashboard)';
const IO_MODULES = '^(node:)?(fs|fs/promises|net|http|https|http2|tls|dgram|dns|child_process|cluster|worker_threads|process)$';

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
      from: { path: '^packages/core/src/' },
      to: { dependencyTypes: ['core'], path: IO_MODULES },
    },
    {
      name: 'api-imports-only-core',
      severity: 'error',
      from: { path: '^packages/api/' },
      to: { path: '^packages/(?!(api|core)/)' },
    },
    {
      name: 'store-imports-only-core',
      severity: 'error',
      from: { path: '^packages/store/' },
      to: { path: '^packages/(?!(store|core)/)' },
    },
    {
      name: 'services-import-core-api-store',
      severity: 'error',
      from: { path: `^packages/${SERVICES}/` },
      to: { path: `^packages/(?!(core|api|store)/)`, pathNot: `^packages/$1/` },
    },
    {
      name: 'testing-is-a-dev-dependency',
      comment: 'Only tests (and bench) import @parley/testing.',
      severity: 'error',
      from: { path: '^packages/(?!testing/)', pathNot: '\\.test\\.ts$' },
      to: { path: '^packages/testing/' },
    },
    {
      name: 'no-reaching-into-src',
      comment: "A package imports another only through its package name, never its src/ or dist/ by path.",
      severity: 'error',
      from: { path: '^packages/([^/]+)/' },
      to: { path: '^packages/([^/]+)/src/', pathNot: '^packages/$1/' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)dist/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.base.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'types', 'default', 'node'],
      extensions: ['.ts', '.js', '.d.ts'],
    },
  },
};
