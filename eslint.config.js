// ESLint (npm run lint): the recommended JavaScript and typescript-eslint rules on the daemon, the
// bench, the tests and the scripts. Layout is prettier's (npm run format), not ESLint's.
import eslint from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'build/**', 'build-*/**', 'node_modules/**', '.arm/**', 'runs/**'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.node },
    rules: {
      // JSON payloads, MQTT messages and test fixtures are typed at their use, not at parse time
      '@typescript-eslint/no-explicit-any': 'off',
      // `const { dropped, ...kept } = x` is how a field is left out
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true, argsIgnorePattern: '^_' }],
      // binary formats (the outbox journal, WAV) match control bytes on purpose
      'no-control-regex': 'off',
      // an escaped bracket inside a character class reads more plainly than a bare one
      'no-useless-escape': 'off',
    },
  },
  { files: ['**/*.cjs'], languageOptions: { sourceType: 'commonjs' }, rules: { '@typescript-eslint/no-require-imports': 'off' } },
);
