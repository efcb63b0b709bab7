#!/usr/bin/env bash
# npm run lint: checks the sources' form without changing a file (CI runs it):
#   ESLint and prettier (TypeScript/JavaScript), clang-format (C++), black and flake8 (Python),
#   and the import rules of docs/architecture.md (tools/check-layers.ts).
# npm run format (`bash tools/lint.sh --fix`): rewrites the files to the formatters' layout.
# Files: what git tracks plus new files it does not ignore. clang-format, black and flake8 are
# Debian's (bash .ci/deps --install).
set -euo pipefail
cd "$(dirname "$0")/.."
fix=0
[[ ${1:-} == --fix ]] && fix=1

files() { git ls-files -z --cached --others --exclude-standard -- "$@" | xargs -0 -r ls -d 2>/dev/null | sort -u; }
mapfile -t JS < <(files '*.ts' '*.mjs' '*.cjs' '*.js')
mapfile -t CPP < <(files '*.cpp' '*.h')
mapfile -t PY < <(files '*.py')

status=0
step() {  # name, command...
  local name=$1
  shift
  if "$@"; then echo "lint: $name ok"; else echo "lint: $name FAILED" >&2; status=1; fi
}

if ((fix)); then
  npx prettier --log-level warn --write "${JS[@]}"
  clang-format -i "${CPP[@]}"
  black -q "${PY[@]}"
  echo "format: ${#JS[@]} TypeScript/JavaScript, ${#CPP[@]} C++ and ${#PY[@]} Python files laid out; npm run lint checks the rest"
  exit 0
fi
step eslint npx eslint --max-warnings 0 "${JS[@]}"
step prettier npx prettier --log-level warn --check "${JS[@]}"
clang_format_check() {  # names the files to lay out, not each line
  local f bad=0
  for f in "${CPP[@]}"; do
    clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || { echo "clang-format would change $f" >&2; bad=1; }
  done
  return $bad
}
step clang-format clang_format_check
step black black -q --check "${PY[@]}"
step flake8 flake8 "${PY[@]}"
step layers node --import=tsx tools/check-layers.ts
((status)) && echo "npm run format fixes the layout (prettier, clang-format, black); the rest is by hand" >&2
exit $status
