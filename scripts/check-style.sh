#!/bin/sh
# Check (or, with --fix, apply) the house clang-format style on every C file
# that git tracks.
set -eu
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null 2>&1; then
	echo "check-style: clang-format not found (scripts/setup installs it)" >&2
	exit 1
fi
files=$(git ls-files '*.c' '*.h' 2>/dev/null || true)
[ -n "$files" ] || exit 0
if [ "${1:-}" = "--fix" ]; then
	# shellcheck disable=SC2086
	clang-format -i $files
	exit 0
fi
bad=0
for f in $files; do
	[ -f "$f" ] || continue
	if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
		echo "check-style: $f is not clang-format clean" \
		    "(scripts/check-style.sh --fix)" >&2
		bad=1
	fi
done
exit $bad
