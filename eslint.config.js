import neostandard, { plugins } from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['dist/**', 'coverage/**', '.tap/**', 'node_modules/**'] }),
  {
    files: ['**/*.ts'],
    plugins: { '@typescript-eslint': plugins['typescript-eslint'].plugin },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      // A schema and its type share one name (STYLE.md): TypeScript keeps values and types apart.
      '@typescript-eslint/no-redeclare': 'off',
      'no-redeclare': 'off',
      // `void reply.send()` marks a promise deliberately not awaited.
      'no-void': ['error', { allowAsStatement: true }]
    }
  }
]
